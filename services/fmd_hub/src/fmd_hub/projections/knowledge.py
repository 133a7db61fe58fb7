"""What the hub service knows of serial issuance, learnt only from its `serials` events:
products (and the markets they are registered for), batches (with the CMO that packs them) and
which batch each commissioned serial belongs to. Master data and uploads are checked against it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from serialtrail_contracts.serials import BatchRegistered, LineRegistered, ProductRegistered, SerialsCommissioned
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.readers.copying import copied_or_inserted, copy_text, grouped_lines

from fmd_hub.domain.uploads import Batch

SOURCE = "serial_issuance"
RM = "fmd_hub_rm"  # where this service's read models are served from


class KnowledgeProjection:
    name = "knowledge"
    source = SOURCE
    tables: tuple[str, ...] = ("known_products", "known_batches", "commissioned", "known_lines")
    event_types = (
        ProductRegistered.EVENT_TYPE,
        BatchRegistered.EVENT_TYPE,
        SerialsCommissioned.EVENT_TYPE,
        LineRegistered.EVENT_TYPE,
    )

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.known_products (
            gtin text PRIMARY KEY, name text NOT NULL, target_markets text[] NOT NULL
        );
        CREATE TABLE {schema}.known_batches (
            gtin text NOT NULL, lot text NOT NULL, expiry date NOT NULL, cmo_id text, site_gln text NOT NULL,
            PRIMARY KEY (gtin, lot)
        );
        CREATE TABLE {schema}.commissioned (
            gtin text NOT NULL, serial text NOT NULL, lot text NOT NULL, PRIMARY KEY (gtin, serial)
        );
        CREATE INDEX ON {schema}.commissioned (gtin, lot);
        CREATE TABLE {schema}.known_lines (line_id text PRIMARY KEY, site_gln text NOT NULL);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        commissioned: list[dict[str, Any]] = []
        for event in events:
            p = event.payload
            if event.event_type == SerialsCommissioned.EVENT_TYPE:
                commissioned.append({"gtin": p["gtin"], "lot": p["lot"], "serials": p["serials"]})
            elif event.event_type == BatchRegistered.EVENT_TYPE:
                await conn.execute(
                    f"INSERT INTO {schema}.known_batches VALUES ($1, $2, $3::text::date, $4, $5) "
                    "ON CONFLICT DO NOTHING",
                    p["gtin"],
                    p["lot"],
                    p["expiry"],
                    p.get("cmo_id"),
                    p["site_gln"],
                )
            elif event.event_type == LineRegistered.EVENT_TYPE:
                await conn.execute(
                    f"INSERT INTO {schema}.known_lines VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    p["line_id"],
                    p["site_gln"],
                )
            elif event.event_type == ProductRegistered.EVENT_TYPE:
                await conn.execute(
                    f"INSERT INTO {schema}.known_products VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    p["gtin"],
                    p["name"],
                    list(p.get("target_markets", ())),
                )
        if commissioned:  # copied in, or inserted where one is there already (see `copying`)
            await copied_or_inserted(
                conn, lambda: _copied(conn, schema, commissioned), lambda: _inserted(conn, schema, commissioned)
            )


async def _copied(conn: Connection, schema: str, commissioned: list[dict[str, Any]]) -> None:
    lines = grouped_lines([(c["serials"], (c["gtin"], c["lot"])) for c in commissioned])
    await copy_text(conn, schema, "commissioned", ("serial", "gtin", "lot"), lines)


async def _inserted(conn: Connection, schema: str, commissioned: list[dict[str, Any]]) -> None:
    """One JSON record per event, its serials expanded by PostgreSQL in log order (the first wins)."""
    await conn.execute(
        f"INSERT INTO {schema}.commissioned (gtin, serial, lot) SELECT e.gtin, s.serial, e.lot "
        "FROM json_to_recordset($1::json) AS e(n integer, gtin text, lot text, serials json) "
        "CROSS JOIN LATERAL json_array_elements_text(e.serials) WITH ORDINALITY AS s(serial, i) "
        "ORDER BY e.n, s.i ON CONFLICT DO NOTHING",
        json_list([{"n": n, **c} for n, c in enumerate(commissioned)]),
    )


@dataclass(frozen=True)
class Product:
    gtin: str
    name: str
    target_markets: tuple[str, ...]


async def product(conn: Connection, gtin: str) -> Product | None:
    row = await conn.fetchrow(f"SELECT name, target_markets FROM {RM}.known_products WHERE gtin = $1", gtin)
    return None if row is None else Product(gtin, row["name"], tuple(row["target_markets"]))


async def batch(conn: Connection, gtin: str, lot: str) -> Batch | None:
    row = await conn.fetchrow(
        f"SELECT expiry, cmo_id, site_gln FROM {RM}.known_batches WHERE gtin = $1 AND lot = $2", gtin, lot
    )
    return None if row is None else Batch(gtin, lot, row["expiry"], row["cmo_id"], row["site_gln"])


async def commissioned(conn: Connection, gtin: str, lot: str) -> list[str]:
    """One array, not a row per serial: a batch is a million of them."""
    found = await conn.fetchval(
        f"SELECT array_agg(serial) FROM {RM}.commissioned WHERE gtin = $1 AND lot = $2", gtin, lot
    )
    return found or []  # asyncpg's list as it is: a copy would be another 8 MB a million


async def site_of(conn: Connection, line_id: str) -> str | None:
    found: str | None = await conn.fetchval(f"SELECT site_gln FROM {RM}.known_lines WHERE line_id = $1", line_id)
    return found
