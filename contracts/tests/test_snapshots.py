from __future__ import annotations

import pytest
from pydantic import ValidationError
from serialtrail_contracts import serials
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.schemas import SNAPSHOT_DIR, render, snapshots


def test_schema_snapshots_match_the_models() -> None:
    """Fails when a contract changed without `make schemas` (or a snapshot was hand-edited)."""
    expected = snapshots()
    for name, schema in expected.items():
        path = SNAPSHOT_DIR / name
        assert path.exists(), f"missing snapshot {name}: run `make schemas`"
        assert path.read_text() == render(schema), f"snapshot {name} drifted from its model: run `make schemas`"
    committed = {str(p.relative_to(SNAPSHOT_DIR)) for p in SNAPSHOT_DIR.rglob("*.json")}
    assert committed == set(expected), f"stale snapshots: {sorted(committed - set(expected))}"


@pytest.mark.parametrize("model", list(serials.EVENTS.values()))
def test_contracts_are_frozen_keyword_only_and_closed(model: type[EventContract]) -> None:
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"
    assert "." in model.EVENT_TYPE
    assert not model.EVENT_TYPE.startswith(("serial_issuance.", "serialtrail_"))
    with pytest.raises(TypeError):
        model(*["positional"])
    with pytest.raises(ValidationError):
        model.model_validate({"surprise": 1})


def test_a_contract_instance_cannot_be_changed() -> None:
    event = serials.BatchRegistered(gtin="09506000134352", lot="L1", expiry="2030-01-31", site_gln="9506000000005")
    with pytest.raises(ValidationError):
        event.lot = "L2"  # type: ignore[misc]
