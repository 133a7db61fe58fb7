"""Capture jobs as their senders read them (`GET /capture/{id}`): what was received, how it ended,
and each error. A fold of this service's own log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from serialtrail_contracts.epcis import CaptureFinished, CaptureReceived, Named, Scope
from serialtrail_contracts.identity import Principal, Target
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import RecordedEvent

from epcis_reporting.domain.capture import job_owner

SOURCE = "epcis_reporting"
RM = "epcis_reporting_rm"
SCANNED = 10_000
_COLUMNS = (
    "capture_id::text AS capture_id, principal_id, behaviour, document_format, size_bytes, events, captured, "
    "errors, created_at, finished_at, scope, names"
)


class JobsProjection:
    name = "capture_jobs"
    source = SOURCE
    tables: tuple[str, ...] = ("capture_jobs",)
    event_types = (CaptureReceived.EVENT_TYPE, CaptureFinished.EVENT_TYPE)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.capture_jobs (
            capture_id uuid PRIMARY KEY, principal_id text NOT NULL, behaviour text NOT NULL,
            document_format text NOT NULL, size_bytes bigint NOT NULL, events integer NOT NULL,
            captured integer, errors jsonb, created_at timestamptz NOT NULL, finished_at timestamptz,
            scope jsonb NOT NULL, names jsonb NOT NULL
        );
        CREATE INDEX ON {schema}.capture_jobs (principal_id, created_at);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            if recorded.event_type == CaptureReceived.EVENT_TYPE:
                received = CaptureReceived.model_validate(recorded.payload)
                await conn.execute(
                    f"INSERT INTO {schema}.capture_jobs (capture_id, principal_id, behaviour, document_format, "
                    "size_bytes, events, created_at, scope, names) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, "
                    "$9::jsonb) ON CONFLICT DO NOTHING",
                    received.capture_id,
                    received.principal_id,
                    received.behaviour.value,
                    received.document_format.value,
                    received.size_bytes,
                    received.events,
                    recorded.recorded_at,
                    recorded.payload["scope"],
                    recorded.payload["names"],
                )
            elif recorded.event_type == CaptureFinished.EVENT_TYPE:
                finished = recorded.payload
                await conn.execute(
                    f"UPDATE {schema}.capture_jobs SET captured = $2, errors = $3::jsonb, finished_at = $4 "
                    "WHERE capture_id = $1",
                    UUID(finished["capture_id"]),
                    finished["captured"],
                    finished["errors"],
                    recorded.recorded_at,
                )


def owner(row: dict[str, Any]) -> Target:
    return job_owner(Scope.model_validate(row["scope"]), Named.model_validate(row["names"]))


def readable(principal: Principal, row: dict[str, Any]) -> bool:
    """A job is its capturer's, and its capturer's party's (see `job_owner`)."""
    return row["principal_id"] == principal.id or principal.missing_scope(owner(row)) is None


async def job(conn: Connection, capture_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM {RM}.capture_jobs WHERE capture_id = $1", capture_id)
    return dict(row) if row is not None else None


async def jobs(pool: Pool, principal: Principal, limit: int) -> list[dict[str, Any]]:
    """The newest jobs the principal may read. A narrowed key's are picked from the newest
    `SCANNED` jobs of everyone (a party captures far fewer documents than its lines send events)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM {RM}.capture_jobs ORDER BY created_at DESC, capture_id LIMIT $1",
            limit if principal.scope.is_unrestricted else SCANNED,
        )
    return [dict(row) for row in rows if readable(principal, dict(row))][:limit]
