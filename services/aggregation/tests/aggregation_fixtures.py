from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aggregation import bootstrap
from serialtrail_kit.testing.harness import Harness, serve


@pytest.fixture
async def aggregation(database_dsn: str) -> AsyncIterator[Harness]:
    """Aggregation alone: what serial issuance publishes is written to its log by the test,
    exactly as the producer would, so every arrival order can be staged."""
    async with serve(database_dsn, {bootstrap.NAME: bootstrap.build}) as harness:
        yield harness
