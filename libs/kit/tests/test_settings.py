"""Production refuses a service without its databases, not a process that needs none (the gateway)."""

from __future__ import annotations

import pytest
from serialtrail_kit.composition import refuse_unsafe
from serialtrail_kit.settings import Environment, Settings


def test_production_needs_both_databases_for_a_service_only() -> None:
    bare = Settings.model_validate({"environment": Environment.production})  # what the gateway runs with
    with pytest.raises(ValueError, match="DATABASE_URL must be set") as refused:
        refuse_unsafe(bare, {})
    assert "SERIALTRAIL_APP_DATABASE_URL must be set" in str(refused.value)
    complete = Settings.model_validate(
        {
            "environment": Environment.production,
            "database_url": "postgresql://owner:pw@db/serialtrail",
            "app_database_url": "postgresql://service:pw@db/serialtrail",
        }
    )
    refuse_unsafe(complete, {})
    assert Settings.model_validate({"environment": Environment.development}).production_problems() == []
