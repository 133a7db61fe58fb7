"""Containment holds, learnt only from the line exceptions service's `exceptions` events: the
batches held whole, a line's output in a time window (the units commissioned on it then, also
those whose commissioning arrives after the hold), and the units and parents held one by one.
Packing refuses what is held until the hold is lifted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from serialtrail_contracts.exceptions import HoldLifted, HoldPlaced
from serialtrail_gs1.identity import sgtin_digital_link
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore.model import RecordedEvent

SOURCE = "line_exceptions"


class HoldsProjection:
    name = "holds"
    source = SOURCE
    tables: tuple[str, ...] = ("held_batches", "held_objects", "held_windows")
    event_types = (HoldPlaced.EVENT_TYPE, HoldLifted.EVENT_TYPE)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.held_batches (
            hold_id uuid PRIMARY KEY, gtin text NOT NULL, lot text NOT NULL
        );
        CREATE INDEX ON {schema}.held_batches (gtin, lot);
        CREATE TABLE {schema}.held_objects (
            object_id text NOT NULL, hold_id uuid NOT NULL, PRIMARY KEY (object_id, hold_id)
        );
        CREATE INDEX ON {schema}.held_objects (hold_id);
        CREATE TABLE {schema}.held_windows (
            hold_id uuid PRIMARY KEY, gtin text NOT NULL, lot text NOT NULL, line_id text NOT NULL,
            window_start timestamptz NOT NULL, window_end timestamptz NOT NULL
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            held = recorded.payload
            if recorded.event_type == HoldLifted.EVENT_TYPE:
                for table in self.tables:
                    await conn.execute(f"DELETE FROM {schema}.{table} WHERE hold_id = $1", held["hold_id"])
            elif recorded.event_type == HoldPlaced.EVENT_TYPE and held["whole_batch"]:
                await conn.execute(
                    f"INSERT INTO {schema}.held_batches VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    held["hold_id"],
                    held["gtin"],
                    held["lot"],
                )
            elif recorded.event_type == HoldPlaced.EVENT_TYPE:
                if held.get("window_start") is not None:
                    await conn.execute(
                        f"INSERT INTO {schema}.held_windows VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                        held["hold_id"],
                        held["gtin"],
                        held["lot"],
                        held["line_id"],
                        datetime.fromisoformat(held["window_start"]),
                        datetime.fromisoformat(held["window_end"]),
                    )
                objects = [sgtin_digital_link(held["gtin"], s) for s in held["serials"]] + list(held["parents"])
                await conn.execute(
                    f"INSERT INTO {schema}.held_objects SELECT value, $2 "
                    "FROM json_array_elements_text($1::json) ON CONFLICT DO NOTHING",
                    json_list(objects),
                    held["hold_id"],
                )
