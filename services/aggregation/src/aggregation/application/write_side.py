"""The current hierarchy as the write side needs it: who holds whom, and each parent's
state. Folded from the events in the same transaction as they are appended (under the log's
append lock), so "a child is in at most one parent" and "no cycles" hold even under
concurrent requests; rebuilt from the log when its tables change. The read side keeps the
history separately."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from serialtrail_contracts.aggregation import ChildrenPacked, ChildrenUnpacked, PackagingLevel, ParentClosed
from serialtrail_gs1.identity import CANONICAL_RESOLVER
from serialtrail_kit.db import Connection, json_elements, json_list
from serialtrail_kit.eventstore.model import RecordedEvent

from aggregation.domain.hierarchy import MAX_DEPTH, Hierarchy, ParentState

SCHEMA = "aggregation"

Change = ChildrenPacked | ChildrenUnpacked | ParentClosed


# Ids are stored without the resolver every canonical URI starts with (`/01/…/21/…`, `/00/…`):
# a pallet writes 5,000 keys under the append lock, and the prefix was ~12 % of their insert.
_RESOLVED = len(CANONICAL_RESOLVER)


def _key(uri: str) -> str:
    return uri[_RESOLVED:] if uri.startswith(CANONICAL_RESOLVER) else uri


def _keys(uris: Iterable[str]) -> list[str]:
    return [_key(uri) for uri in uris]


def _uri(key: str) -> str:
    """A stored key's URI: a key that starts with a slash lost its resolver (no URI starts so)."""
    return CANONICAL_RESOLVER + key if key.startswith("/") else key


class AlreadyPacked(Exception):
    """Some child turned out to be in a parent already: the decision was made without
    loading every child's place (the fast path), so it must be made again with it."""


class Holdings:
    """Who holds whom, and each parent's state, folded from the log as events are appended."""

    name = "holdings"
    tables: tuple[str, ...] = ("parents", "contents")

    def ddl(self, schema: str) -> str:
        return f"""
        -- Every id is stored as its canonical URI without the resolver (`_key`).
        CREATE TABLE {schema}.parents (
            parent text PRIMARY KEY, level text NOT NULL, closed boolean NOT NULL,
            child_count integer NOT NULL, version integer NOT NULL,
            last_event_at timestamptz NOT NULL  -- the latest event time recorded for it (unpack/close not before)
        );
        CREATE TABLE {schema}.contents (child text PRIMARY KEY, parent text NOT NULL);
        CREATE INDEX contents_by_parent ON {schema}.contents (parent);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        """Contents row by row in bulk; each touched parent's state once, from its events in order.
        A batch is folded in runs whose unpacks all come before their packs (a request's events
        are one run): a child packed and then unpacked in one batch (a rebuild folds the whole
        log in batches) is deleted after it was inserted, not before."""
        for run in _runs(events):
            await _apply(conn, schema, run)


def _runs(events: Sequence[RecordedEvent]) -> Iterator[Sequence[RecordedEvent]]:
    """The events in order, cut before each unpack that follows a pack."""
    start, packed = 0, False
    for index, event in enumerate(events):
        if event.event_type == ChildrenUnpacked.EVENT_TYPE and packed:
            yield events[start:index]
            start, packed = index, False
        packed = packed or event.event_type == ChildrenPacked.EVENT_TYPE
    if start < len(events):
        yield events[start:]


async def _apply(conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
    """Events none of whose unpacks follows one of their packs: the unpacked children are
    deleted first, then the packed ones inserted with their parents' states."""
    packs = [e.payload for e in events if e.event_type == ChildrenPacked.EVENT_TYPE]
    unpacked = _keys(c for e in events if e.event_type == ChildrenUnpacked.EVENT_TYPE for c in e.payload["child_ids"])
    if unpacked:
        await conn.execute(
            f"DELETE FROM {schema}.contents WHERE child = ANY({json_elements('$1')})", json_list(unpacked)
        )
    # The contents and the parents' states in one statement: this runs under the log's
    # append lock, where every round trip is time no other writer can use.
    # One JSON record per pack: its parent is sent once, not once per child.
    contents, rows = "", []
    if packs:
        contents = (
            f"WITH packed AS (INSERT INTO {schema}.contents (child, parent) "
            "SELECT c.child, e.parent FROM json_to_recordset($7::json) AS e(parent text, children json) "
            "CROSS JOIN LATERAL json_array_elements_text(e.children) AS c(child)) "
        )
        rows = [json_list([{"parent": _key(p["parent_id"]), "children": _keys(p["child_ids"])} for p in packs])]
    try:
        await _parents(conn, schema, _changes(events), contents, rows)
    except asyncpg.UniqueViolationError as error:  # a child packed already: the transaction is lost
        raise AlreadyPacked from error


@dataclass
class _ParentChange:
    level: str | None = None  # set by a pack
    closed: bool | None = None  # set by a close (True) or an unpack (False)
    delta: int = 0
    version: int = 0
    at: datetime | None = None  # the latest event time among these events


_CHANGES = frozenset({ChildrenPacked.EVENT_TYPE, ChildrenUnpacked.EVENT_TYPE, ParentClosed.EVENT_TYPE})


def _changes(events: Sequence[RecordedEvent]) -> dict[str, _ParentChange]:
    changes: dict[str, _ParentChange] = {}
    for event in events:
        if event.event_type not in _CHANGES:  # a capture's decision: it changes no parent
            continue
        change = changes.setdefault(event.payload["parent_id"], _ParentChange())
        change.version = event.stream_version
        at = datetime.fromisoformat(event.payload["event_time"])
        change.at = at if change.at is None else max(change.at, at)
        if event.event_type == ChildrenPacked.EVENT_TYPE:
            change.level, change.delta = (
                event.payload["packaging_level"],
                change.delta + len(event.payload["child_ids"]),
            )
        elif event.event_type == ChildrenUnpacked.EVENT_TYPE:
            change.closed, change.delta = False, change.delta - len(event.payload["child_ids"])
        elif event.event_type == ParentClosed.EVENT_TYPE:
            change.closed = True
    return changes


async def _parents(
    conn: Connection, schema: str, changes: dict[str, _ParentChange], contents: str, rows: list[str]
) -> None:
    """Parents packed into (whose level is known) are upserted, after `contents` (the children
    packed, $7) in the same statement; the others exist already. A parent packed into
    was open (packing into a closed parent is refused), so unless these events close it, it is
    open now."""
    packed = sorted(p for p, c in changes.items() if c.level is not None)
    others = sorted(p for p, c in changes.items() if c.level is None)
    assert packed or not contents  # children are packed into parents
    for parents, sql, prelude, extra in ((packed, _UPSERT, contents, rows), (others, _UPDATE, "", [])):
        if parents:
            await conn.execute(
                prelude + sql.format(schema=schema),
                _keys(parents),
                [changes[p].level for p in parents],
                [changes[p].closed for p in parents],
                [changes[p].delta for p in parents],
                [changes[p].version for p in parents],
                [changes[p].at for p in parents],
                *extra,
            )


_UPSERT = """
INSERT INTO {schema}.parents AS t (parent, level, closed, child_count, version, last_event_at)
SELECT p, l, coalesce(c, false), d, v, a
FROM unnest($1::text[], $2::text[], $3::boolean[], $4::int[], $5::int[], $6::timestamptz[]) AS u(p, l, c, d, v, a)
ON CONFLICT (parent) DO UPDATE SET level = EXCLUDED.level, closed = EXCLUDED.closed,
    child_count = t.child_count + EXCLUDED.child_count, version = EXCLUDED.version,
    last_event_at = greatest(t.last_event_at, EXCLUDED.last_event_at)
"""
_UPDATE = """
UPDATE {schema}.parents AS t SET closed = coalesce(u.c, t.closed), child_count = t.child_count + u.d, version = u.v,
    last_event_at = greatest(t.last_event_at, u.a)
FROM unnest($1::text[], $2::text[], $3::boolean[], $4::int[], $5::int[], $6::timestamptz[]) AS u(p, l, c, d, v, a)
WHERE t.parent = u.p
"""


async def load(conn: Connection, ids: Iterable[str], whole: Iterable[str] = ()) -> Hierarchy:
    """The parents of `ids` and all their ancestors, the state of every parent among them,
    and the full contents of the parents in `whole`."""
    ids = list(set(ids))
    keys = _keys(ids)
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
        json_list(keys),
        MAX_DEPTH,
    )
    h = Hierarchy(parent_of={_uri(r["child"]): _uri(r["parent"]) for r in rows})
    whole = list(set(whole))
    if whole:
        sql = f"SELECT child, parent FROM {SCHEMA}.contents WHERE parent = ANY($1::text[])"
        for r in await conn.fetch(sql, _keys(whole)):
            child, parent = _uri(r["child"]), _uri(r["parent"])
            h.parent_of[child] = parent
            h.children_of.setdefault(parent, set()).add(child)
    states = await conn.fetch(f"SELECT * FROM {SCHEMA}.parents WHERE parent = ANY($1::text[])", keys + _keys(whole))
    h.parents = {
        _uri(r["parent"]): ParentState(
            PackagingLevel(r["level"]), r["closed"], r["child_count"], r["version"], r["last_event_at"]
        )
        for r in states
    }
    return h


async def levels(conn: Connection, ids: Iterable[str]) -> dict[str, PackagingLevel]:
    """The packaging level of those of `ids` ever packed into, as the write side has it now."""
    rows = await conn.fetch(f"SELECT parent, level FROM {SCHEMA}.parents WHERE parent = ANY($1::text[])", _keys(ids))
    return {_uri(r["parent"]): PackagingLevel(r["level"]) for r in rows}
