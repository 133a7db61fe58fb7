"""What the hub service decides with, folded from its own log in the transaction of each
append: every serial of a batch planned for the hub (sent, or left out), each chunk and what
the hub acknowledged of it, each product's master data versions and which the hub took, the
packs taken out of the supply chain not (yet) uploaded, the state changes to send for uploaded
ones, and batches recalled or withdrawn. So no serial is planned twice under concurrent
uploads, a chunk's serials are read back exactly as planned when it is sent, "every chunk
acknowledged" is known the moment it is, and a pack's state changes go one after the other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from serialtrail_contracts.exception_vocabulary import EuFmdPackState
from serialtrail_contracts.fmd import (
    AlertReceived,
    BatchStateRequested,
    ChunkAcknowledged,
    MasterDataAcknowledged,
    MasterDataVersioned,
    PacksLeftOut,
    PacksPlanned,
    PackStateChanged,
    PackStateRefused,
    TakenOutNoted,
    UploadPlanned,
)
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore.model import RecordedEvent


class Planned:
    name = "planned"
    tables: tuple[str, ...] = (
        "planned_packs",
        "planned_chunks",
        "master_data",
        "taken_out",
        "pack_states",
        "batch_states",
        "alert_cursor",
    )

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.planned_packs (
            gtin text NOT NULL, serial text NOT NULL, lot text NOT NULL, upload_id uuid NOT NULL,
            chunk integer, left_out text, PRIMARY KEY (gtin, serial)
        );
        -- a chunk read back as planned: in code point order, whatever the database's collation
        CREATE INDEX ON {schema}.planned_packs (upload_id, chunk, serial COLLATE "C");
        CREATE INDEX ON {schema}.planned_packs (gtin, lot);
        CREATE TABLE {schema}.planned_chunks (
            upload_id uuid NOT NULL, chunk integer NOT NULL, gtin text NOT NULL, lot text NOT NULL,
            expiry date NOT NULL, packs integer NOT NULL, acknowledged integer, acknowledged_at bigint,
            PRIMARY KEY (upload_id, chunk)
        );
        CREATE TABLE {schema}.taken_out (
            gtin text NOT NULL, serial text NOT NULL, state text NOT NULL, exception_id uuid NOT NULL,
            PRIMARY KEY (gtin, serial)
        );
        -- A pack's n-th change to send (seq), requested at a log position, answered at another.
        CREATE TABLE {schema}.pack_states (
            gtin text NOT NULL, serial text NOT NULL, seq integer NOT NULL, lot text NOT NULL, state text NOT NULL,
            undo boolean NOT NULL, location text NOT NULL, requested_at bigint NOT NULL, answered_at bigint,
            PRIMARY KEY (gtin, serial, seq)
        );
        CREATE INDEX ON {schema}.pack_states (requested_at);
        CREATE INDEX ON {schema}.pack_states (answered_at);
        CREATE TABLE {schema}.batch_states (
            gtin text NOT NULL, lot text NOT NULL, state text NOT NULL, PRIMARY KEY (gtin, lot)
        );
        -- Where the next fetch of the hub's alerts starts.
        CREATE TABLE {schema}.alert_cursor (one integer PRIMARY KEY CHECK (one = 1), cursor text NOT NULL);
        CREATE TABLE {schema}.master_data (
            gtin text NOT NULL, version integer NOT NULL, payload jsonb NOT NULL, acknowledged boolean NOT NULL,
            PRIMARY KEY (gtin, version)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        parts = [_part(e) for e in events if e.event_type in PACK_EVENTS]
        if parts:  # one JSON record per part, its serials expanded by PostgreSQL (a million is 100 parts)
            # The primary key is the last line of defence: a serial planned twice rolls the unit back.
            await conn.execute(
                f"INSERT INTO {schema}.planned_packs (gtin, serial, lot, upload_id, chunk, left_out) "
                "SELECT r.gtin, s.serial, r.lot, r.upload_id, r.chunk, r.left_out FROM json_to_recordset($1::json) "
                "AS r(gtin text, lot text, upload_id uuid, chunk integer, left_out text, serials json) "
                "CROSS JOIN LATERAL json_array_elements_text(r.serials) AS s(serial)",
                json_list(parts),
            )
        for event in events:
            await _apply_one(conn, schema, event)


PACK_EVENTS = (PacksPlanned.EVENT_TYPE, PacksLeftOut.EVENT_TYPE)


def _part(event: RecordedEvent) -> dict[str, Any]:
    p = event.payload
    return {
        "gtin": p["gtin"],
        "lot": p["lot"],
        "upload_id": p["upload_id"],
        "chunk": p.get("chunk"),
        "left_out": p.get("state"),
        "serials": p["serials"],
    }


async def _apply_one(conn: Connection, schema: str, event: RecordedEvent) -> None:
    fold = FOLDS.get(event.event_type)
    if fold is not None:
        await fold(conn, schema, event)


async def _upload_planned(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    await conn.executemany(
        f"INSERT INTO {schema}.planned_chunks (upload_id, chunk, gtin, lot, expiry, packs) "
        "VALUES ($1, $2, $3, $4, $5::text::date, $6)",
        [(UUID(p["upload_id"]), c["index"], p["gtin"], p["lot"], p["expiry"], c["packs"]) for c in p["chunks"]],
    )


async def _chunk_acknowledged(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    await conn.execute(
        f"UPDATE {schema}.planned_chunks SET acknowledged = $3, acknowledged_at = $4 "
        "WHERE upload_id = $1 AND chunk = $2",
        UUID(p["upload_id"]),
        p["chunk"],
        p["packs"],
        event.global_position,
    )


async def _master_data_versioned(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    await conn.execute(
        f"INSERT INTO {schema}.master_data (gtin, version, payload, acknowledged) VALUES ($1, $2, $3, false)",
        p["gtin"],
        p["version"],
        p,
    )


async def _master_data_acknowledged(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    await conn.execute(
        f"UPDATE {schema}.master_data SET acknowledged = true WHERE gtin = $1 AND version = $2", p["gtin"], p["version"]
    )


async def _states_after_upload(conn: Connection, schema: str, event: RecordedEvent) -> None:
    """A pack uploaded Active whose state follows: its first change, sent once its chunk is acknowledged."""
    p = event.payload
    if p.get("states"):
        rows = [(p["gtin"], serial, p["lot"], state) for serial, state in p["states"].items()]
        await conn.executemany(
            f"INSERT INTO {schema}.pack_states (gtin, serial, seq, lot, state, undo, location, requested_at) "
            "VALUES ($1, $2, 1, $3, $4, false, 'before-upload', $5)",
            [(*row, event.global_position) for row in rows],
        )


async def _taken_out(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    to_hub = p.get("to_hub", {})
    kept = [s for s in p["serials"] if s not in to_hub and s not in p.get("refused_undo", {})]
    if p["undone"]:
        await conn.execute(
            f"DELETE FROM {schema}.taken_out WHERE gtin = $1 AND exception_id = $2 "
            "AND serial IN (SELECT json_array_elements_text($3::json))",
            p["gtin"],
            UUID(p["exception_id"]),
            json_list(kept),
        )
    elif kept:
        await conn.execute(
            f"INSERT INTO {schema}.taken_out (gtin, serial, state, exception_id) "
            "SELECT $1, s, $2, $3 FROM json_array_elements_text($4::json) AS s ON CONFLICT (gtin, serial) "
            "DO UPDATE SET state = excluded.state, exception_id = excluded.exception_id",
            p["gtin"],
            p["state"],
            UUID(p["exception_id"]),
            json_list(kept),
        )
    if to_hub:  # each the pack's next change, after those before it
        await conn.execute(
            f"INSERT INTO {schema}.pack_states (gtin, serial, seq, lot, state, undo, location, requested_at) "
            f"SELECT $1, r.serial, 1 + coalesce((SELECT max(seq) FROM {schema}.pack_states s "
            "WHERE s.gtin = $1 AND s.serial = r.serial), 0), r.lot, $2, $3, $4, $5 "
            "FROM json_each_text($6::json) AS r(serial, lot)",
            p["gtin"],
            "Active" if p["undone"] else p["state"],
            p["undone"],
            p["location"],
            event.global_position,
            orjson.dumps(to_hub).decode(),
        )


async def _state_answered(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    await conn.execute(
        f"UPDATE {schema}.pack_states SET answered_at = $4 WHERE gtin = $1 AND serial = $2 AND seq = $3",
        p["gtin"],
        p["serial"],
        p["seq"],
        event.global_position,
    )


async def _batch_state(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    await conn.execute(f"INSERT INTO {schema}.batch_states VALUES ($1, $2, $3)", p["gtin"], p["lot"], p["state"])


async def _alert(conn: Connection, schema: str, event: RecordedEvent) -> None:
    cursor = event.payload.get("next_cursor")
    if cursor is not None:
        await conn.execute(
            f"INSERT INTO {schema}.alert_cursor VALUES (1, $1) "
            "ON CONFLICT (one) DO UPDATE SET cursor = excluded.cursor",
            cursor,
        )


FOLDS = {
    UploadPlanned.EVENT_TYPE: _upload_planned,
    ChunkAcknowledged.EVENT_TYPE: _chunk_acknowledged,
    MasterDataVersioned.EVENT_TYPE: _master_data_versioned,
    MasterDataAcknowledged.EVENT_TYPE: _master_data_acknowledged,
    AlertReceived.EVENT_TYPE: _alert,
    PacksPlanned.EVENT_TYPE: _states_after_upload,
    TakenOutNoted.EVENT_TYPE: _taken_out,
    PackStateChanged.EVENT_TYPE: _state_answered,
    PackStateRefused.EVENT_TYPE: _state_answered,
    BatchStateRequested.EVENT_TYPE: _batch_state,
}


async def alert_cursor(conn: Connection, schema: str) -> str | None:
    found: str | None = await conn.fetchval(f"SELECT cursor FROM {schema}.alert_cursor")
    return found


async def taken_out_of(conn: Connection, schema: str, gtin: str) -> dict[str, EuFmdPackState]:
    """The product's packs out of the supply chain that no upload planned yet, with their pack state."""
    rows = await conn.fetch(f"SELECT serial, state FROM {schema}.taken_out WHERE gtin = $1", gtin)
    return {row["serial"]: EuFmdPackState(row["state"]) for row in rows}


async def planned_lots(conn: Connection, schema: str, gtin: str, serials: Sequence[str]) -> dict[str, str]:
    """Of these serials, those planned to be sent to the hub (not left out), with their lot."""
    rows = await conn.fetch(
        f"SELECT serial, lot FROM {schema}.planned_packs WHERE gtin = $1 AND left_out IS NULL "
        "AND serial IN (SELECT json_array_elements_text($2::json))",
        gtin,
        json_list(list(serials)),
    )
    return {row["serial"]: row["lot"] for row in rows}


async def batch_state(conn: Connection, schema: str, gtin: str, lot: str) -> str | None:
    found: str | None = await conn.fetchval(
        f"SELECT state FROM {schema}.batch_states WHERE gtin = $1 AND lot = $2", gtin, lot
    )
    return found


async def has_upload(conn: Connection, schema: str, gtin: str, lot: str) -> bool:
    found = await conn.fetchval(
        f"SELECT 1 FROM {schema}.planned_chunks WHERE gtin = $1 AND lot = $2 LIMIT 1", gtin, lot
    )
    return found is not None


async def ready_at(conn: Connection, schema: str, position: int) -> list[dict[str, Any]]:
    """The state changes that became sendable at `position`: requested, their pack's chunk
    acknowledged, and the pack's change before them answered, the last of those three at
    `position`. Each change is sendable at exactly one position, so it is sent once."""
    rows = await conn.fetch(
        f"""
        SELECT s.gtin, s.serial, s.seq, s.lot, s.state, s.undo, s.location, c.expiry
        FROM {schema}.pack_states s
        JOIN {schema}.planned_packs p ON p.gtin = s.gtin AND p.serial = s.serial
        JOIN {schema}.planned_chunks c ON c.upload_id = p.upload_id AND c.chunk = p.chunk
        LEFT JOIN {schema}.pack_states b ON b.gtin = s.gtin AND b.serial = s.serial AND b.seq = s.seq - 1
        WHERE (s.requested_at = $1 OR c.acknowledged_at = $1 OR b.answered_at = $1)
          AND c.acknowledged_at IS NOT NULL AND (s.seq = 1 OR b.answered_at IS NOT NULL)
          AND greatest(s.requested_at, c.acknowledged_at, coalesce(b.answered_at, 0)) = $1
        ORDER BY s.gtin, s.serial, s.seq
        """,
        position,
    )
    return [dict(row) for row in rows]


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
    found = await conn.fetchval(
        f"SELECT array_agg(serial) FROM {schema}.planned_packs WHERE gtin = $1 AND lot = $2", gtin, lot
    )
    return set(found or ())


async def chunk_serials(conn: Connection, schema: str, upload_id: UUID, chunk: int) -> list[str]:
    # One array, not a row per serial: a chunk is 250,000 of them.
    found = await conn.fetchval(
        f'SELECT array_agg(serial ORDER BY serial COLLATE "C") FROM {schema}.planned_packs '
        "WHERE upload_id = $1 AND chunk = $2",
        upload_id,
        chunk,
    )
    return list(found or ())


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
