"""Putting jobs in: always in the transaction of what caused them, so a job exists exactly when
its cause was recorded (never a call for something rolled back, never a cause without its call).

Inside a write unit, `enqueue(work, outbound, jobs)`: the unit's connection, schema and
correlation. A job's id comes from its key (and cause): enqueueing the same key again, in a
retried request or a replay, adds nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from serialtrail_kit.db import Connection, ident
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.outbound.jobs import Job, job_id_of
from serialtrail_kit.outbound.schema import notify_channel
from serialtrail_kit.writes.model import UnitOfWork


@dataclass(frozen=True)
class Cause:
    """What a job continues: the causing event (when one), its correlation and trace, kept with
    the job so the receipt or failure recorded later carries them on."""

    correlation_id: str
    traceparent: str | None = None
    event_id: uuid.UUID | None = None

    @classmethod
    def of_event(cls, event: RecordedEvent) -> Cause:
        correlation = event.metadata.get("correlation_id") or event.event_id
        return cls(str(correlation), event.metadata.get("traceparent"), event.event_id)


class UnknownOutbound(LookupError):
    pass


async def enqueue(work: UnitOfWork, outbound: str, jobs: Iterable[Job]) -> list[uuid.UUID]:
    """Enqueue `jobs` for `outbound` in the unit's transaction: committed with what the unit
    records, rolled back with it. Returns the jobs' ids (those already there included)."""
    cause = Cause(work.meta.correlation_id, work.meta.traceparent)
    return await insert_jobs(work.conn, work.schema, outbound, jobs, cause)


async def insert_jobs(
    conn: Connection, schema: str, outbound: str, jobs: Iterable[Job], cause: Cause
) -> list[uuid.UUID]:
    """The jobs inserted in `conn`'s transaction (a job already there is left as it is), and the
    service's dispatchers woken when it commits."""
    rows = [(job_id_of(schema, outbound, job.key, cause.event_id), job) for job in jobs]
    if not rows:
        return []
    try:
        await conn.executemany(
            f"INSERT INTO {ident(schema)}.outbound_jobs "
            "(job_id, outbound, destination, job_key, cause_id, correlation_id, traceparent, payload) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job_id) DO NOTHING",
            [
                (
                    job_id,
                    outbound,
                    job.destination,
                    job.key,
                    cause.event_id,
                    cause.correlation_id,
                    cause.traceparent,
                    dict(job.payload),
                )
                for job_id, job in rows
            ],
        )
    except asyncpg.ForeignKeyViolationError as error:
        raise UnknownOutbound(f"{schema} declares no outbound named {outbound!r}") from error
    await conn.execute("SELECT pg_notify($1, $2)", notify_channel(schema), outbound)
    return [job_id for job_id, _ in rows]
