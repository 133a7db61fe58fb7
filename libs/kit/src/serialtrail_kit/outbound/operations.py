"""What an operator does with jobs (`serialtrail jobs …`): find them, read one's history, and
send a dead one back to be tried again.

A retry is a record: who, when and why go into the job's history, and onto the service's log
when the outbound declares an event for it (`Outcomes.retried`), in the same transaction as
the job's return to `pending`. The job keeps its idempotency key, so a remote that had in fact
accepted it recognises the repeat: a retried job is delivered once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from serialtrail_kit.db import Connection, Pool, ident
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.outbound.declared import Outcomes
from serialtrail_kit.outbound.jobs import JobRecord, JobState, OperatorRetry
from serialtrail_kit.outbound.outcomes import APPEND_HISTORY
from serialtrail_kit.outbound.schema import notify_channel
from serialtrail_kit.writes.model import WriteModel


class NotRetryable(Exception):
    """Only a dead job can be retried (a pending one will be sent anyway; a delivered one was)."""


async def schemas_with_jobs(pool: Pool) -> list[str]:
    """The schemas (services) that keep outbound jobs in this database."""
    rows = await pool.fetch(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbound_jobs' ORDER BY 1"
    )
    return [row["table_schema"] for row in rows]


async def list_jobs(
    pool: Pool,
    schema: str,
    *,
    states: Sequence[JobState] = (),
    destination: str | None = None,
    outbound: str | None = None,
    limit: int = 100,
) -> list[JobRecord]:
    """The most recently changed jobs first, narrowed by state, destination and outbound."""
    rows = await pool.fetch(
        f"SELECT * FROM {ident(schema)}.outbound_jobs "
        "WHERE (cardinality($1::text[]) = 0 OR state = ANY($1::text[])) "
        "AND ($2::text IS NULL OR destination = $2) AND ($3::text IS NULL OR outbound = $3) "
        "ORDER BY updated_at DESC, job_id LIMIT $4",
        [state.value for state in states],
        destination,
        outbound,
        limit,
    )
    return [JobRecord.of(row) for row in rows]


async def find_job(pool: Pool, schema: str, job_id: uuid.UUID) -> JobRecord | None:
    row = await pool.fetchrow(f"SELECT * FROM {ident(schema)}.outbound_jobs WHERE job_id = $1", job_id)
    return None if row is None else JobRecord.of(row)


async def retry_dead(
    writes: WriteModel, job_id: uuid.UUID, meta: RecordMetadata, outcomes: Outcomes | None = None
) -> JobRecord:
    """Send a dead job back to `pending`, due now, with its attempts counted afresh. `meta` says
    who and why (its `reason`); with `outcomes.retried`, the retry is also an event on the log."""
    retry = OperatorRetry(by=meta.principal_id, reason=meta.reason)
    async with writes.unit(meta) as work:
        job = await _dead_job(work.conn, work.schema, job_id)
        await work.conn.execute(
            f"UPDATE {work.schema}.outbound_jobs SET state = 'pending', attempts = 0, claim_id = NULL, "
            f"due_at = clock_timestamp(), updated_at = clock_timestamp(), {APPEND_HISTORY} WHERE job_id = $1",
            job_id,
            {"outcome": "retried", "by": retry.by, "reason": retry.reason},
        )
        if outcomes is not None and outcomes.retried is not None:
            stream = outcomes.stream(job)
            work.record(stream, await work.version(stream), [outcomes.retried(job, retry)])
        await work.conn.execute("SELECT pg_notify($1, $2)", notify_channel(work.schema), job.outbound)
    found = await find_job(writes.store.pool, writes.store.schema, job_id)
    assert found is not None
    return found


async def _dead_job(conn: Connection, schema: str, job_id: uuid.UUID) -> JobRecord:
    row = await conn.fetchrow(f"SELECT * FROM {schema}.outbound_jobs WHERE job_id = $1 FOR UPDATE", job_id)
    if row is None:
        raise LookupError(f"no job {job_id} in {schema}")
    job = JobRecord.of(row)
    if job.state is not JobState.dead:
        raise NotRetryable(f"job {job_id} is {job.state.value}, not dead: only a dead job is retried")
    return job
