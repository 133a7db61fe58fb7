"""Reads of the records read model, as QA reviews them before release. Lists show only what
the caller's scope covers; one record is looked up with the scope it is owned by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from serialtrail_contracts.exception_vocabulary import VOCABULARY
from serialtrail_contracts.exceptions import ExceptionType
from serialtrail_contracts.identity import NO_CMO, Scope, Target
from serialtrail_kit.db import Pool, json_list

from line_exceptions.projections.knowledge import RM

_COLUMNS = (
    "exception_id::text AS exception_id, exception_type, state, gtin, lot, line_id, read_point, biz_location, "
    "site_gln, cmo_id, event_time, recorded_at, recorded_by, observed_by, description, units, taken_out, "
    "replacement_serial, parents, cascade, outcome, reason, closed_at"
)


@dataclass(frozen=True)
class Filters:
    gtin: str | None = None
    lot: str | None = None
    line_id: str | None = None
    state: str | None = None
    exception_type: str | None = None


def meaning(exception_type: str) -> dict[str, Any]:
    """What a record's type means in each vocabulary its units are reported in: whether it took
    them out of the supply chain, the CBV business step and disposition of its EPCIS event, the
    EU FMD pack state the hub is told, and the DSCSA reason a trading partner is told."""
    found = VOCABULARY[ExceptionType(exception_type)]
    return {
        "takes_out": found.takes_out,
        "decommission_reason": found.decommission,
        "biz_step": found.biz_step,
        "disposition": found.disposition,
        "eu_fmd_pack_state": found.eu_fmd_state,
        "dscsa_reason": found.dscsa,
    }


def _described(row: Any) -> dict[str, Any]:
    return {**row, "meaning": meaning(row["exception_type"])}


def owner(row: Any) -> Target:
    """Whose a record is: its product's, its line's (and site's) and its batch's CMO's."""
    return Target(
        gtins=frozenset({row["gtin"]}),
        sites=frozenset({row["site_gln"]}),
        lines=frozenset({row["line_id"]}),
        cmos=frozenset({row["cmo_id"] or NO_CMO}),
    )


def within(scope: Scope, args: list[Any]) -> str:
    """SQL narrowing records to `scope` (its parameters appended to `args`)."""
    conditions = []
    dimensions: tuple[tuple[frozenset[str] | None, str], ...] = (
        (scope.gtins, "gtin"),
        (scope.sites, "site_gln"),
        (scope.lines, "line_id"),
        (scope.cmos, f"COALESCE(cmo_id, '{NO_CMO}')"),
    )
    for allowed, column in dimensions:
        if allowed is not None:
            args.append(json_list(sorted(allowed)))
            conditions.append(f"{column} IN (SELECT json_array_elements_text(${len(args)}::json))")
    if scope.company_prefixes is not None:
        args.append(json_list(sorted(scope.company_prefixes)))
        conditions.append(
            f"EXISTS (SELECT FROM json_array_elements_text(${len(args)}::json) AS p(prefix) "
            "WHERE substr(gtin, 2) LIKE p.prefix || '%')"
        )
    return " AND ".join(conditions) or "true"


class RecordQueries:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def record(self, exception_id: UUID) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM {RM}.records WHERE exception_id = $1", exception_id)
        return None if row is None else dict(row)

    async def detail(self, found: dict[str, Any]) -> dict[str, Any]:
        """A record with its units and its history, oldest first."""
        units = await self.pool.fetch(
            f"SELECT serial, role, via, undone_at FROM {RM}.record_units WHERE exception_id = $1 "
            "ORDER BY role, via, serial",
            found["exception_id"],
        )
        history = await self.pool.fetch(
            f"SELECT global_position, event, recorded_at, principal_id, detail "
            f"FROM {RM}.record_history WHERE exception_id = $1 ORDER BY global_position",
            found["exception_id"],
        )
        deviations = await self._deviations_of([found["exception_id"]])
        return {
            **_described(found),
            "deviations": deviations.get(found["exception_id"], []),
            "serials": [u["serial"] for u in units if u["role"] == "named"],
            "cascaded": [{"serial": u["serial"], "parent": u["via"]} for u in units if u["role"] == "cascaded"],
            "undone": [{"serial": u["serial"], "at": u["undone_at"]} for u in units if u["undone_at"] is not None],
            "history": [dict(h) for h in history],
        }

    async def listed(self, filters: Filters, scope: Scope, limit: int, after: UUID | None) -> list[dict[str, Any]]:
        args: list[Any] = []
        conditions = [within(scope, args)]
        for value, column in (
            (filters.gtin, "gtin"),
            (filters.lot, "lot"),
            (filters.line_id, "line_id"),
            (filters.state, "state"),
            (filters.exception_type, "exception_type"),
        ):
            if value is not None:
                args.append(value)
                conditions.append(f"{column} = ${len(args)}")
        if after is not None:
            args.append(after)
            conditions.append(f"exception_id > ${len(args)}")
        args.append(limit)
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM {RM}.records WHERE {' AND '.join(conditions)} "
            f"ORDER BY exception_id LIMIT ${len(args)}",
            *args,
        )
        return [_described(row) for row in rows]

    async def of_serial(self, gtin: str, serial: str, scope: Scope) -> list[dict[str, Any]]:
        """Every record naming the unit, as a reworked or affected unit or as a replacement."""
        args: list[Any] = [gtin, serial]
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS}, u.role, u.via, u.undone_at FROM {RM}.records r CROSS JOIN LATERAL "
            f"(SELECT role, via, undone_at FROM {RM}.record_units u WHERE u.exception_id = r.exception_id "
            f"AND u.gtin = $1 AND u.serial = $2) u WHERE {within(scope, args)} ORDER BY event_time, exception_id",
            *args,
        )
        deviations = await self._deviations_of([row["exception_id"] for row in rows])
        return [{**_described(row), "deviations": deviations.get(row["exception_id"], [])} for row in rows]

    async def _deviations_of(self, exception_ids: list[str]) -> dict[str, list[str]]:
        """The deviations each record is grouped under: from a serial to its deviation and CAPA."""
        rows = await self.pool.fetch(
            f"SELECT linked_id::text AS id, deviation_id::text AS deviation_id FROM {RM}.deviation_links "
            "WHERE kind = 'exception' AND linked_id IN (SELECT (json_array_elements_text($1::json))::uuid) "
            "ORDER BY deviation_id",
            json_list(exception_ids),
        )
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row["id"], []).append(row["deviation_id"])
        return found


async def summary(pool: Pool, gtin: str, lot: str, scope: Scope) -> dict[str, Any]:
    """A batch's records: counts by type and state, and the ageing of those still open."""
    args: list[Any] = [gtin, lot]
    narrowed = within(scope, args)
    rows = await pool.fetch(
        f"SELECT exception_type, state, count(*) AS n, sum(taken_out) AS taken_out, "
        "min(recorded_at) FILTER (WHERE state IN ('open', 'under-investigation')) AS oldest_open, "
        "count(*) FILTER (WHERE state IN ('open', 'under-investigation') AND now() - recorded_at < interval '1 day') "
        "AS under_1_day, "
        "count(*) FILTER (WHERE state IN ('open', 'under-investigation') "
        "AND now() - recorded_at >= interval '1 day' AND now() - recorded_at < interval '7 days') AS from_1_to_7_days, "
        "count(*) FILTER (WHERE state IN ('open', 'under-investigation') AND now() - recorded_at >= interval '7 days') "
        f"AS over_7_days FROM {RM}.records WHERE gtin = $1 AND lot = $2 AND {narrowed} "
        "GROUP BY exception_type, state ORDER BY exception_type, state",
        *args,
    )
    by_type: dict[str, dict[str, int]] = {}
    for row in rows:
        by_type.setdefault(row["exception_type"], {})[row["state"]] = row["n"]
    oldest = min((r["oldest_open"] for r in rows if r["oldest_open"] is not None), default=None)
    return {
        "gtin": gtin,
        "lot": lot,
        "records": sum(r["n"] for r in rows),
        "units_taken_out": sum(r["taken_out"] or 0 for r in rows),
        "by_type": by_type,
        "by_state": _by_state(rows),
        "open_ageing": {
            "oldest_open_since": oldest,
            "under_1_day": sum(r["under_1_day"] for r in rows),
            "1_to_7_days": sum(r["from_1_to_7_days"] for r in rows),
            "over_7_days": sum(r["over_7_days"] for r in rows),
        },
    }


def _by_state(rows: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for row in rows:
        found[row["state"]] = found.get(row["state"], 0) + row["n"]
    return found
