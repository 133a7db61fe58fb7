"""What line exceptions knows of the packaging hierarchy, learnt only from aggregation's events:
which parent each object is in now, and whether a parent is closed. A cascade takes out the
units below a parent by it; a hold's parents are checked against it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg
import orjson
from serialtrail_contracts.aggregation import ChildrenPacked, ChildrenUnpacked, ParentClosed
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore.model import RecordedEvent

from line_exceptions.domain.records import Contents
from line_exceptions.projections.knowledge import RM

SOURCE = "aggregation"
_PACKED, _UNPACKED, _CLOSED = ChildrenPacked.EVENT_TYPE, ChildrenUnpacked.EVENT_TYPE, ParentClosed.EVENT_TYPE


class HierarchyProjection:
    name = "hierarchy"
    source = SOURCE
    tables: tuple[str, ...] = ("parents", "contents")
    event_types = (_PACKED, _UNPACKED, _CLOSED)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.parents (parent_id text PRIMARY KEY, closed boolean NOT NULL);
        CREATE TABLE {schema}.contents (child_id text PRIMARY KEY, parent_id text NOT NULL);
        CREATE INDEX ON {schema}.contents (parent_id);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        """A pallet packed is 51 events: what they change is gathered and written in one statement
        per table, each object's last change winning as if applied one by one. Only an unpack
        writes at once, after the packs before it (it deletes what they may have placed)."""
        # Each event's fields named here are in every version of its contract: no upcasting needed.
        placed: dict[str, str] = {}  # child → parent, packed since the last unpack
        closed: dict[str, bool] = {}  # parent → whether it is closed now
        for recorded in events:
            payload = recorded.payload
            parent = payload["parent_id"]
            closed[parent] = recorded.event_type == _CLOSED  # packing into or unpacking from one reopens it
            if recorded.event_type == _PACKED:
                placed.update(dict.fromkeys(payload["child_ids"], parent))
            elif recorded.event_type == _UNPACKED:
                await _place(conn, schema, placed)
                placed = {}
                await _take_out(conn, schema, parent, payload["child_ids"])
        await _place(conn, schema, placed)
        await _parents(conn, schema, closed)


async def _place(conn: Connection, schema: str, placed: dict[str, str]) -> None:
    """Children into their parents, sent grouped by parent (each parent's id once). A child is
    in one parent at a time (aggregation records an unpack before it packs it elsewhere), so a
    plain insert places them: it costs half what an upsert does, which checks every row for a
    conflict before inserting it. Should a child be found placed already, the upsert moves it,
    as the events say."""
    if not placed:
        return
    by_parent: dict[str, list[str]] = {}
    for child, parent in placed.items():
        by_parent.setdefault(parent, []).append(child)
    children = orjson.dumps(by_parent).decode()
    try:
        async with conn.transaction():  # a savepoint: a conflict must not lose the batch's transaction
            await conn.execute(_PLACE.format(schema=schema), children)
    except asyncpg.UniqueViolationError:
        await conn.execute(_PLACE.format(schema=schema) + _MOVING, children)


_PLACE = """
INSERT INTO {schema}.contents (child_id, parent_id)
SELECT c, p.key FROM json_each($1::json) AS p, json_array_elements_text(p.value) AS c
"""
_MOVING = "ON CONFLICT (child_id) DO UPDATE SET parent_id = EXCLUDED.parent_id"


async def _take_out(conn: Connection, schema: str, parent: str, children: Sequence[str]) -> None:
    await conn.execute(
        f"DELETE FROM {schema}.contents WHERE parent_id = $2 "
        "AND child_id IN (SELECT json_array_elements_text($1::json))",
        json_list(children),
        parent,
    )


async def _parents(conn: Connection, schema: str, closed: dict[str, bool]) -> None:
    if not closed:
        return
    await conn.execute(
        f"INSERT INTO {schema}.parents SELECT key, value::boolean FROM json_each_text($1::json) "
        "ON CONFLICT (parent_id) DO UPDATE SET closed = EXCLUDED.closed",
        orjson.dumps(closed).decode(),
    )


async def contents(conn: Connection, parent_ids: Iterable[str]) -> dict[str, Contents]:
    """For each parent: whether it is known, which parents at or below it are open, and the
    objects at the bottom of everything below it, in one round trip."""
    rows = await conn.fetch(
        f"""
        WITH RECURSIVE walk(root, node) AS (
            SELECT p, p FROM json_array_elements_text($1::json) AS p
            UNION ALL
            SELECT w.root, c.child_id FROM walk w JOIN {RM}.contents c ON c.parent_id = w.node
        )
        SELECT w.root, w.node, p.closed FROM walk w LEFT JOIN {RM}.parents p ON p.parent_id = w.node
        """,
        json_list(sorted(set(parent_ids))),
    )
    seen: dict[str, list[tuple[str, bool | None]]] = {}
    for row in rows:
        seen.setdefault(row["root"], []).append((row["node"], row["closed"]))
    found: dict[str, Contents] = {}
    for root, nodes in seen.items():
        closed_of = dict(nodes)
        found[root] = Contents(
            known=closed_of.get(root) is not None,
            open_parents=tuple(n for n, closed in nodes if closed is False),
            units=tuple(n for n, closed in nodes if closed is None and n != root),
        )
    return found
