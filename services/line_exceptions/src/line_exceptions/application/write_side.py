"""What recording decides with, folded from this service's log in the same transaction as
each append: which units are out of the supply chain (and by which record), and which serials
already replaced a reworked unit. So "taken out once" and "a replacement is used once" hold
under concurrent requests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from serialtrail_contracts.exceptions import DecommissionUndone, ExceptionRecorded, SerialsDecommissioned
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore.model import RecordedEvent


class UnitsOut:
    name = "units_out"
    tables: tuple[str, ...] = ("taken_out", "replacements")

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.taken_out (
            gtin text NOT NULL, serial text NOT NULL, exception_id uuid NOT NULL, PRIMARY KEY (gtin, serial)
        );
        CREATE TABLE {schema}.replacements (
            gtin text NOT NULL, serial text NOT NULL, exception_id uuid NOT NULL, PRIMARY KEY (gtin, serial)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        out = [
            {"gtin": e.payload["gtin"], "serial": s, "exception_id": e.payload["exception_id"]}
            for e in events
            if e.event_type == SerialsDecommissioned.EVENT_TYPE
            for s in e.payload["serials"]
        ]
        replaced = [
            {
                "gtin": e.payload["gtin"],
                "serial": e.payload["replacement_serial"],
                "exception_id": e.payload["exception_id"],
            }
            for e in events
            if e.event_type == ExceptionRecorded.EVENT_TYPE and e.payload.get("replacement_serial")
        ]
        for e in events:  # put back: out no more (a later record may take them out again)
            if e.event_type == DecommissionUndone.EVENT_TYPE:
                await conn.execute(
                    f"DELETE FROM {schema}.taken_out WHERE gtin = $1 AND exception_id = $2 "
                    "AND serial IN (SELECT json_array_elements_text($3::json))",
                    e.payload["gtin"],
                    e.payload["exception_id"],
                    json_list(e.payload["serials"]),
                )
        for table, rows in (("taken_out", out), ("replacements", replaced)):
            if rows:  # the primary key is the last line of defence: a second time rolls the unit back
                await conn.execute(
                    f"INSERT INTO {schema}.{table} (gtin, serial, exception_id) SELECT gtin, serial, exception_id "
                    "FROM json_to_recordset($1::json) AS r(gtin text, serial text, exception_id uuid)",
                    json_list(rows),
                )


async def units_of(
    conn: Connection, schema: str, gtin: str, serials: Iterable[str]
) -> tuple[dict[str, UUID], dict[str, UUID]]:
    """Of these serials: which are out (by which record), which already replaced a unit."""
    named = json_list(sorted(set(serials)))
    found: list[dict[str, UUID]] = []
    for table in ("taken_out", "replacements"):
        rows = await conn.fetch(
            f"SELECT serial, exception_id FROM {schema}.{table} "
            "WHERE gtin = $1 AND serial IN (SELECT json_array_elements_text($2::json))",
            gtin,
            named,
        )
        found.append({row["serial"]: row["exception_id"] for row in rows})
    return found[0], found[1]


async def out_by(conn: Connection, schema: str, gtin: str, exception_id: UUID) -> list[str]:
    """The units this record took out that are still out."""
    rows = await conn.fetch(
        f"SELECT serial FROM {schema}.taken_out WHERE gtin = $1 AND exception_id = $2 ORDER BY serial",
        gtin,
        exception_id,
    )
    return [row["serial"] for row in rows]
