from __future__ import annotations

import importlib
import pkgutil

import pytest
import serialtrail_contracts
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


def published_modules() -> dict[str, dict[tuple[str, int], type[EventContract]]]:
    """Every contracts module that publishes events (an `EVENTS` table)."""
    found = {}
    for module in pkgutil.iter_modules(serialtrail_contracts.__path__):
        events = getattr(importlib.import_module(f"serialtrail_contracts.{module.name}"), "EVENTS", None)
        if isinstance(events, dict):
            found[module.name] = events
    return found


def test_every_published_event_has_a_snapshot() -> None:
    """A module of events not listed in `schemas.snapshots` would publish events no snapshot pins."""
    modules = published_modules()
    assert {"serials", "fmd"} <= set(modules)  # it did find the modules
    pinned = {(s["x-event-type"], s["x-event-version"]) for n, s in snapshots().items() if "x-event-type" in s}
    missing = sorted(f"{name}: {key}" for name, events in modules.items() for key in events if key not in pinned)
    assert missing == []
