"""Recording what an attempt came to, in the transaction that changes the job's state: a
delivery with the service's receipt event, a death with its failure event, a failure worth
retrying with the job's next due time. Each is appended to the job's history.

An outcome counts only for the claim it belongs to: a sender whose lease ended (the job was
claimed again meanwhile) finds its failure noted in the history and nothing else changed. A
delivery is a fact whoever reports it: it ends the job if the job is still open, and the later
attempt's outcome is then the one ignored."""

from __future__ import annotations

from typing import Any

from serialtrail_contracts.base import EventContract

from serialtrail_kit.db import Connection
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.outbound.declared import Outcomes
from serialtrail_kit.outbound.jobs import Delivered, Failure, JobRecord, JobState, Permanent, Retryable, bounded
from serialtrail_kit.outbound.policy import DestinationPolicy
from serialtrail_kit.writes.model import UnitOfWork, WriteModel

# The history entry given as $2, stamped with the database's clock.
APPEND_HISTORY = "history = history || jsonb_build_array(jsonb_build_object('at', clock_timestamp()) || $2::jsonb)"


class Recorder:
    def __init__(self, writes: WriteModel, outbound: str, outcomes: Outcomes, software: tuple[str, str]) -> None:
        self.writes = writes
        self.schema = writes.store.schema
        self.outbound = outbound
        self.outcomes = outcomes
        self.software = software
        self._jobs = f"{self.schema}.outbound_jobs"

    async def delivered(self, job: JobRecord, delivered: Delivered) -> None:
        entry = {"attempt": job.attempts, "outcome": "delivered", "status": delivered.status}
        async with self.writes.unit(self.metadata(job)) as work:
            if await self._state(work.conn, job) not in (JobState.pending, JobState.sending):
                await self._ignore(work.conn, job, entry)
                return
            await self._change(work.conn, job, "state = 'delivered', claim_id = NULL, last_reason = NULL", entry)
            await self._record(work, job, self.outcomes.delivered(job, delivered))

    async def failed(self, job: JobRecord, outcome: Retryable | Permanent, policy: DestinationPolicy) -> None:
        """Dead when refused for good or out of attempts; else due again after a backoff."""
        if isinstance(outcome, Permanent) or job.attempts >= policy.max_attempts:
            failure = Failure(bounded(outcome.reason), outcome.status, job.attempts, isinstance(outcome, Permanent))
            await self.dead(job, failure)
            return
        delay = policy.backoff(job.attempts, outcome.retry_after)
        entry = {
            "attempt": job.attempts,
            "outcome": "retry",
            "status": outcome.status,
            "reason": bounded(outcome.reason),
        }
        async with self.writes.store.pool.acquire() as conn:
            status = await conn.execute(
                f"UPDATE {self._jobs} SET state = 'pending', claim_id = NULL, last_reason = $3, "
                "due_at = clock_timestamp() + make_interval(secs => $4), updated_at = clock_timestamp(), "
                f"{APPEND_HISTORY} WHERE job_id = $1 AND state = 'sending' AND claim_id = $5",
                job.job_id,
                entry | {"retry_in_seconds": round(delay, 3)},
                bounded(outcome.reason),
                delay,
                job.claim_id,
            )
            if status.endswith(" 0"):
                await self._ignore(conn, job, entry)

    async def dead(self, job: JobRecord, failure: Failure) -> None:
        entry = {
            "attempt": job.attempts,
            "outcome": "dead",
            "status": failure.status,
            "reason": bounded(failure.reason),
        }
        async with self.writes.unit(self.metadata(job)) as work:
            if await self._state(work.conn, job, claimed=True) is not JobState.sending:
                await self._ignore(work.conn, job, entry)
                return
            change = "state = 'dead', claim_id = NULL, last_reason = $3"
            await self._change(work.conn, job, change, entry, bounded(failure.reason))
            await self._record(work, job, self.outcomes.dead(job, failure))

    def metadata(self, job: JobRecord) -> RecordMetadata:
        """Recorded by the outbound itself, continuing the job's cause (correlation, trace)."""
        version, digest = self.software
        return RecordMetadata(
            principal_id=f"outbound:{self.schema}.{self.outbound}",
            principal_role="system",
            auth_method="outbound",
            correlation_id=job.correlation_id,
            causation_id=None if job.cause_id is None else str(job.cause_id),
            traceparent=job.traceparent,
            software_version=version,
            config_digest=digest,
        )

    async def _state(self, conn: Connection, job: JobRecord, *, claimed: bool = False) -> JobState | None:
        """The job's state, its row locked; None when `claimed` and the claim is no longer this one."""
        row = await conn.fetchrow(f"SELECT state, claim_id FROM {self._jobs} WHERE job_id = $1 FOR UPDATE", job.job_id)
        if row is None or (claimed and row["claim_id"] != job.claim_id):
            return None
        return JobState(row["state"])

    async def _change(self, conn: Connection, job: JobRecord, change: str, entry: dict[str, Any], *extra: Any) -> None:
        await conn.execute(
            f"UPDATE {self._jobs} SET {change}, updated_at = clock_timestamp(), {APPEND_HISTORY} WHERE job_id = $1",
            job.job_id,
            entry,
            *extra,
        )

    async def _ignore(self, conn: Connection, job: JobRecord, entry: dict[str, Any]) -> None:
        """An outcome that came too late to count (another claim, or the job already ended): kept for the record."""
        late = entry | {"ignored": "reported after the job was claimed again or had ended"}
        await conn.execute(f"UPDATE {self._jobs} SET {APPEND_HISTORY} WHERE job_id = $1", job.job_id, late)

    async def _record(self, work: UnitOfWork, job: JobRecord, event: EventContract) -> None:
        stream = self.outcomes.stream(job)
        work.record(stream, await work.version(stream), [event])
