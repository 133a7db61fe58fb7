"""Serials taken out of the supply chain, learnt only from the line exceptions service's
`exceptions` events (and put back when a decommission is undone): a serial's status and history
say so."""

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
            event_time timestamptz NOT NULL, recorded_at timestamptz NOT NULL, PRIMARY KEY (gtin, serial)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.payload
            named = json_list(event["serials"])
            if recorded.event_type == DecommissionUndone.EVENT_TYPE:
                await conn.execute(
                    f"DELETE FROM {schema}.decommissioned WHERE gtin = $1 AND exception_id = $2 "
                    "AND serial IN (SELECT json_array_elements_text($3::json))",
                    event["gtin"],
                    event["exception_id"],
                    named,
                )
            elif recorded.event_type == SerialsDecommissioned.EVENT_TYPE:
                taken = SerialsDecommissioned.model_validate(event)
                await conn.execute(  # the first decommissioning counts; a repeat changes nothing
                    f"INSERT INTO {schema}.decommissioned SELECT $1, s, $2, $3, $4, $5 "
                    "FROM json_array_elements_text($6::json) AS s ON CONFLICT DO NOTHING",
                    taken.gtin,
                    taken.exception_id,
                    taken.reason.value,
                    taken.event_time,
                    recorded.recorded_at,
                    named,
                )


async def decommissioned(conn: Connection, gtin: str, serial: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT exception_id::text AS exception_id, reason, event_time, recorded_at FROM {RM}.decommissioned "
        "WHERE gtin = $1 AND serial = $2",
        gtin,
        serial,
    )
    return None if row is None else dict(row)
