"""The hierarchy read model, with history: every link a parent holds, and every link it ever
held from the pack that made it to the unpack that ended it, so a tree can be shown as it
was at any time. A pure
fold of the aggregation log; consecutive packs are written in one statement.

`pending` says whether the child was unknown when packed. Knowing an object is monotonic
(commissioning and allocation are never taken back), so a link packed as known is confirmed
for good and only pending ones need a lookup when read: the derived status is the same
whichever arrived first, and a 5,000-unit pallet is read without 5,000 lookups."""

from __future__ import annotations

from collections.abc import Sequence

from serialtrail_contracts import aggregation
from serialtrail_contracts.aggregation import ChildrenPacked, ChildrenUnpacked, ParentClosed
from serialtrail_gs1.identity import CANONICAL_RESOLVER
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.model import RecordedEvent

SOURCE = "aggregation"
SGTIN_PREFIX = f"{CANONICAL_RESOLVER}/01/"  # canonical SGTIN URIs: the GTIN's 14 digits follow


class HierarchyProjection:
    name = "hierarchy"
    source = SOURCE
    tables: tuple[str, ...] = ("links", "past_links", "parent_states", "pending_lots")

    def ddl(self, schema: str) -> str:
        # Current and past links live apart: the table every pack writes to keeps two indexes,
        # and history is only read for trees "as they were".
        return f"""
        CREATE TABLE {schema}.links (
            child text PRIMARY KEY, parent text NOT NULL, child_gtin text, pending boolean NOT NULL,
            packed_at timestamptz NOT NULL, packed_position bigint NOT NULL
        );
        CREATE INDEX ON {schema}.links (parent);
        CREATE INDEX ON {schema}.links (child_gtin) WHERE pending;
        CREATE TABLE {schema}.past_links (
            child text NOT NULL, parent text NOT NULL, child_gtin text, pending boolean NOT NULL,
            packed_at timestamptz NOT NULL, packed_position bigint NOT NULL,
            unpacked_at timestamptz NOT NULL, unpacked_position bigint NOT NULL,
            PRIMARY KEY (child, packed_position)
        );
        CREATE INDEX ON {schema}.past_links (parent);
        -- The lot a pending child's scan carried, while it is packed: checked on read against
        -- the lot its commissioning names (a mismatch makes the link an error).
        CREATE TABLE {schema}.pending_lots (child text PRIMARY KEY, lot text NOT NULL);
        CREATE TABLE {schema}.parent_states (
            parent text PRIMARY KEY, level text NOT NULL, line_id text NOT NULL, closed boolean NOT NULL,
            closed_at timestamptz, expected_count int, first_packed_at timestamptz NOT NULL,
            last_position bigint NOT NULL
        );
        -- Which units are parents (bundles, cases with a GTIN): a tree walk asks it of every leaf.
        CREATE INDEX ON {schema}.parent_states (parent) WHERE parent LIKE '{SGTIN_PREFIX}%';
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
    # One JSON record per event; PostgreSQL expands the children, so the values every child of
    # an event shares are sent and parsed once.
    events = [
        {
            "parent": event.parent_id,
            "packed_at": event.event_time.isoformat(),
            "position": recorded.global_position,
            "children": event.child_ids,
            "pending": event.pending_child_ids,
        }
        for recorded, event in packs
    ]
    await conn.execute(
        f"""
        INSERT INTO {schema}.links (child, parent, child_gtin, pending, packed_at, packed_position)
        SELECT c.child, e.parent,
               CASE WHEN left(c.child, {len(SGTIN_PREFIX)}) = '{SGTIN_PREFIX}'
                    THEN substr(c.child, {len(SGTIN_PREFIX) + 1}, 14) END,
               json_array_length(e.pending) > 0 AND c.child IN (SELECT json_array_elements_text(e.pending)),
               e.packed_at, e.position
        FROM json_to_recordset($1::json)
             AS e(parent text, packed_at timestamptz, position bigint, children json, pending json)
        CROSS JOIN LATERAL json_array_elements_text(e.children) AS c(child)
        """,
        json_list(events),
    )
    lots = [(child, lot) for _, event in packs for child, lot in event.scanned_lots.items()]
    if lots:
        await conn.executemany(
            f"INSERT INTO {schema}.pending_lots VALUES ($1, $2) ON CONFLICT (child) DO UPDATE SET lot = EXCLUDED.lot",
            lots,
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
    await conn.execute(f"DELETE FROM {schema}.pending_lots WHERE child = ANY($1::text[])", list(event.child_ids))
    await conn.execute(
        f"WITH gone AS (DELETE FROM {schema}.links WHERE parent = $1 AND child = ANY($2::text[]) RETURNING *) "
        f"INSERT INTO {schema}.past_links "
        "SELECT child, parent, child_gtin, pending, packed_at, packed_position, $3, $4 FROM gone",
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
