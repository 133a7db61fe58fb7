"""The hierarchy read model, with history: every link a parent ever held, from the pack that
made it to the unpack that ended it, so a tree can be shown as it was at any time. A pure
fold of the aggregation log; consecutive packs are written in one statement.

`pending` says whether the child was unknown when packed. Knowing an object is monotonic
(commissioning and allocation are never taken back), so a link packed as known is confirmed
for good and only pending ones need a lookup when read: the derived status is the same
whichever arrived first, and a 5,000-unit pallet is read without 5,000 lookups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serialtrail_contracts import aggregation
from serialtrail_contracts.aggregation import ChildrenPacked, ChildrenUnpacked, ParentClosed
from serialtrail_kit.db import Connection, json_elements, json_list
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.model import RecordedEvent

SOURCE = "aggregation"
SGTIN_MARK = "/01/"


def gtin_of(uri: str) -> str | None:
    """The GTIN inside a canonical SGTIN Digital Link URI (None for an SSCC)."""
    at = uri.find(SGTIN_MARK)
    return uri[at + 4 : at + 18] if at >= 0 else None


class HierarchyProjection:
    name = "hierarchy"
    source = SOURCE
    tables: tuple[str, ...] = ("links", "parent_states")

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.links (
            child text NOT NULL, parent text NOT NULL, child_gtin text, pending boolean NOT NULL,
            packed_at timestamptz NOT NULL, packed_position bigint NOT NULL,
            unpacked_at timestamptz, unpacked_position bigint,
            PRIMARY KEY (child, packed_position)
        );
        -- Current links by parent (partial, so the planner walks trees through it even before
        -- statistics exist), and every link by parent for trees as they were.
        CREATE INDEX ON {schema}.links (parent) WHERE unpacked_position IS NULL;
        CREATE INDEX ON {schema}.links (parent, packed_at);
        CREATE INDEX ON {schema}.links (child_gtin) WHERE pending AND unpacked_position IS NULL;
        CREATE TABLE {schema}.parent_states (
            parent text PRIMARY KEY, level text NOT NULL, line_id text NOT NULL, closed boolean NOT NULL,
            closed_at timestamptz, expected_count int, first_packed_at timestamptz NOT NULL,
            last_position bigint NOT NULL
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        packs: list[tuple[RecordedEvent, ChildrenPacked]] = []
        for recorded in events:
            event = codec.decode(aggregation.EVENTS, recorded)
            if isinstance(event, ChildrenPacked):
                packs.append((recorded, event))
                continue
            await _flush_packs(conn, schema, packs)
            packs = []
            if isinstance(event, ChildrenUnpacked):
                await _unpacked(conn, schema, recorded, event)
            elif isinstance(event, ParentClosed):
                await _closed(conn, schema, recorded, event)
        await _flush_packs(conn, schema, packs)


async def _flush_packs(conn: Connection, schema: str, packs: list[tuple[RecordedEvent, ChildrenPacked]]) -> None:
    if not packs:
        return
    children = [child for _, event in packs for child in event.child_ids]
    pending = {child for _, event in packs for child in event.pending_child_ids}
    columns: tuple[list[Any], ...] = (
        children,
        [event.parent_id for _, event in packs for _ in event.child_ids],
        [gtin_of(child) for child in children],
        [child in pending for child in children],
        [event.event_time for _, event in packs for _ in event.child_ids],
        [recorded.global_position for recorded, event in packs for _ in event.child_ids],
    )
    await conn.execute(
        f"INSERT INTO {schema}.links (child, parent, child_gtin, pending, packed_at, packed_position) "
        "SELECT * FROM unnest("
        + ", ".join(
            json_elements(f"${n}", sql_type)
            for n, sql_type in enumerate(("text", "text", "text", "boolean", "timestamptz", "bigint"), start=1)
        )
        + ")",
        *map(json_list, columns),
    )
    await conn.executemany(
        f"""
        INSERT INTO {schema}.parent_states (parent, level, line_id, closed, first_packed_at, last_position)
        VALUES ($1, $2, $3, false, $4, $5)
        ON CONFLICT (parent) DO UPDATE SET closed = false, last_position = EXCLUDED.last_position
        """,
        [(e.parent_id, e.packaging_level.value, e.line_id, e.event_time, r.global_position) for r, e in packs],
    )


async def _unpacked(conn: Connection, schema: str, recorded: RecordedEvent, event: ChildrenUnpacked) -> None:
    await conn.execute(
        f"UPDATE {schema}.links SET unpacked_at = $3, unpacked_position = $4 "
        "WHERE parent = $1 AND child = ANY($2::text[]) AND unpacked_position IS NULL",
        event.parent_id,
        list(event.child_ids),
        event.event_time,
        recorded.global_position,
    )
    await conn.execute(
        f"UPDATE {schema}.parent_states SET closed = false, closed_at = NULL, expected_count = NULL, "
        "last_position = $2 WHERE parent = $1",
        event.parent_id,
        recorded.global_position,
    )


async def _closed(conn: Connection, schema: str, recorded: RecordedEvent, event: ParentClosed) -> None:
    await conn.execute(
        f"UPDATE {schema}.parent_states SET closed = true, closed_at = $2, expected_count = $3, last_position = $4 "
        "WHERE parent = $1",
        event.parent_id,
        event.event_time,
        event.expected_count,
        recorded.global_position,
    )
