"""Serials taken out of the supply chain, learnt only from the line exceptions service's
`exceptions` events, and put back when a decommission is undone: a serial's status says whether
it is out, its history both the decommission and the undo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serialtrail_contracts.exceptions import DecommissionUndone, SerialsDecommissioned
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore.model import RecordedEvent

SOURCE = "line_exceptions"
RM = "serial_issuance_rm"


class DecommissionsProjection:
    name = "decommissions"
    source = SOURCE
    tables: tuple[str, ...] = ("decommissioned",)
    event_types = (SerialsDecommissioned.EVENT_TYPE, DecommissionUndone.EVENT_TYPE)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.decommissioned (
            gtin text NOT NULL, serial text NOT NULL, exception_id uuid NOT NULL, reason text NOT NULL,
            event_time timestamptz NOT NULL, recorded_at timestamptz NOT NULL,
            -- an undo keeps the decommission in the serial's history, and says so
            undone_at timestamptz, undo_reason text, undo_event_time timestamptz,
            PRIMARY KEY (gtin, serial, exception_id)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.payload
            named = json_list(event["serials"])
            if recorded.event_type == DecommissionUndone.EVENT_TYPE:
                undone = DecommissionUndone.model_validate(event)
                await conn.execute(
                    f"UPDATE {schema}.decommissioned SET undone_at = $4, undo_reason = $5, undo_event_time = $6 "
                    "WHERE gtin = $1 AND exception_id = $2 AND undone_at IS NULL "
                    "AND serial IN (SELECT json_array_elements_text($3::json))",
                    undone.gtin,
                    undone.exception_id,
                    named,
                    recorded.recorded_at,
                    undone.reason,
                    undone.event_time,
                )
            elif recorded.event_type == SerialsDecommissioned.EVENT_TYPE:
                taken = SerialsDecommissioned.model_validate(event)
                await conn.execute(  # a record takes a serial out once; a repeat changes nothing
                    f"INSERT INTO {schema}.decommissioned (gtin, serial, exception_id, reason, event_time, "
                    "recorded_at) SELECT $1, s, $2, $3, $4, $5 FROM json_array_elements_text($6::json) AS s "
                    "ON CONFLICT DO NOTHING",
                    taken.gtin,
                    taken.exception_id,
                    taken.reason.value,
                    taken.event_time,
                    recorded.recorded_at,
                    named,
                )


async def history(conn: Connection, gtin: str, serial: str) -> tuple[list[dict[str, Any]], bool]:
    """The serial's decommissions and their undos as history entries, and whether it is out now."""
    rows = await conn.fetch(
        f"SELECT exception_id::text AS exception_id, reason, event_time, recorded_at, undone_at, undo_reason, "
        f"undo_event_time FROM {RM}.decommissioned WHERE gtin = $1 AND serial = $2 ORDER BY recorded_at",
        gtin,
        serial,
    )
    entries: list[dict[str, Any]] = []
    for row in rows:
        told = {k: row[k] for k in ("exception_id", "reason", "event_time", "recorded_at")}
        entries.append({"event": "decommissioned", **told})
        if row["undone_at"] is not None:
            entries.append(
                {
                    "event": "decommission-undone",
                    "exception_id": row["exception_id"],
                    "reason": row["undo_reason"],
                    "event_time": row["undo_event_time"],
                    "recorded_at": row["undone_at"],
                }
            )
    return entries, any(row["undone_at"] is None for row in rows)
