"""What a service gives the outbound worker: the remote call (`Remote`: `send` and its limits),
how outcomes become its own events (`Outcomes`), and optionally which of its own events cause
jobs (`OutboundSource`). Declared with `serialtrail_kit.declaration.OutboundOf`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from serialtrail_contracts.base import EventContract

from serialtrail_kit.db import Connection
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.outbound.jobs import Attempt, Delivered, Failure, Job, JobRecord, OperatorRetry, Outcome
from serialtrail_kit.outbound.policy import OutboundSettings

# The remote call: one attempt, its outcome. It should send `attempt.idempotency_key` (the same on
# every attempt) and give up after `attempt.timeout`; raising counts as a failure worth retrying.
Send = Callable[[Attempt], Awaitable[Outcome]]
DeliveredEvent = Callable[[JobRecord, Delivered], EventContract]
DeadEvent = Callable[[JobRecord, Failure], EventContract]
RetriedEvent = Callable[[JobRecord, OperatorRetry], EventContract]
# The jobs an event of the service's own log causes (none is fine). May read the service's tables
# (in the schema given) through the connection, in the transaction that records the jobs.
JobsOf = Callable[[RecordedEvent, Connection, str], Awaitable[Sequence[Job]]]


def job_stream(job: JobRecord) -> str:
    """A stream per job: its receipt, its failure and its retries, in order."""
    return f"outbound-{job.outbound}-{job.job_id}"


@dataclass(frozen=True)
class Outcomes:
    """The service's events for what became of a job, recorded on its log in the transaction
    that changes the job's state: a receipt when delivered, a failure when it goes dead, and
    (if given) an operator's retry; without `retried`, a retry is kept in the job's history only."""

    delivered: DeliveredEvent
    dead: DeadEvent
    retried: RetriedEvent | None = None
    stream: Callable[[JobRecord], str] = job_stream


@dataclass(frozen=True)
class OutboundSource:
    """Jobs caused by the service's own events of `event_types`: read from its log like a read
    model (tracked in the transaction that inserts the jobs), each job's id derived from the
    causing event and its key, so reading the log again enqueues nothing twice."""

    event_types: tuple[str, ...]
    jobs: JobsOf


@dataclass(frozen=True)
class Remote:
    """The remote side as the service builds it from its context: the call, its limits, and
    what to release at stop (a client's connections)."""

    send: Send
    settings: OutboundSettings = field(default_factory=OutboundSettings)
    close: Callable[[], Awaitable[None]] | None = None
