"""Reads of the hierarchy read model, joined with what is known of each object: a link's
status is derived here (confirmed, pending), never stored, so it is the same whichever
of packing and commissioning arrived first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from serialtrail_contracts.identity import NO_CMO, Target
from serialtrail_gs1.identity import SSCC, ObjectId
from serialtrail_gs1.scan import parse_object_id
from serialtrail_kit.db import Connection, Pool, json_elements, json_list

from aggregation.domain.hierarchy import MAX_DEPTH
from aggregation.projections.hierarchy.read_model import SGTIN_PREFIX
from aggregation.projections.knowledge import lookups as knowledge
from aggregation.projections.knowledge.lookups import held_above

RM = knowledge.RM
# Links as they were at $2: current ones packed by then, and past ones not yet unpacked then.
AS_THEN = f"""(
    SELECT child, parent, child_gtin, pending, packed_at FROM {RM}.links WHERE packed_at <= $2
    UNION ALL
    SELECT child, parent, child_gtin, pending, packed_at FROM {RM}.past_links WHERE packed_at <= $2 AND unpacked_at > $2
)"""


@dataclass(frozen=True)
class Tree:
    body: dict[str, Any]
    target: Target  # what a principal must be allowed to see it: its GTINs, its line, its CMOs


def _gtin_set(obj: ObjectId) -> frozenset[str]:
    return frozenset({obj.gtin}) if obj.gtin is not None else frozenset()


def _links(at: datetime | None) -> str:
    return f"{RM}.links" if at is None else AS_THEN


class AggregationQueries:
    def __init__(self, pool: Pool, skew: timedelta = timedelta(minutes=5)) -> None:
        self.pool = pool
        self.skew = skew  # a unit packed (pending) this long before its commissioning is an error

    async def formed_on(self, parent: str) -> str | None:
        """The line a parent was formed on (None: nothing was ever packed into it)."""
        found = await self.pool.fetchval(f"SELECT line_id FROM {RM}.parent_states WHERE parent = $1", parent)
        return None if found is None else str(found)

    async def packing_owner(self, parents: list[str], children: Iterable[ObjectId]) -> Target:
        """Whose what a pack touches is, as the hierarchy has it (see `packing_owner`)."""
        async with self.pool.acquire() as conn:
            return await packing_owner(conn, parents, children)

    async def tree(self, root: ObjectId, at: datetime | None, *, scoped: bool = True) -> Tree | None:
        """The tree below `root` (None when it holds nothing at that time). PostgreSQL builds
        each parent's list of children as JSON, so a 5,000-unit pallet is 51 rows, not 5,050,
        and lists of leaves reach the response without being parsed; each row also carries its
        parent's state and the root's own standing, so the whole tree is one round trip. What a
        scoped principal must be allowed to see (the tree's GTINs and CMOs) costs a second pass,
        made only for them."""
        args = (root.uri, *([] if at is None else [at]))
        async with self.pool.acquire() as conn:
            groups = await conn.fetch(_tree_sql(at, self.skew, root.kind is SSCC), *args)
            if not groups:
                return None
            scope = await conn.fetchrow(_scope_sql(at), *args) if scoped else None
        states = {g["parent"]: g for g in groups if g["level"] is not None}  # level: never null once packed into
        standing = groups[0]
        root_known, root_mislabelled = bool(standing["root_known"]), bool(standing["root_mislabelled"])
        status = "error" if root_mislabelled else "confirmed" if root_known else "pending"
        return _assemble(root, (status, bool(standing["root_held"])), groups, states, at, scope)

    async def owner(self, ids: list[str]) -> Target:
        """Whose these objects are now (see `owner_of`)."""
        if not ids:
            return Target()
        async with self.pool.acquire() as conn:
            return await owner_of(conn, ids)

    async def ancestors(self, child: ObjectId, at: datetime | None) -> list[dict[str, Any]]:
        links = _links(at)
        sql = f"""
            WITH RECURSIVE up(child, parent, depth) AS (
                SELECT l.child, l.parent, 1 FROM {links} l WHERE l.child = $1
                UNION ALL
                SELECT l.child, l.parent, u.depth + 1
                FROM up u CROSS JOIN LATERAL (SELECT * FROM {links} l WHERE l.child = u.parent OFFSET 0) l
                WHERE u.depth < {MAX_DEPTH}
            )
            SELECT u.parent, u.depth, p.level, p.closed, p.line_id FROM up u
            LEFT JOIN {RM}.parent_states p ON p.parent = u.parent ORDER BY u.depth
        """
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(sql, child.uri, *([] if at is None else [at]))
        return [
            {"id": r["parent"], "level": r["level"], **({} if at else {"closed": r["closed"]}), "line_id": r["line_id"]}
            for r in rows
        ]


async def owner_of(conn: Connection, ids: list[str]) -> Target:
    """Whose these objects are now: the GTINs and the CMOs of everything below each, each
    one's own CMO once commissioned, and the line each parent among them was formed on.
    Nothing known: an empty target. (`conn`: a request's own, or the unit a capture is
    decided in.)"""
    if not ids:
        return Target()
    row = await conn.fetchrow(_OWNER_SQL, ids)
    assert row is not None  # an aggregate query always returns its row
    return Target(
        gtins=frozenset(row["gtins"] or ()), cmos=frozenset(row["cmos"] or ()), lines=frozenset(row["lines"] or ())
    )


async def parents_among(conn: Connection, ids: list[str]) -> list[str]:
    """Those of `ids` that were ever packed into (hold, or held, children)."""
    if not ids:
        return []
    rows = await conn.fetch(
        f"SELECT parent FROM {RM}.parent_states WHERE parent = ANY({json_elements('$1')})", json_list(ids)
    )
    return [r["parent"] for r in rows]


async def packing_owner(conn: Connection, parents: list[str], children: Iterable[ObjectId]) -> Target:
    """Whose what a pack touches is, as the hierarchy has it: the parents packed into, and the
    cases or pallets packed (every SSCC, and the units that hold units: a bundle, a case with a
    GTIN of its own), are whose their contents and the lines they were formed on make them."""
    children = list(children)
    ssccs = [o.uri for o in children if o.kind is SSCC]
    units = [o.uri for o in children if o.kind is not SSCC]
    return await owner_of(conn, parents + ssccs + await parents_among(conn, units))


def _expands(link: str) -> str:
    """A child holds children if it is an SSCC, or a unit packed into as a parent (a bundle, or
    a case with a GTIN of its own): other units are not probed for any."""
    return f"""({link}.child_gtin IS NULL OR EXISTS (SELECT FROM {RM}.parent_states b
        WHERE b.parent = {link}.child AND b.parent LIKE '{SGTIN_PREFIX}%'))"""


def _tree_cte(at: datetime | None, roots: str = "= $1") -> str:
    links = _links(at)
    # The LATERAL subquery (OFFSET 0 keeps it from being flattened) walks the tree by index even
    # when the planner's statistics lag a bulk load, which would otherwise tempt it into a hash
    # join over every link.
    expands = _expands("l")
    return f"""
        WITH RECURSIVE tree(child, parent, child_gtin, pending, packed_at, expands, depth) AS (
            SELECT l.child, l.parent, l.child_gtin, l.pending, l.packed_at, {expands}, 1
            FROM {links} l WHERE l.parent {roots}
            UNION ALL
            SELECT l.child, l.parent, l.child_gtin, l.pending, l.packed_at, {expands}, t.depth + 1
            FROM tree t CROSS JOIN LATERAL (SELECT * FROM {links} l WHERE l.parent = t.child OFFSET 0) l
            WHERE t.depth < {MAX_DEPTH} AND t.expands
        )
    """


def _known(link: str) -> str:
    """Known as commissioned (a unit) or allocated (an SSCC) by now."""
    return f"""(({link}.child_gtin IS NOT NULL AND {_commissioned(f"{link}.child")})
        OR ({link}.child_gtin IS NULL AND {_allocated(f"{link}.child")}))"""


def _commissioned(unit: str) -> str:
    return f"EXISTS (SELECT FROM {RM}.commissioned c WHERE c.object_id = {unit})"


def _allocated(sscc: str) -> str:
    """An SSCC URI (its 18 digits last) inside a range serial issuance allocated."""
    digits = f"right({sscc}, 18)"
    return f"""EXISTS (SELECT FROM {RM}.sscc_ranges r
            WHERE r.extension_digit = substr({digits}, 1, 1)::int
              AND substr({digits}, 2, length(r.company_prefix)) = r.company_prefix
              AND substr({digits}, 2 + length(r.company_prefix), 16 - length(r.company_prefix))::bigint
                  BETWEEN r.first_reference AND r.first_reference + r.quantity - 1)"""


def _tree_sql(at: datetime | None, skew: timedelta, root_is_sscc: bool) -> str:
    """One row per parent in the tree below $1 (none: it holds nothing): its children as JSON,
    their counts, its state, and (on every row, worked out once) the root's own standing.
    The walk visits only the parents (each one's children probed for those that hold children);
    then each parent's children are read again, by index, and folded into its list: one
    aggregate per parent, in the order the index holds them, never a sort or a hash of the
    whole tree."""
    links = _links(at)
    # Each status is a per-node test (EXISTS), never a join: the planner's estimate of a
    # recursive walk is far off (thousands of times for a pallet), and joins chosen on it
    # hashed the whole commissioned table on every read, 4-8x slower. A test is either probed
    # per node by index or, for a small table, hashed once. The node subquery (OFFSET 0: not
    # flattened) works each node's status out once, not once per use in the aggregate.
    nodes = f"""SELECT l.child, {_expands("l")} AS expands,
                   CASE WHEN EXISTS (SELECT FROM {RM}.decommissioned d WHERE d.object_id = l.child)
                          OR {_mislabelled("l.child")} OR {_packed_early("l", skew)} THEN 'error'
                        WHEN NOT l.pending OR {_known("l")} THEN 'confirmed' ELSE 'pending' END AS status,
                   {_held("l.child")} AS held
            FROM {links} l WHERE l.parent = p.parent OFFSET 0"""
    root_known = _allocated("$1") if root_is_sscc else _commissioned("$1")
    above = held_above("json_build_array($1::text)")
    assert above.startswith("WITH RECURSIVE ")
    return f"""{above},
        parents(parent, depth) AS (
            SELECT $1::text, 0
            UNION ALL
            SELECT l.child, p.depth + 1 FROM parents p
            CROSS JOIN LATERAL (SELECT l.child FROM {links} l WHERE l.parent = p.parent AND {_expands("l")} OFFSET 0) l
            WHERE p.depth < {MAX_DEPTH - 1}  -- a node as deep as MAX_DEPTH is shown, not walked below
        )
        -- Canonical URIs are percent-encoded: they never hold a quote or a backslash, so
        -- plain concatenation is valid JSON (and several times cheaper than json_agg).
        SELECT p.parent, g.children, g.objects, g.pending, g.errors, g.held, g.holds_parents,
               s.level, s.closed, s.line_id,
               (SELECT {root_known}) AS root_known,
               (SELECT {_mislabelled("$1")}) AS root_mislabelled,
               (SELECT EXISTS (SELECT FROM held_above) OR {_held("$1")}) AS root_held
        FROM parents p
        CROSS JOIN LATERAL (
            SELECT '[' || string_agg('{{"id":"' || n.child || '","status":"' || n.status || '"'
                                     || CASE WHEN n.held THEN ',"held":true' ELSE '' END || '}}', ',')
                   || ']' AS children,
                   count(*) AS objects,
                   count(*) FILTER (WHERE n.status = 'pending') AS pending,
                   count(*) FILTER (WHERE n.status = 'error') AS errors,
                   count(*) FILTER (WHERE n.held) AS held,
                   bool_or(n.expands) AS holds_parents
            FROM ({nodes}) n
        ) g
        LEFT JOIN {RM}.parent_states s ON s.parent = p.parent
        WHERE g.objects > 0
    """


def _target_sql(cte: str, roots: str) -> str:
    """Whose the objects of a walk and its roots are: their GTINs; the CMOs of the commissioned
    ones and of the lines the parents among them were formed on (a parent is also its line's,
    so a CMO's key cannot read, close or unpack what was formed on another party's line); those
    lines. Each object is looked up by index (LATERAL, OFFSET 0): a join chosen on the planner's
    estimate of the walk hashed every commissioned serial instead."""
    return f"""{cte},
        objects AS (SELECT child AS object_id, child_gtin AS gtin FROM tree
                    UNION SELECT o, NULL FROM unnest({roots}) AS o),
        formed AS (SELECT p.line_id FROM objects o CROSS JOIN LATERAL
                   (SELECT line_id FROM {RM}.parent_states p WHERE p.parent = o.object_id OFFSET 0) p)
        SELECT (SELECT array_agg(DISTINCT gtin) FROM objects WHERE gtin IS NOT NULL) AS gtins,
               (SELECT array_agg(DISTINCT cmo) FROM (
                    SELECT coalesce(c.cmo_id, '{NO_CMO}') AS cmo FROM objects o CROSS JOIN LATERAL
                        (SELECT cmo_id FROM {RM}.commissioned c WHERE c.object_id = o.object_id OFFSET 0) c
                    UNION SELECT coalesce(kl.cmo_id, '{NO_CMO}') FROM formed f
                        JOIN {RM}.known_lines kl ON kl.line_id = f.line_id
                ) s) AS cmos,
               (SELECT array_agg(DISTINCT line_id) FROM formed) AS lines
    """


def _scope_sql(at: datetime | None) -> str:
    return _target_sql(_tree_cte(at), "ARRAY[$1]")


def _packed_early(link: str, skew: timedelta) -> str:
    """A link recorded pending whose unit's commissioning, arrived since, is dated later than
    the pack (beyond the clock skew): packed before it existed. Had the commissioning been
    known first, the pack would have been refused; so the outcome does not depend on arrival."""
    return f"""({link}.pending AND EXISTS (SELECT FROM {RM}.commissioned ce WHERE ce.object_id = {link}.child
               AND ce.commissioned_at > {link}.packed_at + interval '{int(skew.total_seconds())} seconds'))"""


def _mislabelled(unit: str) -> str:
    """A unit packed (as child or as parent) while pending, scanned with a lot its commissioning
    contradicts. Only what was packed pending (pending_lots) is scanned, never every commissioned unit."""
    return f"""EXISTS (SELECT FROM {RM}.pending_lots pl WHERE pl.child = {unit}
        AND pl.lot <> (SELECT c.lot FROM {RM}.commissioned c WHERE c.object_id = pl.child))"""


def _held(unit: str) -> str:
    """A unit or parent under a containment hold of its own, a unit of a batch held whole, or
    one commissioned on a line while its output is held.
    (What sits below a held parent is flagged from it in Python: `_held_through_parents`.) Each
    test is made only while such a hold exists at all: the uncorrelated EXISTS is worked out
    once per query, so a tree read pays nothing per node when nothing is held."""
    return f"""(((SELECT EXISTS (SELECT FROM {RM}.held_objects))
                 AND EXISTS (SELECT FROM {RM}.held_objects h WHERE h.object_id = {unit}))
             OR ((SELECT EXISTS (SELECT FROM {RM}.held_batches))
                 AND EXISTS (SELECT FROM {RM}.held_batches hb JOIN {RM}.commissioned c
                             ON c.gtin = hb.gtin AND c.lot = hb.lot WHERE c.object_id = {unit}))
             OR ((SELECT EXISTS (SELECT FROM {RM}.held_windows))
                 AND EXISTS (SELECT FROM {RM}.commissioned c
                             JOIN {RM}.commissionings k ON k.global_position = c.global_position
                             JOIN {RM}.held_windows w ON w.gtin = c.gtin AND w.lot = c.lot AND w.line_id = k.line_id
                                 AND c.commissioned_at >= w.window_start AND c.commissioned_at < w.window_end
                             WHERE c.object_id = {unit})))"""


_OWNER_SQL = _target_sql(_tree_cte(None, "= ANY($1::text[])"), "$1::text[]")


def _assemble(
    root: ObjectId,
    root_status: tuple[str, bool],  # its status, and whether it is held
    groups: list[Any],
    states: dict[str, Any],
    at: datetime | None,
    scope: Any,
) -> Tree:
    # Lists that may hold parents (SSCCs, units packed into) are parsed to nest their children;
    # lists of leaves pass through as JSON.
    lists: dict[str, Any] = {
        g["parent"]: orjson.loads(g["children"]) if g["holds_parents"] else orjson.Fragment(g["children"])
        for g in groups
    }
    status, held = root_status
    counts = {name: sum(g[name] for g in groups) for name in ("objects", "pending", "errors", "held")}
    if held or counts["held"]:
        counts["held"] = _held_through_parents(lists, groups, root.uri, held)
    for group in groups:
        if group["holds_parents"]:
            for node in lists[group["parent"]]:
                if node["id"] in lists:
                    node.update(_parent_fields(states.get(node["id"]), at))
                    node["children"] = lists[node["id"]]
    body: dict[str, Any] = {"id": root.uri, "status": status, **({"held": True} if held else {})}
    body |= _parent_fields(states.get(root.uri), at)
    body["children"] = lists[root.uri]
    body["counts"] = counts
    root_state = states.get(root.uri)
    target = Target(
        gtins=frozenset(scope["gtins"] or () if scope else ()) | _gtin_set(root),
        lines=(frozenset({root_state["line_id"]}) if root_state else frozenset())
        | frozenset(scope["lines"] or () if scope else ()),
        cmos=frozenset(scope["cmos"] or () if scope else ()),
    )
    return Tree(body, target)


def _held_through_parents(lists: dict[str, Any], groups: list[Any], root: str, root_held: bool) -> int:
    """Flag `held` on everything below a held parent too (a hold on a pallet holds each case and
    unit on it), parsing a list of leaves only below a held parent; the number held below the
    root. Run only when something in the tree is held."""
    raw = {g["parent"]: g["children"] for g in groups}
    held_in = {g["parent"]: g["held"] for g in groups}  # held themselves, as PostgreSQL counted
    flagged = 0
    below: list[tuple[str, bool]] = [(root, root_held)]
    while below:
        parent, inherited = below.pop()
        if not inherited and isinstance(lists[parent], orjson.Fragment):
            flagged += held_in[parent]  # leaves only: nothing below them to flag
            continue
        if isinstance(lists[parent], orjson.Fragment):
            lists[parent] = orjson.loads(raw[parent])
        for node in lists[parent]:
            if inherited:
                node["held"] = True
            flagged += bool(node.get("held"))
            if node["id"] in lists:
                below.append((node["id"], bool(node.get("held"))))
    return flagged


def _parent_fields(state: Any, at: datetime | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"level": state["level"] if state else None}
    if at is None and state is not None:
        fields["closed"] = state["closed"]  # closing is not kept as history
    return fields


@dataclass(frozen=True)
class Report:
    body: dict[str, Any]
    cmo_id: str | None


@dataclass(frozen=True)
class _Findings:
    commissioned: int
    aggregated: int
    loose: list[Any]
    pending: list[Any]
    parents: list[Any]
    known_parents: frozenset[str]
    errors: list[Any]


async def batch_report(
    pool: Pool,
    gtin: str,
    lot: str,
    limit: int,
    *,
    narrowed: bool = False,
    lines: frozenset[str] | None = None,
    cmos: frozenset[str] | None = None,
    skew: timedelta = timedelta(minutes=5),
) -> Report | None:
    """The completeness figures QA needs before release; lists are capped at `limit`. Pending
    links are this batch's when their scan named its lot; those with no lot could be any
    batch's of the GTIN, and are listed only for principals no scope narrows."""
    async with pool.acquire() as conn:
        batch = await conn.fetchrow(f"SELECT cmo_id FROM {RM}.known_batches WHERE gtin = $1 AND lot = $2", gtin, lot)
        if batch is None:
            return None
        counts = await conn.fetchrow(_COUNTS, gtin, lot)
        assert counts is not None  # an aggregate query always answers one row
        commissioned, aggregated = counts
        parents = await conn.fetch(_PARENTS, gtin, lot)
        findings = _Findings(
            commissioned=commissioned,
            aggregated=aggregated,
            loose=await conn.fetch(_LOOSE, gtin, lot, limit),
            pending=await conn.fetch(_PENDING, gtin, limit, lot, not narrowed),
            parents=parents,
            known_parents=(await knowledge.snapshot(conn, [parse_object_id(r["parent"]) for r in parents])).known,
            errors=await conn.fetch(_ERRORS, gtin, lot, limit, skew),
        )
    return Report(_report_body(gtin, lot, findings, limit, lines, cmos), batch["cmo_id"])


_COUNTS = f"""
    SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT FROM {RM}.links l WHERE l.child = c.object_id))
    FROM {RM}.commissioned c WHERE c.gtin = $1 AND c.lot = $2
"""
# Commissioned, in no parent, and not decommissioned (a destroyed pack needs no parent).
_LOOSE = f"""
    SELECT c.object_id, count(*) OVER () AS total FROM {RM}.commissioned c
    WHERE c.gtin = $1 AND c.lot = $2
      AND NOT EXISTS (SELECT FROM {RM}.links l WHERE l.child = c.object_id)
      AND NOT EXISTS (SELECT FROM {RM}.decommissioned d WHERE d.object_id = c.object_id)
    ORDER BY c.object_id LIMIT $3
"""
# Children of this GTIN not yet known as commissioned: their lot is known only once they are.
_PENDING = f"""
    SELECT l.child, l.parent, ps.line_id, kl.cmo_id AS line_cmo, count(*) OVER () AS total FROM {RM}.links l
    LEFT JOIN {RM}.pending_lots pl ON pl.child = l.child
    LEFT JOIN {RM}.parent_states ps ON ps.parent = l.parent
    LEFT JOIN {RM}.known_lines kl ON kl.line_id = ps.line_id
    WHERE l.child_gtin = $1 AND l.pending
      AND NOT EXISTS (SELECT FROM {RM}.commissioned c WHERE c.object_id = l.child)
      AND (pl.lot = $3 OR (pl.lot IS NULL AND $4))
    ORDER BY l.child LIMIT $2
"""
_PARENTS = f"""
    WITH RECURSIVE up(parent, depth) AS (
        SELECT DISTINCT l.parent, 1 FROM {RM}.commissioned c
        JOIN {RM}.links l ON l.child = c.object_id WHERE c.gtin = $1 AND c.lot = $2
        UNION
        SELECT l.parent, up.depth + 1 FROM {RM}.links l JOIN up ON l.child = up.parent
        WHERE up.depth < {MAX_DEPTH}
    )
    SELECT DISTINCT up.parent, p.level, p.closed, p.line_id, kl.cmo_id AS line_cmo
    FROM up JOIN {RM}.parent_states p USING (parent) LEFT JOIN {RM}.known_lines kl ON kl.line_id = p.line_id
    ORDER BY up.parent
"""
# Decommissioned units still packed, and units packed (pending) with a scanned lot that their
# commissioning then contradicted: a label mix-up, or a unit claimed for another batch.
_ERRORS = f"""
    WITH found AS (
        SELECT d.object_id, l.parent, 'decommissioned (' || d.reason || ')' AS problem FROM {RM}.decommissioned d
        JOIN {RM}.commissioned c ON c.object_id = d.object_id
        JOIN {RM}.links l ON l.child = d.object_id
        WHERE c.gtin = $1 AND c.lot = $2
        UNION ALL
        SELECT c.object_id, coalesce(l.parent, c.object_id),
               'packed as lot ' || pl.lot || ', commissioned into lot ' || c.lot
        FROM {RM}.pending_lots pl
        JOIN {RM}.commissioned c ON c.object_id = pl.child
        LEFT JOIN {RM}.links l ON l.child = pl.child
        WHERE c.gtin = $1 AND c.lot = $2 AND pl.lot <> c.lot
        UNION ALL
        SELECT c.object_id, l.parent,
               'packed at ' || to_char(l.packed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
               || ', before its commissioning at '
               || to_char(c.commissioned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        FROM {RM}.commissioned c
        JOIN {RM}.links l ON l.child = c.object_id
        WHERE c.gtin = $1 AND c.lot = $2 AND l.pending AND c.commissioned_at > l.packed_at + $4::interval
    )
    SELECT f.object_id, f.parent, f.problem, ps.line_id, kl.cmo_id AS line_cmo, count(*) OVER () AS total
    FROM found f LEFT JOIN {RM}.parent_states ps ON ps.parent = f.parent
    LEFT JOIN {RM}.known_lines kl ON kl.line_id = ps.line_id ORDER BY f.object_id LIMIT $3
"""


def _listing(items: list[Any], total: int, limit: int) -> dict[str, Any]:
    return {"count": total, "items": items[:limit], "truncated": total > limit}


def _total(rows: list[Any]) -> int:
    return int(rows[0]["total"]) if rows else 0


def _report_body(
    gtin: str, lot: str, found: _Findings, limit: int, lines: frozenset[str] | None, cmos: frozenset[str] | None
) -> dict[str, Any]:
    def parent(row: Any) -> str | None:
        """A parent formed on a line outside a narrowed caller's scope (another line, or another
        CMO's line) is counted, not named."""
        in_lines = lines is None or row["line_id"] in lines
        in_cmos = cmos is None or (row["line_cmo"] or NO_CMO) in cmos
        return str(row["parent"]) if in_lines and in_cmos else None

    open_parents = [{"id": parent(r), "level": r["level"]} for r in found.parents if not r["closed"]]
    unconfirmed = [
        {"id": parent(r), "level": r["level"]} for r in found.parents if r["parent"] not in found.known_parents
    ]
    errors = [{"child": r["object_id"], "parent": parent(r), "problem": r["problem"]} for r in found.errors]
    sections = {
        "not_aggregated": _listing([r["object_id"] for r in found.loose], _total(found.loose), limit),
        "pending_links": _listing(
            [{"child": r["child"], "parent": parent(r)} for r in found.pending], _total(found.pending), limit
        ),
        "open_parents": _listing(open_parents, len(open_parents), limit),
        "pending_parents": _listing(unconfirmed, len(unconfirmed), limit),
        "errors": _listing(errors, _total(found.errors), limit),
    }
    return {
        "gtin": gtin,
        "lot": lot,
        "commissioned": found.commissioned,
        "aggregated": found.aggregated,
        **sections,
        "complete": all(section["count"] == 0 for section in sections.values()),
    }
