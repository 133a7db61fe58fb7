"""Deviations as QA and an inspector read them: each deviation, what it groups, its root cause,
its CAPA actions and its history. A fold of this service's own log. From a serial, its records
lead here; from here, the records lead to the serials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from serialtrail_contracts.deviations import (
    CapaCompleted,
    CapaPlanned,
    DeviationClosed,
    DeviationLinked,
    DeviationOpened,
    RootCauseRecorded,
)
from serialtrail_contracts.identity import EVERY_LINE, Scope
from serialtrail_kit.db import Connection, Pool, json_list
from serialtrail_kit.eventstore.model import RecordedEvent

from line_exceptions.projections.holds import within_holds
from line_exceptions.projections.knowledge import RM
from line_exceptions.projections.records.queries import within

SOURCE = "line_exceptions"
_OPENED, _LINKED, _CAUSE = DeviationOpened.EVENT_TYPE, DeviationLinked.EVENT_TYPE, RootCauseRecorded.EVENT_TYPE
_PLANNED, _DONE, _CLOSED = CapaPlanned.EVENT_TYPE, CapaCompleted.EVENT_TYPE, DeviationClosed.EVENT_TYPE


class DeviationsProjection:
    name = "deviations"
    source = SOURCE
    tables: tuple[str, ...] = ("deviations", "deviation_links", "capas", "deviation_history")
    event_types = (_OPENED, _LINKED, _CAUSE, _PLANNED, _DONE, _CLOSED)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.deviations (
            deviation_id uuid PRIMARY KEY, gtin text NOT NULL, lot text NOT NULL, cmo_id text,
            title text NOT NULL, description text NOT NULL, qms_reference text, state text NOT NULL,
            root_cause_category text, root_cause_method text, root_cause_findings text,
            opened_at timestamptz NOT NULL, opened_by text NOT NULL,
            closed_at timestamptz, closed_by text, close_reason text
        );
        CREATE INDEX ON {schema}.deviations (gtin, lot, state);
        CREATE TABLE {schema}.deviation_links (
            deviation_id uuid NOT NULL, kind text NOT NULL, linked_id uuid NOT NULL,
            PRIMARY KEY (deviation_id, kind, linked_id)
        );
        CREATE INDEX ON {schema}.deviation_links (linked_id);
        CREATE TABLE {schema}.capas (
            capa_id uuid PRIMARY KEY, deviation_id uuid NOT NULL, kind text NOT NULL, action text NOT NULL,
            owner text NOT NULL, due_date date NOT NULL, effectiveness_check text NOT NULL, state text NOT NULL,
            effective boolean, evidence text, completed_at timestamptz
        );
        CREATE INDEX ON {schema}.capas (deviation_id);
        CREATE TABLE {schema}.deviation_history (
            deviation_id uuid NOT NULL, global_position bigint NOT NULL, event text NOT NULL,
            recorded_at timestamptz NOT NULL, principal_id text NOT NULL, detail jsonb NOT NULL,
            PRIMARY KEY (deviation_id, global_position)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            fold = _FOLDS.get(recorded.event_type)
            if fold is None:
                continue
            await fold(conn, schema, recorded)
            await conn.execute(
                f"INSERT INTO {schema}.deviation_history VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                recorded.payload["deviation_id"],
                recorded.global_position,
                recorded.event_type.removeprefix("exceptions."),
                recorded.recorded_at,
                _by(recorded),
                {k: v for k, v in recorded.payload.items() if k != "deviation_id"},
            )


def _by(recorded: RecordedEvent) -> str:
    return str(recorded.metadata.get("principal_id", ""))


async def _opened(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    p = recorded.payload
    await conn.execute(
        f"INSERT INTO {schema}.deviations (deviation_id, gtin, lot, cmo_id, title, description, qms_reference, "
        "state, opened_at, opened_by) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9) ON CONFLICT DO NOTHING",
        p["deviation_id"],
        p["gtin"],
        p["lot"],
        p.get("cmo_id"),
        p["title"],
        p["description"],
        p.get("qms_reference"),
        recorded.recorded_at,
        _by(recorded),
    )
    await _linked(conn, schema, recorded)


async def _linked(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    p = recorded.payload
    links = [{"kind": "exception", "id": i} for i in p.get("exception_ids", [])]
    links += [{"kind": "hold", "id": i} for i in p.get("hold_ids", [])]
    if links:
        await conn.execute(
            f"INSERT INTO {schema}.deviation_links (deviation_id, kind, linked_id) SELECT $1, kind, id "
            "FROM json_to_recordset($2::json) AS l(kind text, id uuid) ON CONFLICT DO NOTHING",
            p["deviation_id"],
            json_list(links),
        )


async def _root_cause(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    p = recorded.payload
    await conn.execute(
        f"UPDATE {schema}.deviations SET root_cause_category = $2, root_cause_method = $3, root_cause_findings = $4 "
        "WHERE deviation_id = $1",
        p["deviation_id"],
        p["category"],
        p["method"],
        p["findings"],
    )


async def _planned(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    p = CapaPlanned.model_validate(recorded.payload)
    await conn.execute(
        f"INSERT INTO {schema}.capas (capa_id, deviation_id, kind, action, owner, due_date, effectiveness_check, "
        "state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open') ON CONFLICT DO NOTHING",
        p.capa_id,
        p.deviation_id,
        p.kind.value,
        p.action,
        p.owner,
        p.due_date,
        p.effectiveness_check,
    )


async def _completed(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    p = recorded.payload
    await conn.execute(
        f"UPDATE {schema}.capas SET state = 'completed', effective = $2, evidence = $3, completed_at = $4 "
        "WHERE capa_id = $1",
        p["capa_id"],
        p["effective"],
        p["evidence"],
        recorded.recorded_at,
    )


async def _closed(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    await conn.execute(
        f"UPDATE {schema}.deviations SET state = 'closed', closed_at = $2, closed_by = $3, close_reason = $4 "
        "WHERE deviation_id = $1",
        recorded.payload["deviation_id"],
        recorded.recorded_at,
        _by(recorded),
        recorded.payload["reason"],
    )


_FOLDS = {
    _OPENED: _opened,
    _LINKED: _linked,
    _CAUSE: _root_cause,
    _PLANNED: _planned,
    _DONE: _completed,
    _CLOSED: _closed,
}

_COLUMNS = (
    "deviation_id::text AS deviation_id, gtin, lot, cmo_id, title, description, qms_reference, state, "
    "root_cause_category, root_cause_method, root_cause_findings, opened_at, opened_by, closed_at, closed_by, "
    "close_reason"
)


# The line of each thing a deviation groups: a record's line, a hold's (a hold of the whole batch
# at every line: EVERY_LINE). A deviation is the lines' of all it groups, and grouping nothing
# yet it is the whole batch's: a principal narrowed to lines reads and runs only a deviation
# all of whose records and holds are on its lines.
_LINES_OF_LINKS = f"""
    SELECT coalesce(r.line_id, h.line_id, '{EVERY_LINE}') AS line_id FROM {RM}.deviation_links l
    LEFT JOIN {RM}.records r ON l.kind = 'exception' AND r.exception_id = l.linked_id
    LEFT JOIN {RM}.holds h ON l.kind = 'hold' AND h.hold_id = l.linked_id
"""


async def lines_of(pool: Pool, deviation_id: UUID) -> frozenset[str]:
    rows = await pool.fetch(f"{_LINES_OF_LINKS} WHERE l.deviation_id = $1", deviation_id)
    return frozenset(row["line_id"] for row in rows) or frozenset({EVERY_LINE})


async def lines_named(pool: Pool, scope: Scope, exception_ids: list[UUID], hold_ids: list[UUID]) -> frozenset[str]:
    """The lines of the records and holds a deviation is to group, of those `scope` sees (another
    party's read as unknown ones: no line, so naming one tells nothing of it)."""
    args: list[Any] = [exception_ids, hold_ids]
    records, holds = within(scope, args), within_holds(scope, args)
    rows = await pool.fetch(
        f"SELECT line_id FROM {RM}.records WHERE exception_id = ANY($1::uuid[]) AND {records} "
        f"UNION SELECT coalesce(line_id, '{EVERY_LINE}') FROM {RM}.holds WHERE hold_id = ANY($2::uuid[]) AND {holds}",
        *args,
    )
    return frozenset(row["line_id"] for row in rows) or frozenset({EVERY_LINE})


def within_deviations(scope: Scope, args: list[Any], alias: str = "deviations") -> str:
    """SQL narrowing deviations to `scope`: their batch's product and CMO, and for a principal
    narrowed to lines, every line of what they group (`lines_of`)."""
    narrowed = within(replace(scope, sites=None, lines=None), args)
    if scope.lines is None:
        return narrowed
    args.append(json_list(sorted(scope.lines)))
    lines = f"(SELECT json_array_elements_text(${len(args)}::json))"
    return (
        f"{narrowed} AND EXISTS (SELECT FROM {RM}.deviation_links l WHERE l.deviation_id = {alias}.deviation_id) "
        f"AND NOT EXISTS ({_LINES_OF_LINKS} WHERE l.deviation_id = {alias}.deviation_id "
        f"AND coalesce(r.line_id, h.line_id, '{EVERY_LINE}') NOT IN {lines})"
    )


async def deviation(pool: Pool, deviation_id: UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM {RM}.deviations WHERE deviation_id = $1", deviation_id)
    return None if row is None else dict(row)


async def detail(pool: Pool, found: dict[str, Any]) -> dict[str, Any]:
    """A deviation with what it groups, its CAPAs and its history, oldest first."""
    deviation_id = found["deviation_id"]
    links = await pool.fetch(
        f"SELECT kind, linked_id::text AS id FROM {RM}.deviation_links WHERE deviation_id = $1 ORDER BY kind, id",
        deviation_id,
    )
    capas = await pool.fetch(
        f"SELECT capa_id::text AS capa_id, kind, action, owner, due_date, effectiveness_check, state, effective, "
        f"evidence, completed_at FROM {RM}.capas WHERE deviation_id = $1 ORDER BY due_date, capa_id",
        deviation_id,
    )
    history = await pool.fetch(
        f"SELECT global_position, event, recorded_at, principal_id, detail FROM {RM}.deviation_history "
        "WHERE deviation_id = $1 ORDER BY global_position",
        deviation_id,
    )
    return {
        **found,
        "exception_ids": [link["id"] for link in links if link["kind"] == "exception"],
        "hold_ids": [link["id"] for link in links if link["kind"] == "hold"],
        "capas": [dict(capa) for capa in capas],
        "history": [dict(h) for h in history],
    }


async def deviations(
    pool: Pool, scope: Scope, gtin: str | None, lot: str | None, state: str | None
) -> list[dict[str, Any]]:
    """Deviations the scope covers (`within_deviations`)."""
    args: list[Any] = []
    conditions = [within_deviations(scope, args)]
    for value, column in ((gtin, "gtin"), (lot, "lot"), (state, "state")):
        if value is not None:
            args.append(value)
            conditions.append(f"{column} = ${len(args)}")
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM {RM}.deviations WHERE {' AND '.join(conditions)} ORDER BY opened_at, deviation_id",
        *args,
    )
    return [dict(row) for row in rows]


async def batch_counts(pool: Pool, gtin: str, lot: str, scope: Scope) -> dict[str, int]:
    """Open deviations of a batch, and their CAPAs not yet completed (and of those, overdue)."""
    args: list[Any] = [gtin, lot]
    narrowed = within_deviations(scope, args, alias="d")
    row = await pool.fetchrow(
        f"SELECT count(DISTINCT d.deviation_id) FILTER (WHERE d.state = 'open') AS open_deviations, "
        "count(c.capa_id) FILTER (WHERE c.state = 'open') AS open_capas, "
        "count(c.capa_id) FILTER (WHERE c.state = 'open' AND c.due_date < current_date) AS overdue_capas "
        f"FROM {RM}.deviations d LEFT JOIN {RM}.capas c ON c.deviation_id = d.deviation_id "
        f"WHERE d.gtin = $1 AND d.lot = $2 AND {narrowed}",
        *args,
    )
    assert row is not None
    return {k: int(row[k]) for k in ("open_deviations", "open_capas", "overdue_capas")}
