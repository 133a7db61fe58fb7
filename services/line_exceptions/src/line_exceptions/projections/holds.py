"""Containment holds as QA and the line read them: each hold, what it holds, and whether it is
still in force. A fold of this service's own log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from serialtrail_contracts.exceptions import HoldLifted, HoldPlaced
from serialtrail_contracts.identity import Scope
from serialtrail_kit.db import Connection, Pool, json_list
from serialtrail_kit.eventstore.model import RecordedEvent

from line_exceptions.projections.knowledge import RM
from line_exceptions.projections.records.queries import within

SOURCE = "line_exceptions"


class HoldsProjection:
    name = "holds"
    source = SOURCE
    tables: tuple[str, ...] = ("holds",)
    event_types = (HoldPlaced.EVENT_TYPE, HoldLifted.EVENT_TYPE)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.holds (
            hold_id uuid PRIMARY KEY, gtin text NOT NULL, lot text NOT NULL, cmo_id text,
            whole_batch boolean NOT NULL, serials jsonb NOT NULL, parents jsonb NOT NULL,
            state text NOT NULL, reason text NOT NULL, event_time timestamptz NOT NULL,
            placed_at timestamptz NOT NULL, placed_by text NOT NULL,
            lifted_at timestamptz, lifted_by text, lift_reason text,
            line_id text, window_start timestamptz, window_end timestamptz
        );
        CREATE INDEX ON {schema}.holds (gtin, lot, state);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            by = str(recorded.metadata.get("principal_id", ""))
            if recorded.event_type == HoldPlaced.EVENT_TYPE:
                placed = HoldPlaced.model_validate(recorded.payload)
                await conn.execute(
                    f"INSERT INTO {schema}.holds (hold_id, gtin, lot, cmo_id, whole_batch, serials, parents, state, "
                    "reason, event_time, placed_at, placed_by, line_id, window_start, window_end) "
                    "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, 'active', $8, $9, $10, $11, $12, $13, $14) "
                    "ON CONFLICT DO NOTHING",
                    placed.hold_id,
                    placed.gtin,
                    placed.lot,
                    placed.cmo_id,
                    placed.whole_batch,
                    list(placed.serials),
                    list(placed.parents),
                    placed.reason,
                    placed.event_time,
                    recorded.recorded_at,
                    by,
                    placed.line_id,
                    placed.window_start,
                    placed.window_end,
                )
            elif recorded.event_type == HoldLifted.EVENT_TYPE:
                await conn.execute(
                    f"UPDATE {schema}.holds SET state = 'lifted', lifted_at = $2, lifted_by = $3, lift_reason = $4 "
                    "WHERE hold_id = $1",
                    recorded.payload["hold_id"],
                    recorded.recorded_at,
                    by,
                    recorded.payload["reason"],
                )


# A window hold's serials are the line's output in the window as known now: those known when it was
# placed, and those the line sent for the window since (which aggregation holds as they arrive).
_SERIALS = f"""CASE WHEN holds.window_start IS NULL THEN holds.serials ELSE (
    SELECT coalesce(jsonb_agg(u.serial ORDER BY u.serial), '[]'::jsonb) FROM (
        SELECT jsonb_array_elements_text(holds.serials) AS serial
        UNION SELECT c.serial FROM {RM}.commissioned c
        WHERE c.gtin = holds.gtin AND c.lot = holds.lot AND c.line_id = holds.line_id
          AND c.event_time >= holds.window_start AND c.event_time < holds.window_end
    ) u) END AS serials"""
_COLUMNS = (
    f"hold_id::text AS hold_id, gtin, lot, cmo_id, whole_batch, {_SERIALS}, parents, "
    "state, reason, event_time, placed_at, placed_by, lifted_at, lifted_by, lift_reason, line_id, window_start, "
    "window_end"
)


def _row(row: Any) -> dict[str, Any]:
    return dict(row)


async def hold(pool: Pool, hold_id: object) -> dict[str, Any] | None:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM {RM}.holds WHERE hold_id = $1", hold_id)
    return None if row is None else _row(row)


def within_holds(scope: Scope, args: list[Any]) -> str:
    """SQL narrowing holds to `scope`: a hold is its batch's (product, CMO), whatever site is
    narrowed; a principal narrowed to lines sees the holds of its lines and those of the whole
    batch at every line (a line must see that its batch is held), never another line's."""
    narrowed = within(replace(scope, sites=None, lines=None), args)
    if scope.lines is None:
        return narrowed
    args.append(json_list(sorted(scope.lines)))
    return f"{narrowed} AND (line_id IS NULL OR line_id IN (SELECT json_array_elements_text(${len(args)}::json)))"


async def holds(pool: Pool, scope: Scope, gtin: str | None, lot: str | None, state: str | None) -> list[dict[str, Any]]:
    """Holds the scope covers (`within_holds`)."""
    args: list[Any] = []
    conditions = [within_holds(scope, args)]
    for value, column in ((gtin, "gtin"), (lot, "lot"), (state, "state")):
        if value is not None:
            args.append(value)
            conditions.append(f"{column} = ${len(args)}")
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM {RM}.holds WHERE {' AND '.join(conditions)} ORDER BY placed_at, hold_id", *args
    )
    return [_row(row) for row in rows]
