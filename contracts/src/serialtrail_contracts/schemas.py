"""JSON Schema snapshots of the contracts: generated, committed, and compared in CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from serialtrail_contracts import aggregation, epcis, exceptions, fmd, identity, serials
from serialtrail_contracts.envelope import Envelope

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def snapshots() -> dict[str, dict[str, Any]]:
    """Relative file name → JSON Schema, for every published model."""
    result = {"envelope.v1.json": Envelope.model_json_schema()}
    published = (
        ("identity", identity.EVENTS),
        ("serials", serials.EVENTS),
        ("aggregation", aggregation.EVENTS),
        ("exceptions", exceptions.EVENTS),
        ("reporting", epcis.EVENTS),
        ("fmd", fmd.EVENTS),
    )
    for topic, events in published:
        for (event_type, version), model in events.items():
            schema = model.model_json_schema()
            schema["x-event-type"], schema["x-event-version"] = event_type, version
            result[f"{topic}/{event_type}.v{version}.json"] = schema
    return result


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_snapshots(directory: Path = SNAPSHOT_DIR) -> list[Path]:
    written = []
    for name, schema in snapshots().items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(schema))
        written.append(path)
    return written
