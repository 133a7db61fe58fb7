"""What was sent to the hub and what it answered, per product and batch: the hub part of a QA
release review (`GET /v1/fmd/batches/{gtin}/{lot}`). A fold of this service's own log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from serialtrail_contracts import fmd
from serialtrail_kit.db import Connection, Pool, json_list
from serialtrail_kit.eventstore.model import RecordedEvent

from fmd_hub.projections.knowledge import RM

SOURCE = "fmd_hub"


class HubStatusProjection:
    name = "hub_status"
    source = SOURCE
    tables: tuple[str, ...] = (
        "master_data_versions",
        "uploads",
        "upload_chunks",
        "pack_state_changes",
        "batch_hub_states",
    )
    event_types = tuple(t for t, _ in fmd.EVENTS)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.master_data_versions (
            gtin text NOT NULL, version integer NOT NULL, status text NOT NULL, reason text,
            recorded_at timestamptz NOT NULL, PRIMARY KEY (gtin, version)
        );
        CREATE TABLE {schema}.uploads (
            upload_id uuid PRIMARY KEY, gtin text NOT NULL, lot text NOT NULL, planned_at timestamptz NOT NULL,
            master_data_version integer NOT NULL, markets text[] NOT NULL, commissioned integer NOT NULL,
            uploaded_before integer NOT NULL, left_out jsonb NOT NULL, states_after_upload jsonb NOT NULL,
            left_out_serials integer NOT NULL DEFAULT 0, reconciliation jsonb
        );
        CREATE INDEX ON {schema}.uploads (gtin, lot, planned_at);
        CREATE TABLE {schema}.upload_chunks (
            upload_id uuid NOT NULL, chunk integer NOT NULL, packs integer NOT NULL, status text NOT NULL,
            acknowledged integer, hub_batch_packs integer, reason text, attempts integer,
            PRIMARY KEY (upload_id, chunk)
        );
        CREATE TABLE {schema}.pack_state_changes (
            gtin text NOT NULL, serial text NOT NULL, seq integer NOT NULL, lot text NOT NULL, state text NOT NULL,
            undo boolean NOT NULL, status text NOT NULL, reason text, PRIMARY KEY (gtin, serial, seq)
        );
        CREATE INDEX ON {schema}.pack_state_changes (gtin, lot);
        CREATE TABLE {schema}.batch_hub_states (
            gtin text NOT NULL, lot text NOT NULL, state text NOT NULL, status text NOT NULL, reason text,
            PRIMARY KEY (gtin, lot)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            fold = FOLDS.get(event.event_type)
            if fold is not None:
                await fold(conn, schema, event)


async def _versioned(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    await conn.execute(
        f"INSERT INTO {schema}.master_data_versions VALUES ($1, $2, 'sending', NULL, $3)",
        p["gtin"],
        p["version"],
        event.recorded_at,
    )


async def _version_answered(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    acknowledged = event.event_type == fmd.MasterDataAcknowledged.EVENT_TYPE
    await conn.execute(
        f"UPDATE {schema}.master_data_versions SET status = $3, reason = $4 WHERE gtin = $1 AND version = $2",
        p["gtin"],
        p["version"],
        "acknowledged" if acknowledged else "refused",
        p.get("reason"),
    )


async def _planned(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    upload_id = UUID(p["upload_id"])
    await conn.execute(
        f"INSERT INTO {schema}.uploads (upload_id, gtin, lot, planned_at, master_data_version, markets, "
        "commissioned, uploaded_before, left_out, states_after_upload) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        upload_id,
        p["gtin"],
        p["lot"],
        event.recorded_at,
        p["master_data_version"],
        list(p["markets"]),
        p["commissioned"],
        p["uploaded_before"],
        p["left_out"],
        p["states_after_upload"],
    )
    await conn.executemany(
        f"INSERT INTO {schema}.upload_chunks (upload_id, chunk, packs, status) VALUES ($1, $2, $3, 'sending')",
        [(upload_id, c["index"], c["packs"]) for c in p["chunks"]],
    )


async def _left_out(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    await conn.execute(
        f"UPDATE {schema}.uploads SET left_out_serials = left_out_serials + $2 WHERE upload_id = $1",
        UUID(p["upload_id"]),
        len(p["serials"]),
    )


async def _chunk_answered(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    acknowledged = event.event_type == fmd.ChunkAcknowledged.EVENT_TYPE
    await conn.execute(
        f"UPDATE {schema}.upload_chunks SET status = $3, acknowledged = $4, hub_batch_packs = $5, reason = $6, "
        "attempts = $7 WHERE upload_id = $1 AND chunk = $2",
        UUID(p["upload_id"]),
        p["chunk"],
        "acknowledged" if acknowledged else "refused",
        p.get("packs"),
        p.get("batch_packs"),
        p.get("reason"),
        p["attempts"],
    )


async def _reconciled(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    if event.event_type == fmd.UploadReconciled.EVENT_TYPE:
        outcome = {key: p[key] for key in ("planned", "acknowledged", "hub_packs", "matched")}
    else:
        outcome = {"failed": p["reason"], "attempts": p["attempts"]}
    await conn.execute(
        f"UPDATE {schema}.uploads SET reconciliation = $2 WHERE upload_id = $1",
        UUID(p["upload_id"]),
        outcome | {"recorded_at": event.recorded_at.isoformat()},
    )


async def _states_after_upload(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    if p.get("states"):
        await conn.executemany(
            f"INSERT INTO {schema}.pack_state_changes VALUES ($1, $2, 1, $3, $4, false, 'pending', NULL)",
            [(p["gtin"], serial, p["lot"], state) for serial, state in p["states"].items()],
        )


async def _taken_out(conn: Connection, schema: str, event: RecordedEvent) -> None:
    """As the write side numbers a pack's changes: each the next after those before it (one
    statement for all the event's packs: a cascade takes thousands out at once)."""
    p = event.payload
    rows = [{"serial": s, "lot": lot, "status": "pending", "why": None} for s, lot in p.get("to_hub", {}).items()]
    rows += [{"serial": s, "lot": "", "status": "not-sent", "why": why} for s, why in p.get("refused_undo", {}).items()]
    if not rows:
        return
    await conn.execute(
        f"INSERT INTO {schema}.pack_state_changes "
        "SELECT $1, r.serial, 1 + coalesce(b.seq, 0), coalesce(nullif(r.lot, ''), b.lot, ''), $2, $3, r.status, r.why "
        "FROM json_to_recordset($4::json) AS r(serial text, lot text, status text, why text) "
        f"LEFT JOIN LATERAL (SELECT max(seq) AS seq, max(lot) AS lot FROM {schema}.pack_state_changes c "
        "WHERE c.gtin = $1 AND c.serial = r.serial) b ON true",
        p["gtin"],
        "Active" if p["undone"] else p["state"],
        p["undone"],
        json_list(rows),
    )


async def _state_answered(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    changed = event.event_type == fmd.PackStateChanged.EVENT_TYPE
    await conn.execute(
        f"UPDATE {schema}.pack_state_changes SET status = $4, reason = $5 WHERE gtin = $1 AND serial = $2 AND seq = $3",
        p["gtin"],
        p["serial"],
        p["seq"],
        "changed" if changed else "refused",
        p.get("reason"),
    )


async def _batch_state(conn: Connection, schema: str, event: RecordedEvent) -> None:
    p = event.payload
    if event.event_type == fmd.BatchStateRequested.EVENT_TYPE:
        await conn.execute(
            f"INSERT INTO {schema}.batch_hub_states VALUES ($1, $2, $3, 'sending', NULL)",
            p["gtin"],
            p["lot"],
            p["state"],
        )
        return
    changed = event.event_type == fmd.BatchStateChanged.EVENT_TYPE
    await conn.execute(
        f"UPDATE {schema}.batch_hub_states SET status = $3, reason = $4 WHERE gtin = $1 AND lot = $2",
        p["gtin"],
        p["lot"],
        "acknowledged" if changed else "refused",
        p.get("reason"),
    )


FOLDS = {
    fmd.PacksPlanned.EVENT_TYPE: _states_after_upload,
    fmd.TakenOutNoted.EVENT_TYPE: _taken_out,
    fmd.PackStateChanged.EVENT_TYPE: _state_answered,
    fmd.PackStateRefused.EVENT_TYPE: _state_answered,
    fmd.BatchStateRequested.EVENT_TYPE: _batch_state,
    fmd.BatchStateChanged.EVENT_TYPE: _batch_state,
    fmd.BatchStateRefused.EVENT_TYPE: _batch_state,
    fmd.MasterDataVersioned.EVENT_TYPE: _versioned,
    fmd.MasterDataAcknowledged.EVENT_TYPE: _version_answered,
    fmd.MasterDataRefused.EVENT_TYPE: _version_answered,
    fmd.UploadPlanned.EVENT_TYPE: _planned,
    fmd.PacksLeftOut.EVENT_TYPE: _left_out,
    fmd.ChunkAcknowledged.EVENT_TYPE: _chunk_answered,
    fmd.ChunkRefused.EVENT_TYPE: _chunk_answered,
    fmd.UploadReconciled.EVENT_TYPE: _reconciled,
    fmd.ReconciliationFailed.EVENT_TYPE: _reconciled,
}


async def uploads_of(pool: Pool, gtin: str, lot: str) -> list[dict[str, Any]]:
    """The batch's uploads, oldest first, each with its chunks."""
    async with pool.acquire() as conn:
        uploads = await conn.fetch(
            f"SELECT * FROM {RM}.uploads WHERE gtin = $1 AND lot = $2 ORDER BY planned_at, upload_id", gtin, lot
        )
        chunks = await conn.fetch(
            f"SELECT * FROM {RM}.upload_chunks WHERE upload_id = ANY($1::uuid[]) ORDER BY upload_id, chunk",
            [row["upload_id"] for row in uploads],
        )
    by_upload: dict[UUID, list[dict[str, Any]]] = {}
    for chunk in chunks:
        by_upload.setdefault(chunk["upload_id"], []).append(dict(chunk))
    return [dict(row) | {"chunks": by_upload.get(row["upload_id"], [])} for row in uploads]


async def versions_of(pool: Pool, gtin: str) -> list[dict[str, Any]]:
    """The product's master data versions, oldest first, with the hub's answers."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT version, status, reason, recorded_at FROM {RM}.master_data_versions WHERE gtin = $1 "
            "ORDER BY version",
            gtin,
        )
    return [dict(row) for row in rows]


async def hub_states_of(pool: Pool, gtin: str, lot: str) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """The batch's recall or withdrawal (with the hub's answer), and its packs' changes by status."""
    async with pool.acquire() as conn:
        batch = await conn.fetchrow(
            f"SELECT state, status, reason FROM {RM}.batch_hub_states WHERE gtin = $1 AND lot = $2", gtin, lot
        )
        counts = await conn.fetch(
            f"SELECT status, count(*) AS n FROM {RM}.pack_state_changes WHERE gtin = $1 AND lot = $2 GROUP BY status",
            gtin,
            lot,
        )
    return (None if batch is None else dict(batch)), {row["status"]: row["n"] for row in counts}
