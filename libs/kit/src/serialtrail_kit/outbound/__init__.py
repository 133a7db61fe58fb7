"""The outbound worker: calls to systems outside our control (partners' endpoints, webhooks,
hubs), made reliably from a service's own database.

A call is a *job*, recorded in the same transaction as what caused it, so there is never a
call for something rolled back nor a recorded cause whose call is lost. A dispatcher per
declared outbound claims due jobs, sends each within its destination's concurrency and rate
limits, retries failures with exponential backoff and full jitter (honouring Retry-After),
and gives up after the destination's attempts: the job is then *dead* until an operator
retries it (`serialtrail jobs`). Every attempt sends the job's idempotency key, the same each
time, so a remote that accepted an attempt we never heard back from recognises the repeat.
What became of a job (its receipt, its failure, an operator's retry) is one of the service's
own events, recorded in the transaction that changes the job's state.

Declared with `serialtrail_kit.declaration.OutboundOf`; jobs come from `enqueue` inside a write
unit, or from an `OutboundSource` over the service's own log."""

from serialtrail_kit.outbound.declared import OutboundSource, Outcomes, Remote, Send
from serialtrail_kit.outbound.enqueue import Cause, UnknownOutbound, enqueue, insert_jobs
from serialtrail_kit.outbound.http import HttpRequest, http_remote
from serialtrail_kit.outbound.jobs import (
    Attempt,
    Delivered,
    Failure,
    Job,
    JobRecord,
    JobState,
    OperatorRetry,
    Outcome,
    Permanent,
    Retryable,
)
from serialtrail_kit.outbound.policy import DestinationPolicy, OutboundSettings

__all__ = [
    "Attempt",
    "Cause",
    "Delivered",
    "DestinationPolicy",
    "Failure",
    "HttpRequest",
    "Job",
    "JobRecord",
    "JobState",
    "OperatorRetry",
    "OutboundSettings",
    "OutboundSource",
    "Outcome",
    "Outcomes",
    "Permanent",
    "Remote",
    "Retryable",
    "Send",
    "UnknownOutbound",
    "enqueue",
    "http_remote",
    "insert_jobs",
]
