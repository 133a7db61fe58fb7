"""What the hub service decides with, folded from its own log in the transaction of each
append: every serial of a batch planned for the hub (sent, or left out), each chunk and what
the hub acknowledged of it, and each product's master data versions and which the hub took.
So no serial is planned twice under concurrent uploads, a chunk's serials are read back exactly
as planned when it is sent, and "every chunk acknowledged" is known the moment it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from serialtrail_contracts.fmd import (
    ChunkAcknowledged,
    MasterDataAcknowledged,
    MasterDataVersioned,
    PacksLeftOut,
    PacksPlanned,
    UploadPlanned,
)
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore.model import RecordedEvent


class Planned:
    name = "planned"
    tables: tuple[str, ...] = ("planned_packs", "planned_chunks", "master_data")

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.planned_packs (
            gtin text NOT NULL, serial text NOT NULL, lot text NOT NULL, upload_id uuid NOT NULL,
            chunk integer, left_out text, PRIMARY KEY (gtin, serial)
        );
        CREATE INDEX ON {schema}.planned_packs (upload_id, chunk, serial);
        CREATE TABLE {schema}.planned_chunks (
            upload_id uuid NOT NULL, chunk integer NOT NULL, gtin text NOT NULL, lot text NOT NULL,
            packs integer NOT NULL, acknowledged integer, acknowledged_at bigint, PRIMARY KEY (upload_id, chunk)
        );
        CREATE TABLE {schema}.master_data (
            gtin text NOT NULL, version integer NOT NULL, payload jsonb NOT NULL, acknowledged boolean NOT NULL,
            PRIMARY KEY (gtin, version)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        packs = [_pack_row(e, s) for e in events if e.event_type in PACK_EVENTS for s in e.payload["serials"]]
        if packs:  # the primary key is the last line of defence: a serial planned twice rolls the unit back
            await conn.execute(
                f"INSERT INTO {schema}.planned_packs (gtin, serial, lot, upload_id, chunk, left_out) "
                "SELECT gtin, serial, lot, upload_id, chunk, left_out FROM json_to_recordset($1::json) "
                "AS r(gtin text, serial text, lot text, upload_id uuid, chunk integer, left_out text)",
                json_list(packs),
            )
        for event in events:
            await _apply_one(conn, schema, event)


PACK_EVENTS = (PacksPlanned.EVENT_TYPE, PacksLeftOut.EVENT_TYPE)


def _pack_row(event: RecordedEvent, serial: str) -> dict[str, Any]:
    p = event.payload
    return {
        "gtin": p["gtin"],
        "serial": serial,
        "lot": p["lot"],
        "upload_id": p["upload_id"],
        "chunk": p.get("chunk"),
        "left_out": p.get("state"),
    }


async def _apply_one(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    if event.event_type == UploadPlanned.EVENT_TYPE:
        await conn.executemany(
            f"INSERT INTO {schema}.planned_chunks (upload_id, chunk, gtin, lot, packs) VALUES ($1, $2, $3, $4, $5)",
            [(UUID(p["upload_id"]), c["index"], p["gtin"], p["lot"], c["packs"]) for c in p["chunks"]],
        )
    elif event.event_type == ChunkAcknowledged.EVENT_TYPE:
        await conn.execute(
            f"UPDATE {schema}.planned_chunks SET acknowledged = $3, acknowledged_at = $4 "
            "WHERE upload_id = $1 AND chunk = $2",
            UUID(p["upload_id"]),
            p["chunk"],
            p["packs"],
            event.global_position,
        )
    elif event.event_type == MasterDataVersioned.EVENT_TYPE:
        await conn.execute(
            f"INSERT INTO {schema}.master_data (gtin, version, payload, acknowledged) VALUES ($1, $2, $3, false)",
            p["gtin"],
            p["version"],
            p,
        )
    elif event.event_type == MasterDataAcknowledged.EVENT_TYPE:
        await conn.execute(
            f"UPDATE {schema}.master_data SET acknowledged = true WHERE gtin = $1 AND version = $2",
            p["gtin"],
            p["version"],
        )


async def latest_master_data(conn: Connection, schema: str, gtin: str) -> tuple[MasterDataVersioned, bool] | None:
    """The product's latest version, and whether the hub acknowledged it."""
    row = await conn.fetchrow(
        f"SELECT payload, acknowledged FROM {schema}.master_data WHERE gtin = $1 ORDER BY version DESC LIMIT 1", gtin
    )
    return None if row is None else (MasterDataVersioned.model_validate(row["payload"]), row["acknowledged"])


async def acknowledged_master_data(conn: Connection, schema: str, gtin: str) -> MasterDataVersioned | None:
    """The latest version the hub acknowledged: the one a batch planned now is uploaded under."""
    row = await conn.fetchrow(
        f"SELECT payload FROM {schema}.master_data WHERE gtin = $1 AND acknowledged ORDER BY version DESC LIMIT 1",
        gtin,
    )
    return None if row is None else MasterDataVersioned.model_validate(row["payload"])


async def planned_serials(conn: Connection, schema: str, gtin: str, lot: str) -> set[str]:
    rows = await conn.fetch(f"SELECT serial FROM {schema}.planned_packs WHERE gtin = $1 AND lot = $2", gtin, lot)
    return {row["serial"] for row in rows}


async def chunk_serials(conn: Connection, schema: str, upload_id: UUID, chunk: int) -> list[str]:
    rows = await conn.fetch(
        f"SELECT serial FROM {schema}.planned_packs WHERE upload_id = $1 AND chunk = $2 ORDER BY serial",
        upload_id,
        chunk,
    )
    return [row["serial"] for row in rows]


@dataclass(frozen=True)
class Acknowledged:
    """A batch's chunks as the hub acknowledged them, when `position` completed an upload."""

    planned: int  # packs planned by every upload of the batch
    acknowledged: int  # packs the hub acknowledged, chunk by chunk


async def completed_by(conn: Connection, schema: str, upload_id: UUID, position: int) -> Acknowledged | None:
    """The batch's counts if the acknowledgement at `position` was the upload's last one, else None."""
    row = await conn.fetchrow(
        f"SELECT gtin, lot, bool_and(acknowledged_at IS NOT NULL) AS done, max(acknowledged_at) AS last "
        f"FROM {schema}.planned_chunks WHERE upload_id = $1 GROUP BY gtin, lot",
        upload_id,
    )
    if row is None or not row["done"] or row["last"] != position:
        return None
    totals = await conn.fetchrow(
        f"SELECT sum(packs) AS planned, sum(acknowledged) AS acknowledged FROM {schema}.planned_chunks "
        "WHERE gtin = $1 AND lot = $2",
        row["gtin"],
        row["lot"],
    )
    assert totals is not None  # an aggregate answers a row
    return Acknowledged(int(totals["planned"]), int(totals["acknowledged"] or 0))
