"""Packs taken out of the supply chain, learnt only from the line exceptions service's
`exceptions` events (and put back when a decommission is undone). Packing refuses them; a
parent still holding one shows an error."""

from __future__ import annotations

from collections.abc import Sequence

from serialtrail_contracts import exceptions
from serialtrail_contracts.exceptions import DecommissionUndone, SerialsDecommissioned
from serialtrail_gs1.identity import sgtin_digital_link
from serialtrail_kit.db import Connection, json_elements, json_list
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.model import RecordedEvent

SOURCE = "line_exceptions"


class DecommissionsProjection:
    name = "decommissions"
    source = SOURCE
    tables: tuple[str, ...] = ("decommissioned",)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.decommissioned (
            object_id text PRIMARY KEY, gtin text NOT NULL, reason text NOT NULL,
            event_time timestamptz NOT NULL, global_position bigint NOT NULL
        );
        CREATE INDEX ON {schema}.decommissioned (gtin);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = codec.decode(exceptions.EVENTS, recorded)
            if isinstance(event, DecommissionUndone):  # back in the supply chain: packable again
                await conn.execute(
                    f"DELETE FROM {schema}.decommissioned WHERE object_id = ANY({json_elements('$1')})",
                    json_list([sgtin_digital_link(event.gtin, serial) for serial in event.serials]),
                )
            if not isinstance(event, SerialsDecommissioned):
                continue
            # The first decommissioning of a pack is the one that counts; a repeat changes nothing.
            await conn.execute(
                f"INSERT INTO {schema}.decommissioned (object_id, gtin, reason, event_time, global_position) "
                f"SELECT value, $2, $3, $4, $5 FROM unnest({json_elements('$1')}) AS value ON CONFLICT DO NOTHING",
                json_list([sgtin_digital_link(event.gtin, serial) for serial in event.serials]),
                event.gtin,
                event.reason.value,
                event.event_time,
                recorded.global_position,
            )
