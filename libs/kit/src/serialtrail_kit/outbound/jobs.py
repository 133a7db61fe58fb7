"""What the outbound worker passes around: a job to enqueue, a job as stored, one attempt at
sending it, and what an attempt came to. No I/O here."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# Job ids are derived, never drawn: the same cause and key give the same id, so enqueueing
# again (a replay, a retried request) finds the job already there.
JOB_NAMESPACE = uuid.UUID("6f0d3b0e-8a53-5b8e-9d3c-2f6c4f1f0b7a")
REASON_LIMIT = 500  # characters of a reason kept: enough to see why, bounded against a chatty remote


class JobState(StrEnum):
    pending = "pending"  # waiting until its due time
    sending = "sending"  # claimed by a dispatcher until its lease ends
    delivered = "delivered"  # the remote accepted it (a receipt is on the log)
    dead = "dead"  # given up on (a failure is on the log) until an operator retries it


@dataclass(frozen=True)
class Job:
    """A call to make: to `destination` (whose limits apply), known by `key`, sending `payload`
    (JSON values; the service's `send` turns it into the request)."""

    destination: str
    key: str
    payload: Mapping[str, Any] = field(default_factory=dict)


def job_id_of(schema: str, outbound: str, key: str, cause_id: uuid.UUID | None = None) -> uuid.UUID:
    """The job's id, from where it is kept, which outbound sends it, its cause (if any) and its key."""
    cause = "" if cause_id is None else str(cause_id)
    return uuid.uuid5(JOB_NAMESPACE, f"{schema}/{outbound}/{cause}/{key}")


@dataclass(frozen=True)
class JobRecord:
    """A job as stored, with what happened to it so far (`history`: one entry per attempt,
    lease expiry and operator retry, oldest first)."""

    job_id: uuid.UUID
    outbound: str
    destination: str
    key: str
    payload: Mapping[str, Any]
    cause_id: uuid.UUID | None
    correlation_id: str
    traceparent: str | None
    state: JobState
    attempts: int
    due_at: datetime
    created_at: datetime
    updated_at: datetime
    last_reason: str | None
    history: tuple[Mapping[str, Any], ...]
    claim_id: uuid.UUID | None = None

    @property
    def idempotency_key(self) -> str:
        """Sent with every attempt, the same each time: the remote recognises a repeat."""
        return str(self.job_id)

    @classmethod
    def of(cls, row: Any) -> JobRecord:  # a row of outbound_jobs
        return cls(
            job_id=row["job_id"],
            outbound=row["outbound"],
            destination=row["destination"],
            key=row["job_key"],
            payload=row["payload"],
            cause_id=row["cause_id"],
            correlation_id=row["correlation_id"],
            traceparent=row["traceparent"],
            state=JobState(row["state"]),
            attempts=row["attempts"],
            due_at=row["due_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            last_reason=row["last_reason"],
            history=tuple(row["history"]),
            claim_id=row["claim_id"],
        )


@dataclass(frozen=True)
class Attempt:
    """One attempt at sending a job, as the service's `send` sees it."""

    job: JobRecord
    number: int  # 1 for the first attempt (counted from 1 again after an operator's retry)
    timeout: float  # seconds the whole exchange may take; later it counts as no answer

    @property
    def idempotency_key(self) -> str:
        return self.job.idempotency_key


@dataclass(frozen=True)
class Delivered:
    """The remote accepted the job. `receipt`: what it answered, bounded and JSON-safe, kept
    for the receipt event."""

    status: int | None = None
    receipt: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Retryable:
    """Not accepted this time; worth trying again (a timeout, a 5xx, a 429). `retry_after`:
    seconds the remote asked us to wait, if it said."""

    reason: str
    status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Permanent:
    """Refused for good (a 4xx other than those worth repeating): trying again cannot help."""

    reason: str
    status: int | None = None


Outcome = Delivered | Retryable | Permanent


@dataclass(frozen=True)
class Failure:
    """Why a job went dead: its last outcome and how many attempts it had."""

    reason: str
    status: int | None
    attempts: int
    permanent: bool


@dataclass(frozen=True)
class OperatorRetry:
    """An operator sent a dead job back to be tried again."""

    by: str  # the principal
    reason: str | None


def bounded(text: str, limit: int = REASON_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
