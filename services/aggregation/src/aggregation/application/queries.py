"""Reads of the hierarchy read model, joined with what is known of each object: a link's
status is derived here (confirmed, pending), never stored, so it is the same whichever
of packing and commissioning arrived first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from serialtrail_gs1.identity import ObjectId, parse_object_id
from serialtrail_kit.db import Pool
from serialtrail_kit.identity.model import NO_CMO, Target

from aggregation.application import knowledge
from aggregation.domain.hierarchy import MAX_DEPTH
from aggregation.projections.hierarchy import gtin_of

RM = knowledge.RM
CURRENT = "l.unpacked_position IS NULL"
AT = "l.packed_at <= $2 AND (l.unpacked_at IS NULL OR l.unpacked_at > $2)"


@dataclass(frozen=True)
class Tree:
    body: dict[str, Any]
    target: Target  # what a principal must be allowed to see it: its GTINs, its line, its CMOs


def _gtin_set(obj: ObjectId) -> frozenset[str]:
    return frozenset({obj.gtin}) if obj.gtin is not None else frozenset()


def _live(at: datetime | None) -> str:
    return CURRENT if at is None else AT


class AggregationQueries:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def tree(self, root: ObjectId, at: datetime | None) -> Tree | None:
        """The tree below `root` (None when it holds nothing at that time)."""
        live = _live(at)
        sql = f"""
            WITH RECURSIVE tree(child, parent, depth) AS (
                SELECT l.child, l.parent, 1 FROM {RM}.links l WHERE l.parent = $1 AND {live}
                UNION ALL
                SELECT l.child, l.parent, t.depth + 1 FROM {RM}.links l JOIN tree t ON l.parent = t.child
                WHERE {live} AND t.depth < {MAX_DEPTH}
            )
            SELECT t.child, t.parent, c.object_id IS NOT NULL AS commissioned, b.cmo_id,
                   p.level, p.closed
            FROM tree t
            LEFT JOIN {RM}.commissioned c ON c.object_id = t.child
            LEFT JOIN {RM}.known_batches b ON b.gtin = c.gtin AND b.lot = c.lot
            LEFT JOIN {RM}.parent_states p ON p.parent = t.child
        """
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(sql, root.uri, *([] if at is None else [at]))
            if not rows:
                return None
            root_state = await conn.fetchrow(
                f"SELECT level, closed, line_id FROM {RM}.parent_states WHERE parent = $1", root.uri
            )
            inner = [parse_object_id(r["child"]) for r in rows if r["level"] is not None]
            known = (await knowledge.snapshot(conn, [root, *inner])).known
        body = _assemble(root, rows, root_state, known, at)
        target = Target(
            gtins=frozenset(g for r in rows if (g := gtin_of(r["child"])) is not None) | _gtin_set(root),
            lines=frozenset({root_state["line_id"]}) if root_state else frozenset(),
            cmos=frozenset(r["cmo_id"] or NO_CMO for r in rows if r["commissioned"]),
        )
        return Tree(body, target)

    async def ancestors(self, child: ObjectId, at: datetime | None) -> list[dict[str, Any]]:
        live = _live(at)
        sql = f"""
            WITH RECURSIVE up(child, parent, depth) AS (
                SELECT l.child, l.parent, 1 FROM {RM}.links l WHERE l.child = $1 AND {live}
                UNION ALL
                SELECT l.child, l.parent, u.depth + 1 FROM {RM}.links l JOIN up u ON l.child = u.parent
                WHERE {live} AND u.depth < {MAX_DEPTH}
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


def _assemble(
    root: ObjectId, rows: list[Any], root_state: Any, known_parents: frozenset[str], at: datetime | None
) -> dict[str, Any]:
    children: dict[str, list[dict[str, Any]]] = {}
    counts = {"objects": 0, "pending": 0}
    for r in rows:
        is_parent = r["level"] is not None
        known = r["commissioned"] or r["child"] in known_parents
        node: dict[str, Any] = {"id": r["child"], "status": "confirmed" if known else "pending"}
        if is_parent:
            node["level"] = r["level"]
            if at is None:
                node["closed"] = r["closed"]
            node["children"] = children.setdefault(r["child"], [])
        children.setdefault(r["parent"], []).append(node)
        counts["objects"] += 1
        counts["pending"] += 0 if known else 1
    tree: dict[str, Any] = {
        "id": root.uri,
        "status": "confirmed" if root.uri in known_parents else "pending",
        "level": root_state["level"] if root_state else None,
    }
    if at is None and root_state is not None:
        tree["closed"] = root_state["closed"]
    tree["children"] = children.get(root.uri, [])
    tree["counts"] = counts
    return tree


@dataclass(frozen=True)
class Report:
    body: dict[str, Any]
    cmo_id: str | None


async def batch_report(pool: Pool, gtin: str, lot: str, limit: int) -> Report | None:
    """The completeness figures QA needs before release; lists are capped at `limit`."""
    async with pool.acquire() as conn:
        batch = await conn.fetchrow(f"SELECT cmo_id FROM {RM}.known_batches WHERE gtin = $1 AND lot = $2", gtin, lot)
        if batch is None:
            return None
        commissioned = await conn.fetchval(
            f"SELECT count(*) FROM {RM}.commissioned WHERE gtin = $1 AND lot = $2", gtin, lot
        )
        loose = await conn.fetch(
            f"SELECT c.object_id, count(*) OVER () AS total FROM {RM}.commissioned c "
            f"WHERE c.gtin = $1 AND c.lot = $2 AND NOT EXISTS "
            f"(SELECT FROM {RM}.links l WHERE l.child = c.object_id AND {CURRENT}) ORDER BY c.object_id LIMIT $3",
            gtin,
            lot,
            limit,
        )
        pending = await conn.fetch(
            f"SELECT l.child, l.parent, count(*) OVER () AS total FROM {RM}.links l "
            f"WHERE l.child_gtin = $1 AND {CURRENT} AND NOT EXISTS "
            f"(SELECT FROM {RM}.commissioned c WHERE c.object_id = l.child) ORDER BY l.child LIMIT $2",
            gtin,
            limit,
        )
        parents = await conn.fetch(
            f"""
            WITH RECURSIVE up(parent, depth) AS (
                SELECT DISTINCT l.parent, 1 FROM {RM}.commissioned c
                JOIN {RM}.links l ON l.child = c.object_id AND {CURRENT} WHERE c.gtin = $1 AND c.lot = $2
                UNION
                SELECT l.parent, up.depth + 1 FROM {RM}.links l JOIN up ON l.child = up.parent
                WHERE {CURRENT} AND up.depth < {MAX_DEPTH}
            )
            SELECT DISTINCT up.parent, p.level, p.closed FROM up JOIN {RM}.parent_states p USING (parent)
            ORDER BY up.parent
            """,
            gtin,
            lot,
        )
        known = (await knowledge.snapshot(conn, [parse_object_id(r["parent"]) for r in parents])).known
    body = _report_body(gtin, lot, commissioned, loose, pending, parents, known, limit)
    return Report(body, batch["cmo_id"])


def _listing(ids: list[Any], total: int, limit: int) -> dict[str, Any]:
    return {"count": total, "items": ids[:limit], "truncated": total > limit}


def _report_body(
    gtin: str,
    lot: str,
    commissioned: int,
    loose: list[Any],
    pending: list[Any],
    parents: list[Any],
    known: frozenset[str],
    limit: int,
) -> dict[str, Any]:
    loose_total = loose[0]["total"] if loose else 0
    pending_total = pending[0]["total"] if pending else 0
    open_parents = [{"id": r["parent"], "level": r["level"]} for r in parents if not r["closed"]]
    unconfirmed = [{"id": r["parent"], "level": r["level"]} for r in parents if r["parent"] not in known]
    sections = {
        "not_aggregated": _listing([r["object_id"] for r in loose], loose_total, limit),
        "pending_links": _listing(
            [{"child": r["child"], "parent": r["parent"]} for r in pending], pending_total, limit
        ),
        "open_parents": _listing(open_parents, len(open_parents), limit),
        "pending_parents": _listing(unconfirmed, len(unconfirmed), limit),
    }
    return {
        "gtin": gtin,
        "lot": lot,
        "commissioned": commissioned,
        "aggregated": commissioned - loose_total,
        **sections,
        "complete": all(section["count"] == 0 for section in sections.values()),
    }
