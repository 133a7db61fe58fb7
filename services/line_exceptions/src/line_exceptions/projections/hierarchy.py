"""What line exceptions knows of the packaging hierarchy, learnt only from aggregation's events:
which parent each object is in now, and whether a parent is closed. A cascade takes out the
units below a parent by it; a hold's parents are checked against it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson
from serialtrail_contracts.aggregation import ChildrenPacked, ChildrenUnpacked, ParentClosed
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore.model import RecordedEvent

from line_exceptions.domain.records import Contents
from line_exceptions.projections.knowledge import RM

SOURCE = "aggregation"
_PACKED, _UNPACKED, _CLOSED = ChildrenPacked.EVENT_TYPE, ChildrenUnpacked.EVENT_TYPE, ParentClosed.EVENT_TYPE


class HierarchyProjection:
    """A row per parent, its children in an array: packing a pallet writes 51 rows, not a row
    and two index entries for each of its 5,000 units (as much of PostgreSQL's time as
    aggregation's own links, measured in issue 9), and what is below a parent, all this read
    model is asked, is found from the parents alone. A child is in one parent at a time:
    aggregation records an unpack before it packs the child elsewhere."""

    name = "hierarchy"
    source = SOURCE
    tables: tuple[str, ...] = ("parents",)
    event_types = (_PACKED, _UNPACKED, _CLOSED)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.parents (
            parent_id text PRIMARY KEY, closed boolean NOT NULL, child_ids text[] NOT NULL
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        """What a batch changes is gathered and written in one statement: each parent's state
        as its last event left it, the children packed into it appended. An unpack takes its
        children out at once, after what was gathered before it (it may name those children)."""
        # Each event's fields named here are in every version of its contract: no upcasting needed.
        changed: dict[str, _Change] = {}
        for recorded in events:
            payload = recorded.payload
            change = changed.setdefault(payload["parent_id"], _Change())
            change.closed = recorded.event_type == _CLOSED  # packing into or unpacking from one reopens it
            if recorded.event_type == _PACKED:
                change.packed += payload["child_ids"]
            elif recorded.event_type == _UNPACKED:
                await _write(conn, schema, changed)
                changed = {}
                await _take_out(conn, schema, payload["parent_id"], payload["child_ids"])
        await _write(conn, schema, changed)


@dataclass
class _Change:
    closed: bool = False
    packed: list[str] = field(default_factory=list)


async def _write(conn: Connection, schema: str, changed: dict[str, _Change]) -> None:
    if not changed:
        return
    await conn.execute(
        f"""
        INSERT INTO {schema}.parents AS t (parent_id, closed, child_ids)
        SELECT key, (value->>'closed')::boolean, ARRAY(SELECT json_array_elements_text(value->'packed'))
        FROM json_each($1::json)
        ON CONFLICT (parent_id) DO UPDATE SET closed = EXCLUDED.closed, child_ids = t.child_ids || EXCLUDED.child_ids
        """,
        orjson.dumps({parent: {"closed": c.closed, "packed": c.packed} for parent, c in changed.items()}).decode(),
    )


async def _take_out(conn: Connection, schema: str, parent: str, children: Sequence[str]) -> None:
    """Closed or not, a parent children are taken out of is open."""
    await conn.execute(
        f"UPDATE {schema}.parents SET closed = false, child_ids = ARRAY("
        "SELECT unnest(child_ids) EXCEPT SELECT json_array_elements_text($1::json)) WHERE parent_id = $2",
        json_list(children),
        parent,
    )


async def contents(conn: Connection, parent_ids: Iterable[str]) -> dict[str, Contents]:
    """For each parent: whether it is known, which parents at or below it are open, and the
    objects at the bottom of everything below it, in one round trip."""
    rows = await conn.fetch(
        f"""
        WITH RECURSIVE walk(root, node) AS (
            SELECT p, p FROM json_array_elements_text($1::json) AS p
            UNION ALL
            SELECT w.root, c FROM walk w JOIN {RM}.parents p ON p.parent_id = w.node, unnest(p.child_ids) AS c
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
