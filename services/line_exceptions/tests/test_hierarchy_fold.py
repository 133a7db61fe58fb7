"""The hierarchy read model folds a batch of aggregation's events in a few statements: the
result must be what folding them one by one gives, whatever the order of packs, unpacks
and closes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from line_exceptions.projections.hierarchy import HierarchyProjection
from serialtrail_contracts.aggregation import ChildrenPacked, ChildrenUnpacked, ParentClosed
from serialtrail_kit.eventstore.model import RecordedEvent


def _event(position: int, event_type: str, payload: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        global_position=position,
        stream_id=f"s-{position}",
        stream_version=1,
        event_id=uuid.uuid4(),
        event_type=event_type,
        event_version=1,
        payload=payload,
        metadata={},
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        prev_hash=b"",
        hash=b"",
    )


def _packed(parent: str, *children: str) -> dict[str, Any]:
    return {"parent_id": parent, "child_ids": list(children)}


EVENTS = [
    (ChildrenPacked.EVENT_TYPE, _packed("case-1", "u1", "u2", "u3")),
    (ChildrenPacked.EVENT_TYPE, _packed("case-2", "u4")),
    (ParentClosed.EVENT_TYPE, {"parent_id": "case-1"}),
    (ChildrenPacked.EVENT_TYPE, _packed("pallet", "case-1", "case-2")),
    (ParentClosed.EVENT_TYPE, {"parent_id": "case-2"}),
    (ChildrenUnpacked.EVENT_TYPE, _packed("case-1", "u2")),  # reopens case-1
    (ChildrenPacked.EVENT_TYPE, _packed("case-2", "u2")),  # reopens case-2
    (ChildrenUnpacked.EVENT_TYPE, _packed("case-2", "u4")),
    (ChildrenPacked.EVENT_TYPE, _packed("case-3", "u4", "u5")),
    (ParentClosed.EVENT_TYPE, {"parent_id": "case-3"}),
    (ParentClosed.EVENT_TYPE, {"parent_id": "pallet"}),
]


async def _folded(conn: asyncpg.Connection, schema: str, batches: list[list[RecordedEvent]]) -> list[Any]:
    """Each parent, whether it is closed, and its children (in no particular order)."""
    projection = HierarchyProjection()
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.execute(projection.ddl(schema))
    for batch in batches:
        await projection.apply(conn, schema, batch)
    rows = await conn.fetch(f"SELECT parent_id, closed, child_ids FROM {schema}.parents ORDER BY parent_id")
    return [(r["parent_id"], r["closed"], sorted(r["child_ids"])) for r in rows]


async def test_a_batch_folds_as_its_events_one_by_one(database_dsn: str) -> None:
    events = [_event(position, kind, payload) for position, (kind, payload) in enumerate(EVENTS, 1)]
    conn = await asyncpg.connect(database_dsn)
    try:
        together = await _folded(conn, "together", [events])
        one_by_one = await _folded(conn, "one_by_one", [[event] for event in events])
    finally:
        await conn.close()
    assert together == one_by_one
    assert together == [
        ("case-1", False, ["u1", "u3"]),
        ("case-2", False, ["u2"]),
        ("case-3", True, ["u4", "u5"]),
        ("pallet", True, ["case-1", "case-2"]),
    ]
