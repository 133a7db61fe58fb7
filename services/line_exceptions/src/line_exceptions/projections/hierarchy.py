"""What line exceptions knows of the packaging hierarchy, learnt only from aggregation's events:
which parent each object is in now, and whether a parent is closed. A cascade takes out the
units below a parent by it; a hold's parents are checked against it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
        # Each event's fields named here are in every version of its contract: no upcasting needed.
        for recorded in events:
            payload = recorded.payload
            if recorded.event_type == _CLOSED:
                await _parent(conn, schema, payload["parent_id"], closed=True)
            elif recorded.event_type == _PACKED:
                await _parent(conn, schema, payload["parent_id"], closed=False)
                await conn.execute(
                    f"INSERT INTO {schema}.contents (child_id, parent_id) "
                    "SELECT c, $2 FROM json_array_elements_text($1::json) AS c "
                    "ON CONFLICT (child_id) DO UPDATE SET parent_id = EXCLUDED.parent_id",
                    json_list(payload["child_ids"]),
                    payload["parent_id"],
                )
            elif recorded.event_type == _UNPACKED:  # taking children out reopens the parent
                await _parent(conn, schema, payload["parent_id"], closed=False)
                await conn.execute(
                    f"DELETE FROM {schema}.contents WHERE parent_id = $2 "
                    "AND child_id IN (SELECT json_array_elements_text($1::json))",
                    json_list(payload["child_ids"]),
                    payload["parent_id"],
                )


async def _parent(conn: Connection, schema: str, parent_id: str, *, closed: bool) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.parents VALUES ($1, $2) ON CONFLICT (parent_id) DO UPDATE SET closed = $2",
        parent_id,
        closed,
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
