"""Capture jobs as their senders read them (`GET /capture/{id}`): what was received, how it ended,
and each error. A fold of this service's own log. A job whose events were routed to other services
(`CaptureFinished.owners`) runs until each has decided (`OwnerDecided`): their refusals join its
errors, and under rollback a refusal leaves nothing of it captured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from serialtrail_contracts.epcis import CaptureFinished, CaptureReceived, OwnerDecided
from serialtrail_contracts.identity import Principal
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import RecordedEvent

from epcis_reporting.projections import party

SOURCE = "epcis_reporting"
RM = "epcis_reporting_rm"
_COLUMNS = (
    "capture_id::text AS capture_id, behaviour, document_format, size_bytes, events, captured, errors, created_at, "
    f"finished_at, {', '.join(party.COLUMNS)}"
)


class JobsProjection:
    name = "capture_jobs"
    source = SOURCE
    tables: tuple[str, ...] = ("capture_jobs",)
    event_types = (CaptureReceived.EVENT_TYPE, CaptureFinished.EVENT_TYPE, OwnerDecided.EVENT_TYPE)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.capture_jobs (
            capture_id uuid PRIMARY KEY, behaviour text NOT NULL,
            document_format text NOT NULL, size_bytes bigint NOT NULL, events integer NOT NULL,
            captured integer, errors jsonb, created_at timestamptz NOT NULL, finished_at timestamptz,
            awaiting text[] NOT NULL DEFAULT '{{}}',  -- the owners yet to decide
            {party.DDL}
        );
        CREATE INDEX ON {schema}.capture_jobs (principal_id, created_at);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            if recorded.event_type == CaptureReceived.EVENT_TYPE:
                received = CaptureReceived.model_validate(recorded.payload)
                await conn.execute(
                    f"INSERT INTO {schema}.capture_jobs (capture_id, behaviour, document_format, size_bytes, events, "
                    f"created_at, {', '.join(party.COLUMNS)}) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
                    received.capture_id,
                    received.behaviour.value,
                    received.document_format.value,
                    received.size_bytes,
                    received.events,
                    recorded.recorded_at,
                    *party.values(recorded.payload),
                )
            elif recorded.event_type == CaptureFinished.EVENT_TYPE:
                await _finished(conn, schema, recorded)
            elif recorded.event_type == OwnerDecided.EVENT_TYPE:
                await _decided(conn, schema, recorded)


async def _finished(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    """The job ends here, unless its events were routed: then when the last owner has decided."""
    finished = recorded.payload
    await conn.execute(
        f"UPDATE {schema}.capture_jobs SET captured = $2, errors = $3::jsonb, awaiting = $4, "
        "finished_at = CASE WHEN cardinality($4::text[]) = 0 THEN $5::timestamptz END WHERE capture_id = $1",
        UUID(finished["capture_id"]),
        finished["captured"],
        finished["errors"],
        finished.get("owners") or [],
        recorded.recorded_at,
    )


async def _decided(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    """An owner's decision (in one record or several, the last `last`): its refusals join the
    job's errors; the job ends with the last owner's last record."""
    decided = recorded.payload
    done = decided.get("last", True) and not decided.get("prepared", False)  # a check is not the decision
    await conn.execute(
        f"UPDATE {schema}.capture_jobs "
        "SET awaiting = CASE WHEN $7::boolean THEN array_remove(awaiting, $2) ELSE awaiting END, "
        "errors = errors || $3::jsonb, captured = CASE WHEN $4::boolean THEN 0 ELSE captured - $5 END, "
        "finished_at = CASE WHEN $7::boolean AND cardinality(array_remove(awaiting, $2)) = 0 THEN $6::timestamptz END "
        "WHERE capture_id = $1",
        UUID(decided["capture_id"]),
        decided["owner"],
        decided["refused"],
        decided["rolled_back"],
        decided["refused_count"],
        recorded.recorded_at,
        done,
    )


async def job(conn: Connection, capture_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM {RM}.capture_jobs WHERE capture_id = $1", capture_id)
    return dict(row) if row is not None else None


async def jobs(pool: Pool, principal: Principal, limit: int) -> list[dict[str, Any]]:
    """The newest jobs the principal may read: its own, and its party's (`party.visible`)."""
    args: list[Any] = []
    where = " AND ".join(party.visible(principal, args, "j")) or "true"
    args.append(limit)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM {RM}.capture_jobs j WHERE {where} "
            f"ORDER BY created_at DESC, capture_id LIMIT ${len(args)}",
            *args,
        )
    return [dict(row) for row in rows]
