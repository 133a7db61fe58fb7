"""The current hierarchy as the write side needs it: who holds whom, and each parent's
state. Written in the same transaction as the events (under the log's append lock), so
"a child is in at most one parent" and "no cycles" hold even under concurrent requests.
A fold of the log like any read model; the read side keeps the history separately."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg
from serialtrail_contracts.aggregation import ChildrenPacked, ChildrenUnpacked, PackagingLevel, ParentClosed
from serialtrail_kit.db import APP_ROLE, Connection, json_elements, json_list

from aggregation.domain.hierarchy import MAX_DEPTH, Hierarchy, ParentState

SCHEMA = "aggregation"

DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.parents (
    parent text PRIMARY KEY, level text NOT NULL, closed boolean NOT NULL,
    child_count integer NOT NULL, version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.contents (child text PRIMARY KEY, parent text NOT NULL);
CREATE INDEX IF NOT EXISTS contents_by_parent ON {SCHEMA}.contents (parent);
GRANT SELECT, INSERT, UPDATE, DELETE ON {SCHEMA}.parents, {SCHEMA}.contents TO {APP_ROLE};
"""

Change = ChildrenPacked | ChildrenUnpacked | ParentClosed


class AlreadyPacked(Exception):
    """Some child turned out to be in a parent already: the decision was made without
    loading every child's place (the fast path), so it must be made again with it."""


async def install(conn: Connection) -> None:
    await conn.execute(DDL)


async def load(conn: Connection, ids: Iterable[str], whole: Iterable[str] = ()) -> Hierarchy:
    """The parents of `ids` and all their ancestors, the state of every parent among them,
    and the full contents of the parents in `whole`."""
    ids = list(set(ids))
    rows = await conn.fetch(
        f"""
        WITH RECURSIVE up(child, parent, depth) AS (
            SELECT child, parent, 1 FROM {SCHEMA}.contents WHERE child = ANY({json_elements("$1")})
            UNION
            SELECT c.child, c.parent, up.depth + 1 FROM {SCHEMA}.contents c JOIN up ON c.child = up.parent
            WHERE up.depth < $2
        )
        SELECT DISTINCT child, parent FROM up
        """,
        json_list(ids),
        MAX_DEPTH,
    )
    h = Hierarchy(parent_of={r["child"]: r["parent"] for r in rows})
    whole = list(set(whole))
    if whole:
        for r in await conn.fetch(f"SELECT child, parent FROM {SCHEMA}.contents WHERE parent = ANY($1::text[])", whole):
            h.parent_of[r["child"]] = r["parent"]
            h.children_of.setdefault(r["parent"], set()).add(r["child"])
    states = await conn.fetch(f"SELECT * FROM {SCHEMA}.parents WHERE parent = ANY($1::text[])", ids + whole)
    h.parents = {
        r["parent"]: ParentState(PackagingLevel(r["level"]), r["closed"], r["child_count"], r["version"])
        for r in states
    }
    return h


async def record(conn: Connection, changes: Sequence[Change], h: Hierarchy, versions: dict[str, int]) -> None:
    """Apply decided changes: contents row by row in bulk, parents from the decided states."""
    packs = [e for e in changes if isinstance(e, ChildrenPacked)]
    unpacked = [c for e in changes if isinstance(e, ChildrenUnpacked) for c in e.child_ids]
    if unpacked:
        await conn.execute(
            f"DELETE FROM {SCHEMA}.contents WHERE child = ANY({json_elements('$1')})", json_list(unpacked)
        )
    if packs:
        try:
            await conn.execute(
                f"INSERT INTO {SCHEMA}.contents (child, parent) "
                f"SELECT * FROM unnest({json_elements('$1')}, {json_elements('$2')})",
                json_list([child for e in packs for child in e.child_ids]),
                json_list([e.parent_id for e in packs for _ in e.child_ids]),
            )
        except asyncpg.UniqueViolationError as error:  # the transaction is lost; the caller starts again
            raise AlreadyPacked from error
    touched = sorted(versions)
    states = [h.state(p) for p in touched]
    await conn.execute(
        f"""
        INSERT INTO {SCHEMA}.parents (parent, level, closed, child_count, version)
        SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::int[], $5::int[])
        ON CONFLICT (parent) DO UPDATE SET level = EXCLUDED.level, closed = EXCLUDED.closed,
            child_count = EXCLUDED.child_count, version = EXCLUDED.version
        """,
        touched,
        [str(s.level) for s in states],
        [s.closed for s in states],
        [s.child_count for s in states],
        [versions[p] for p in touched],
    )
