"""Which units line exceptions took out of the supply chain, and why, learnt only from its
`exceptions` events: an upload leaves out those the hub is never told of and sends the others'
states after them. A unit put back (an EU FMD undo) is out no more."""

from __future__ import annotations

from collections.abc import Sequence

from serialtrail_contracts.exception_vocabulary import EuFmdPackState
from serialtrail_contracts.exceptions import DecommissionReason, DecommissionUndone, SerialsDecommissioned
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore.model import RecordedEvent

from fmd_hub.domain.pack_states import state_of
from fmd_hub.projections.knowledge import RM

SOURCE = "line_exceptions"


class TakenOutProjection:
    name = "taken_out"
    source = SOURCE
    tables: tuple[str, ...] = ("taken_out",)
    event_types = (SerialsDecommissioned.EVENT_TYPE, DecommissionUndone.EVENT_TYPE)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.taken_out (
            gtin text NOT NULL, serial text NOT NULL, exception_id uuid NOT NULL, state text NOT NULL,
            PRIMARY KEY (gtin, serial)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            p = event.payload
            if event.event_type == SerialsDecommissioned.EVENT_TYPE:
                state = state_of(DecommissionReason(p["reason"]))
                await conn.execute(
                    f"INSERT INTO {schema}.taken_out (gtin, serial, exception_id, state) "
                    "SELECT $1, s, $2::uuid, $3 FROM json_array_elements_text($4::json) AS s "
                    "ON CONFLICT (gtin, serial) DO UPDATE SET exception_id = excluded.exception_id, "
                    "state = excluded.state",
                    p["gtin"],
                    p["exception_id"],
                    state.value,
                    json_list(p["serials"]),
                )
            else:  # put back by the record that took them out
                await conn.execute(
                    f"DELETE FROM {schema}.taken_out WHERE gtin = $1 AND exception_id = $2::uuid "
                    "AND serial IN (SELECT json_array_elements_text($3::json))",
                    p["gtin"],
                    p["exception_id"],
                    json_list(p["serials"]),
                )


async def states_of(conn: Connection, gtin: str, lot: str) -> dict[str, EuFmdPackState]:
    """The batch's units out of the supply chain, with the pack state it means (few: a batch's
    rejects and samples, looked up by the batch's commissioned serials)."""
    rows = await conn.fetch(
        f"SELECT t.serial, t.state FROM {RM}.taken_out t JOIN {RM}.commissioned c USING (gtin, serial) "
        "WHERE t.gtin = $1 AND c.lot = $2",
        gtin,
        lot,
    )
    return {row["serial"]: EuFmdPackState(row["state"]) for row in rows}
