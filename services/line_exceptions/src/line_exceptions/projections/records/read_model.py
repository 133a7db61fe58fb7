"""Exception records as QA reviews them: each record's current state, the units it names
(reworked and replacement alike, so either serial's history shows the other), and its history
(who did what, when). A fold of this service's own log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serialtrail_contracts import exceptions
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.exceptions import (
    DecommissionUndone,
    ExceptionCancelled,
    ExceptionRecorded,
    ExceptionResolved,
    InvestigationStarted,
    SerialsDecommissioned,
)
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.model import RecordedEvent

from line_exceptions.domain.records import State

SOURCE = "line_exceptions"


class RecordsProjection:
    name = "records"
    source = SOURCE
    tables: tuple[str, ...] = ("records", "record_units", "record_history")
    event_types = tuple(
        e.EVENT_TYPE
        for e in (
            ExceptionRecorded,
            SerialsDecommissioned,
            DecommissionUndone,
            InvestigationStarted,
            ExceptionResolved,
            ExceptionCancelled,
        )
    )

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.records (
            exception_id uuid PRIMARY KEY, exception_type text NOT NULL, state text NOT NULL,
            gtin text NOT NULL, lot text NOT NULL, line_id text NOT NULL, read_point text NOT NULL,
            biz_location text NOT NULL, site_gln text NOT NULL, cmo_id text,
            event_time timestamptz NOT NULL, recorded_at timestamptz NOT NULL,
            recorded_by text NOT NULL, observed_by text NOT NULL, description text NOT NULL,
            units integer NOT NULL, taken_out integer NOT NULL DEFAULT 0, replacement_serial text,
            parents jsonb NOT NULL, cascade boolean NOT NULL,
            outcome text, reason text, closed_at timestamptz, last_position bigint NOT NULL
        );
        CREATE INDEX ON {schema}.records (gtin, lot, state);
        CREATE INDEX ON {schema}.records (line_id);
        CREATE TABLE {schema}.record_units (
            gtin text NOT NULL, serial text NOT NULL, exception_id uuid NOT NULL, role text NOT NULL,
            via text,  -- the parent a cascaded unit was taken out with
            undone_at timestamptz,  -- when it was put back in the supply chain
            PRIMARY KEY (gtin, serial, exception_id)
        );
        CREATE TABLE {schema}.record_history (
            exception_id uuid NOT NULL, global_position bigint NOT NULL, event text NOT NULL,
            recorded_at timestamptz NOT NULL, principal_id text NOT NULL, detail jsonb NOT NULL,
            PRIMARY KEY (exception_id, global_position)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = codec.decode(exceptions.EVENTS, recorded)
            if event is None:
                continue
            if isinstance(event, ExceptionRecorded):
                await _recorded(conn, schema, event, recorded)
            else:
                await _changed(conn, schema, event, recorded)
            detail = {k: v for k, v in recorded.payload.items() if k != "exception_id"}
            await conn.execute(
                f"INSERT INTO {schema}.record_history VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING",
                recorded.payload["exception_id"],
                recorded.global_position,
                recorded.event_type.removeprefix("exceptions."),
                recorded.recorded_at,
                str(recorded.metadata.get("principal_id", "")),
                detail,
            )


async def _recorded(conn: Connection, schema: str, event: ExceptionRecorded, recorded: RecordedEvent) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.records (exception_id, exception_type, state, gtin, lot, line_id, read_point, "
        "biz_location, site_gln, cmo_id, event_time, recorded_at, recorded_by, observed_by, description, units, "
        "replacement_serial, parents, cascade, last_position) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) "
        "ON CONFLICT DO NOTHING",
        event.exception_id,
        event.exception_type.value,
        State.open.value,
        event.gtin,
        event.lot,
        event.line_id,
        event.read_point,
        event.biz_location,
        event.site_gln,
        event.cmo_id,
        event.event_time,
        recorded.recorded_at,
        str(recorded.metadata.get("principal_id", "")),
        event.observed_by,
        event.description,
        len(event.serials),
        event.replacement_serial,
        list(event.parents),
        event.cascade,
        recorded.global_position,
    )
    units: list[dict[str, Any]] = [{"serial": s, "role": "named"} for s in event.serials]
    if event.replacement_serial is not None:
        units.append({"serial": event.replacement_serial, "role": "replacement"})
    await conn.execute(
        f"INSERT INTO {schema}.record_units (gtin, serial, exception_id, role) SELECT $1, serial, $2, role "
        "FROM json_to_recordset($3::json) AS u(serial text, role text) ON CONFLICT DO NOTHING",
        event.gtin,
        event.exception_id,
        json_list(units),
    )


_STATE_AFTER: dict[type[EventContract], State] = {
    InvestigationStarted: State.under_investigation,
    ExceptionResolved: State.resolved,
    ExceptionCancelled: State.cancelled,
}


async def _changed(conn: Connection, schema: str, event: EventContract, recorded: RecordedEvent) -> None:
    exception_id = recorded.payload["exception_id"]
    if isinstance(event, SerialsDecommissioned):
        if event.parent_id is not None:  # each unit a cascade took out has its own entry
            await conn.execute(
                f"INSERT INTO {schema}.record_units (gtin, serial, exception_id, role, via) "
                "SELECT $1, serial, $2, 'cascaded', $3 FROM json_array_elements_text($4::json) AS serial "
                "ON CONFLICT DO NOTHING",
                event.gtin,
                event.exception_id,
                event.parent_id,
                json_list(event.serials),
            )
        await conn.execute(
            f"UPDATE {schema}.records SET taken_out = taken_out + $2, last_position = $3 "
            "WHERE exception_id = $1 AND last_position < $3",
            exception_id,
            len(event.serials),
            recorded.global_position,
        )
        return
    if isinstance(event, DecommissionUndone):
        await conn.execute(
            f"UPDATE {schema}.record_units SET undone_at = $4 WHERE gtin = $1 AND exception_id = $2 "
            "AND serial IN (SELECT json_array_elements_text($3::json)) AND role <> 'replacement'",
            event.gtin,
            event.exception_id,
            json_list(event.serials),
            event.event_time,
        )
        await conn.execute(
            f"UPDATE {schema}.records SET taken_out = taken_out - $2, last_position = $3 "
            "WHERE exception_id = $1 AND last_position < $3",
            exception_id,
            len(event.serials),
            recorded.global_position,
        )
        return
    state = _STATE_AFTER.get(type(event))
    if state is None:
        return
    closes = state in (State.resolved, State.cancelled)
    await conn.execute(
        f"UPDATE {schema}.records SET state = $2, outcome = COALESCE($3, outcome), reason = COALESCE($4, reason), "
        "closed_at = CASE WHEN $5 THEN $6 ELSE closed_at END, last_position = $7 "
        "WHERE exception_id = $1 AND last_position < $7",
        exception_id,
        state.value,
        recorded.payload.get("outcome"),
        recorded.payload.get("reason"),
        closes,
        recorded.recorded_at,
        recorded.global_position,
    )
