"""What line exceptions knows of serial issuance, learnt only from its `serials` events:
batches (with the CMO that packs them), registered lines, and which batch each commissioned
serial belongs to. A record is checked against it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from serialtrail_contracts import serials
from serialtrail_contracts.serials import BatchRegistered, LineRegistered, SerialsCommissioned
from serialtrail_gs1.epcis_checks import place_of
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.readers.copying import copied_or_inserted, copy_text, grouped_lines

from line_exceptions.domain.records import Batch, Line

SOURCE = "serial_issuance"
RM = "line_exceptions_rm"  # where this service's read models are served from


class KnowledgeProjection:
    name = "knowledge"
    source = SOURCE
    tables: tuple[str, ...] = ("known_batches", "known_lines", "commissioned")

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.known_batches (
            gtin text NOT NULL, lot text NOT NULL, expiry date NOT NULL, cmo_id text, PRIMARY KEY (gtin, lot)
        );
        CREATE TABLE {schema}.known_lines (
            line_id text PRIMARY KEY, read_point text NOT NULL UNIQUE, biz_location text NOT NULL,
            site_gln text NOT NULL, cmo_id text
        );
        CREATE TABLE {schema}.commissioned (
            gtin text NOT NULL, serial text NOT NULL, lot text NOT NULL, line_id text NOT NULL,
            event_time timestamptz NOT NULL, PRIMARY KEY (gtin, serial)
        );
        CREATE INDEX ON {schema}.commissioned (line_id, event_time);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        commissionings: list[dict[str, Any]] = []
        for recorded in events:
            if (recorded.event_type, recorded.event_version) == _COMMISSIONED:
                # validated when it was appended: its thousands of serials are not parsed again
                p = recorded.payload
                commissionings.append(
                    {k: p[k] for k in ("gtin", "lot", "line_id", "event_time")} | {"serials": list(p["serials"])}
                )
                continue
            event = codec.decode(serials.EVENTS, recorded)
            if isinstance(event, BatchRegistered):
                await conn.execute(
                    f"INSERT INTO {schema}.known_batches VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    event.gtin,
                    event.lot,
                    event.expiry,
                    event.cmo_id,
                )
            elif isinstance(event, LineRegistered):
                await conn.execute(
                    f"INSERT INTO {schema}.known_lines VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    event.line_id,
                    event.read_point,
                    event.biz_location,
                    event.site_gln,
                    event.cmo_id,
                )
        if commissionings:  # copied in, or inserted where one is there already (see `copying`)
            await copied_or_inserted(
                conn, lambda: _copied(conn, schema, commissionings), lambda: _inserted(conn, schema, commissionings)
            )


_COMMISSIONED = (SerialsCommissioned.EVENT_TYPE, SerialsCommissioned.EVENT_VERSION)
assert serials.EVENTS[_COMMISSIONED] is SerialsCommissioned


async def _copied(conn: Connection, schema: str, commissionings: list[dict[str, Any]]) -> None:
    lines = grouped_lines(
        [(c["serials"], (c["gtin"], c["lot"], c["line_id"], c["event_time"])) for c in commissionings]
    )
    columns = ("serial", "gtin", "lot", "line_id", "event_time")
    await copy_text(conn, schema, "commissioned", columns, lines)


async def _inserted(conn: Connection, schema: str, commissionings: list[dict[str, Any]]) -> None:
    """One JSON record per event, its serials expanded by PostgreSQL."""
    await conn.execute(
        f"INSERT INTO {schema}.commissioned (gtin, serial, lot, line_id, event_time) "
        "SELECT e.gtin, s.serial, e.lot, e.line_id, e.event_time "
        "FROM json_to_recordset($1::json) AS e(gtin text, lot text, line_id text, event_time timestamptz, "
        "serials json) "
        "CROSS JOIN LATERAL json_array_elements_text(e.serials) AS s(serial) ON CONFLICT DO NOTHING",
        json_list(commissionings),
    )


async def batch(conn: Connection, gtin: str, lot: str) -> Batch | None:
    row = await conn.fetchrow(f"SELECT cmo_id, expiry FROM {RM}.known_batches WHERE gtin = $1 AND lot = $2", gtin, lot)
    return None if row is None else Batch(gtin, lot, row["cmo_id"], row["expiry"])


async def expiry(conn: Connection, gtin: str, lot: str) -> date | None:
    found: date | None = await conn.fetchval(
        f"SELECT expiry FROM {RM}.known_batches WHERE gtin = $1 AND lot = $2", gtin, lot
    )
    return found


async def line(conn: Connection, named: str) -> Line | None:
    """A line by its id or by its read point's SGLN."""
    row = await conn.fetchrow(
        f"SELECT line_id, read_point, biz_location, site_gln, cmo_id FROM {RM}.known_lines "
        "WHERE line_id = $1 OR read_point = $1",
        named,
    )
    return None if row is None else Line(**dict(row))


async def line_at_place(conn: Connection, gln: str, extension: str) -> Line | None:
    """The registered line whose read point is the SGLN of `gln` and `extension`, as an EPCIS
    read point names it (an SGLN URI or a GS1 Digital Link): found among its site's lines (a
    line's read point is its site's GLN with an extension of its own), read the same way."""
    rows = await conn.fetch(
        f"SELECT line_id, read_point, biz_location, site_gln, cmo_id FROM {RM}.known_lines WHERE site_gln = $1", gln
    )
    return next((Line(**dict(row)) for row in rows if place_of(row["read_point"]) == (gln, extension)), None)


@dataclass(frozen=True)
class Commissioning:
    lot: str
    cmo_id: str | None  # the batch's
    event_time: datetime
    line_id: str


async def commissionings(conn: Connection, gtin: str, serials: Iterable[str]) -> dict[str, Commissioning]:
    """Of these serials of `gtin`: those known as commissioned, with their batch's lot and CMO and when."""
    rows = await conn.fetch(
        f"SELECT c.serial, c.lot, b.cmo_id, c.event_time, c.line_id FROM {RM}.commissioned c "
        f"LEFT JOIN {RM}.known_batches b ON b.gtin = c.gtin AND b.lot = c.lot "
        "WHERE c.gtin = $1 AND c.serial IN (SELECT json_array_elements_text($2::json))",
        gtin,
        json_list(sorted(set(serials))),
    )
    return {row["serial"]: Commissioning(row["lot"], row["cmo_id"], row["event_time"], row["line_id"]) for row in rows}


async def output_of(conn: Connection, batch: Batch, line_id: str, start: datetime, end: datetime) -> list[str]:
    """The batch's units commissioned on the line in [start, end), as known now."""
    rows = await conn.fetch(
        f"SELECT serial FROM {RM}.commissioned WHERE line_id = $1 AND event_time >= $2 AND event_time < $3 "
        "AND gtin = $4 AND lot = $5 ORDER BY serial",
        line_id,
        start,
        end,
        batch.gtin,
        batch.lot,
    )
    return [row["serial"] for row in rows]
