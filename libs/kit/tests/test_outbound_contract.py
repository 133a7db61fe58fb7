"""The outbound worker's contract, on real PostgreSQL and against a real HTTP server on the
loopback (`serialtrail_kit.testing.remote`, which dedupes by idempotency key as receivers do):
jobs commit with their cause; each is delivered once whatever the remote does (times out, fails,
throttles, accepts without saying so); what became of it is one event on the service's log;
limits hold across dispatchers; a crashed sender's job is sent again once its lease ends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import pytest
from serialtrail_contracts.base import EventContract, event_types
from serialtrail_kit.db import Pool
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.outbound import (
    Delivered,
    Failure,
    HttpRequest,
    Job,
    JobRecord,
    JobState,
    OperatorRetry,
    OutboundSettings,
    Outcomes,
    Remote,
    Retryable,
    UnknownOutbound,
    enqueue,
    http_remote,
)
from serialtrail_kit.outbound.claims import LEASE_EXPIRED, Claims
from serialtrail_kit.outbound.dispatcher import Dispatcher
from serialtrail_kit.outbound.jobs import Attempt, Outcome
from serialtrail_kit.outbound.operations import NotRetryable, find_job, retry_dead
from serialtrail_kit.outbound.outcomes import Recorder
from serialtrail_kit.outbound.schema import install_jobs
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.outbound import dispatching, fast_settings
from serialtrail_kit.testing.readers import logs
from serialtrail_kit.testing.remote import Answer, RemoteEndpoint, remote_endpoint
from serialtrail_kit.testing.waiting import until
from serialtrail_kit.writes.model import WriteModel

OWNER, OUTBOUND = "sender_svc", "calls"


class Noted(EventContract):
    EVENT_TYPE: ClassVar[str] = "test.Noted"
    EVENT_VERSION: ClassVar[int] = 1
    key: str


class Receipted(EventContract):
    EVENT_TYPE: ClassVar[str] = "test.Receipted"
    EVENT_VERSION: ClassVar[int] = 1
    job_key: str
    status: int | None
    body: str


class GaveUp(EventContract):
    EVENT_TYPE: ClassVar[str] = "test.GaveUp"
    EVENT_VERSION: ClassVar[int] = 1
    job_key: str
    reason: str
    attempts: int
    permanent: bool


class RetriedByOperator(EventContract):
    EVENT_TYPE: ClassVar[str] = "test.RetriedByOperator"
    EVENT_VERSION: ClassVar[int] = 1
    job_key: str
    by: str
    reason: str | None


def receipted(job: JobRecord, delivered: Delivered) -> Receipted:
    return Receipted(job_key=job.key, status=delivered.status, body=str(delivered.receipt.get("body", "")))


def gave_up(job: JobRecord, failure: Failure) -> GaveUp:
    return GaveUp(job_key=job.key, reason=failure.reason, attempts=failure.attempts, permanent=failure.permanent)


def retried(job: JobRecord, retry: OperatorRetry) -> RetriedByOperator:
    return RetriedByOperator(job_key=job.key, by=retry.by, reason=retry.reason)


OUTCOMES = Outcomes(delivered=receipted, dead=gave_up, retried=retried)
EVENTS = event_types(Noted, Receipted, GaveUp, RetriedByOperator)
SOFTWARE = ("0.0.0-test", "sha256:test")


@dataclass
class World:
    admin: Pool
    app: Pool
    writes: WriteModel

    async def enqueue(self, *keys: str, destination: str = "partner", meta: RecordMetadata = SYSTEM) -> list[uuid.UUID]:
        """Jobs enqueued in a unit that also records their cause (one event per key)."""
        async with self.writes.unit(meta) as work:
            for key in keys:
                work.record(f"note-{key}", await work.version(f"note-{key}"), [Noted(key=key)])
            return await enqueue(work, OUTBOUND, [Job(destination, key, {"key": key}) for key in keys])

    async def job(self, job_id: uuid.UUID) -> JobRecord:
        found = await find_job(self.app, OWNER, job_id)
        assert found is not None
        return found

    async def jobs(self) -> list[JobRecord]:
        rows = await self.app.fetch(f"SELECT * FROM {OWNER}.outbound_jobs ORDER BY created_at, job_key")
        return [JobRecord.of(row) for row in rows]

    async def events(self, kind: type[EventContract]) -> list[RecordedEvent]:
        every = await PostgresEventStore(self.app, OWNER).read_all(0, 10_000)
        return [e for e in every if e.event_type == kind.EVENT_TYPE]

    def dispatcher(self, remote: Remote) -> Dispatcher:
        return Dispatcher(self.app, self.writes, OUTBOUND, remote, OUTCOMES, SOFTWARE)

    def http(self, endpoint: RemoteEndpoint, settings: OutboundSettings | None = None) -> Dispatcher:
        def request(attempt: Attempt) -> HttpRequest:
            return HttpRequest("POST", f"{endpoint.url}/in", json=dict(attempt.job.payload))

        return self.dispatcher(http_remote(request, settings or fast_settings()))

    async def settled(self, job_id: uuid.UUID, state: JobState = JobState.delivered) -> JobRecord:
        async def there() -> bool:
            return (await self.job(job_id)).state is state

        await until(there, timeout=30, interval=0.02)
        return await self.job(job_id)


@pytest.fixture
async def world(database_dsn: str) -> AsyncIterator[World]:
    async with logs(database_dsn, OWNER, app_connections=20) as (admin, app):
        async with admin.acquire() as conn:
            await install_jobs(conn, OWNER, [OUTBOUND])
        yield World(admin, app, WriteModel(PostgresEventStore(app, OWNER), EVENTS))


def outcomes_of(job: JobRecord) -> list[str]:
    return [entry["outcome"] for entry in job.history]


def retried_then_delivered(job: JobRecord) -> bool:
    """Delivered after one retry or more (where a short timeout is set, a loaded machine may add one)."""
    *before, last = outcomes_of(job)
    return last == "delivered" and len(before) >= 1 and set(before) == {"retry"}


async def test_a_job_commits_with_its_cause_or_not_at_all(world: World) -> None:
    (job_id,) = await world.enqueue("a")
    assert [j.job_id for j in await world.jobs()] == [job_id]
    assert len(await world.events(Noted)) == 1

    class Refused(Exception):
        pass

    async def enqueue_then_refuse() -> None:
        async with world.writes.unit(SYSTEM) as work:
            work.record("note-b", 0, [Noted(key="b")])
            await enqueue(work, OUTBOUND, [Job("partner", "b")])
            raise Refused

    with pytest.raises(Refused):
        await enqueue_then_refuse()
    assert [j.job_id for j in await world.jobs()] == [job_id]
    assert len(await world.events(Noted)) == 1

    assert await world.enqueue("a") == [job_id]  # the same key again: the same job, nothing added
    assert len(await world.jobs()) == 1
    with pytest.raises(UnknownOutbound):
        async with world.writes.unit(SYSTEM) as work:
            await enqueue(work, "undeclared", [Job("partner", "c")])


async def test_a_delivery_is_one_receipt_on_the_log_continuing_the_cause(world: World) -> None:
    meta = SYSTEM.model_copy(update={"correlation_id": "corr-7", "traceparent": None})
    async with remote_endpoint() as endpoint, dispatching(world.http(endpoint)):
        (job_id,) = await world.enqueue("a", meta=meta)
        job = await world.settled(job_id)
    assert endpoint.keys() == [str(job_id)]  # the idempotency key is the job's id
    assert endpoint.received[0].body == {"key": "a"}
    assert (job.attempts, outcomes_of(job), job.history[0]["status"]) == (1, ["delivered"], 200)
    (receipt,) = await world.events(Receipted)
    assert receipt.payload == {"job_key": "a", "status": 200, "body": '{"accepted": true}'}
    assert receipt.stream_id == f"outbound-{OUTBOUND}-{job_id}"
    assert receipt.metadata["correlation_id"] == "corr-7"
    assert receipt.metadata["principal_id"] == f"outbound:{OWNER}.{OUTBOUND}"


async def test_a_timeout_is_retried_with_the_same_key(world: World) -> None:
    hangs = Answer(504, delay=1.2)  # not processed: the remote gives up on itself, long after we did
    async with (
        remote_endpoint([hangs]) as endpoint,
        dispatching(world.http(endpoint, fast_settings(timeout_seconds=0.3, lease_seconds=1.0))),
    ):
        (job_id,) = await world.enqueue("a")
        job = await world.settled(job_id)
    assert set(endpoint.keys()) == {str(job_id)}
    assert retried_then_delivered(job)
    assert job.history[0]["reason"] == "no answer within 0.3s"
    assert endpoint.accepted == {str(job_id): 1}
    assert len(await world.events(Receipted)) == 1


async def test_server_errors_are_retried_until_delivered(world: World) -> None:
    async with (
        remote_endpoint([Answer(503), Answer(500, body=b"database down")]) as endpoint,
        dispatching(world.http(endpoint)),
    ):
        (job_id,) = await world.enqueue("a")
        job = await world.settled(job_id)
    assert [(e["outcome"], e["status"]) for e in job.history] == [("retry", 503), ("retry", 500), ("delivered", 200)]
    assert job.history[1]["reason"] == "HTTP 500: database down"
    assert job.attempts == 3
    assert len(endpoint.received) == 3
    assert len(await world.events(Receipted)) == 1


async def test_a_429_waits_as_long_as_retry_after_says(world: World) -> None:
    """The backoff alone would retry within milliseconds."""
    throttled = Answer(429, headers={"Retry-After": "1"})
    async with remote_endpoint([throttled]) as endpoint, dispatching(world.http(endpoint)):
        (job_id,) = await world.enqueue("a")
        job = await world.settled(job_id)
    first, second = endpoint.received
    assert second.at - first.at >= 0.95
    assert job.history[0]["retry_in_seconds"] >= 1.0
    assert outcomes_of(job) == ["retry", "delivered"]


async def test_an_acceptance_answered_with_an_error_is_one_receipt(world: World) -> None:
    """The remote processed the first attempt but answered 503 (its proxy did): the repeat with
    the same key is recognised there, and our side records one receipt."""
    async with remote_endpoint([Answer(503, processed=True)]) as endpoint, dispatching(world.http(endpoint)):
        (job_id,) = await world.enqueue("a")
        await world.settled(job_id)
    assert endpoint.keys() == [str(job_id)] * 2
    assert endpoint.accepted == {str(job_id): 1}
    (receipt,) = await world.events(Receipted)
    assert receipt.payload["body"] == '{"accepted": true, "repeat": true}'


async def test_a_late_acknowledgement_is_recognised_on_the_repeat(world: World) -> None:
    """Processed at once, answered after our timeout: the retry finds it already accepted."""
    late = Answer(200, delay=1.2)
    async with (
        remote_endpoint([late]) as endpoint,
        dispatching(world.http(endpoint, fast_settings(timeout_seconds=0.3, lease_seconds=1.0))),
    ):
        (job_id,) = await world.enqueue("a")
        job = await world.settled(job_id)
    assert retried_then_delivered(job)
    assert set(endpoint.keys()) == {str(job_id)}
    assert endpoint.accepted == {str(job_id): 1}
    (receipt,) = await world.events(Receipted)
    assert '"repeat": true' in receipt.payload["body"]


async def test_dead_after_the_attempts_then_retried_by_an_operator_and_delivered_once(world: World) -> None:
    async with (
        remote_endpoint(default=Answer(500, body=b"down")) as endpoint,
        dispatching(world.http(endpoint, fast_settings(max_attempts=3))),
    ):
        (job_id,) = await world.enqueue("a")
        dead = await world.settled(job_id, JobState.dead)
        assert (dead.attempts, outcomes_of(dead)) == (3, ["retry", "retry", "dead"])
        (failure,) = await world.events(GaveUp)
        expected = {"job_key": "a", "reason": "HTTP 500: down", "attempts": 3, "permanent": False}
        assert failure.payload == expected
        assert dead.last_reason == failure.payload["reason"]

        endpoint.default = Answer()  # the remote is fixed
        operator = SYSTEM.model_copy(update={"principal_id": "os-user:alice", "reason": "endpoint fixed"})
        pending = await retry_dead(world.writes, job_id, operator, OUTCOMES)
        assert (pending.state, pending.attempts) == (JobState.pending, 0)
        delivered = await world.settled(job_id)
    assert outcomes_of(delivered) == ["retry", "retry", "dead", "retried", "delivered"]
    assert delivered.history[3]["by"] == "os-user:alice"
    (retry,) = await world.events(RetriedByOperator)
    assert retry.payload == {"job_key": "a", "by": "os-user:alice", "reason": "endpoint fixed"}
    assert len(await world.events(Receipted)) == 1
    assert endpoint.accepted == {str(job_id): 1}
    assert len(endpoint.received) == 4
    with pytest.raises(NotRetryable, match="delivered"):
        await retry_dead(world.writes, job_id, operator, OUTCOMES)


async def test_a_retry_without_an_event_builder_is_kept_in_the_history(world: World) -> None:
    async with remote_endpoint(default=Answer(400)) as endpoint, dispatching(world.http(endpoint)):
        (job_id,) = await world.enqueue("a")
        await world.settled(job_id, JobState.dead)
    operator = SYSTEM.model_copy(update={"principal_id": "os-user:bob", "reason": "try again"})
    retried_job = await retry_dead(world.writes, job_id, operator)
    assert dict(retried_job.history[-1]) | {"at": None} == {
        "at": None,
        "outcome": "retried",
        "by": "os-user:bob",
        "reason": "try again",
    }
    assert await world.events(RetriedByOperator) == []


async def test_a_refusal_is_dead_at_once_with_the_remotes_reason(world: World) -> None:
    refused = Answer(422, body=b'{"error": "unknown field colour"}')
    async with remote_endpoint([refused]) as endpoint, dispatching(world.http(endpoint)):
        (job_id,) = await world.enqueue("a")
        dead = await world.settled(job_id, JobState.dead)
    assert (dead.attempts, outcomes_of(dead)) == (1, ["dead"])
    (failure,) = await world.events(GaveUp)
    assert failure.payload["permanent"] is True
    assert failure.payload["reason"] == 'HTTP 422: {"error": "unknown field colour"}'
    assert len(endpoint.received) == 1


async def test_a_crashed_senders_job_is_sent_again_once_its_lease_ends(world: World) -> None:
    """A sender claimed the job and died before any outcome (nothing reached the remote)."""
    settings = fast_settings(lease_seconds=1.0, timeout_seconds=0.5)
    (job_id,) = await world.enqueue("a")
    (claimed,) = (await Claims(world.app, OWNER, OUTBOUND, settings).claim(10)).jobs  # ...and then the crash
    assert claimed.state is JobState.sending
    async with remote_endpoint() as endpoint, dispatching(world.http(endpoint, settings)):
        job = await world.settled(job_id)
    assert outcomes_of(job) == ["lease-expired", "delivered"]
    assert job.history[0]["reason"] == LEASE_EXPIRED
    assert datetime.fromisoformat(job.history[1]["at"]) >= claimed.due_at  # not before the lease ended
    assert (job.attempts, endpoint.keys()) == (2, [str(job_id)])


async def test_a_sender_reporting_after_its_lease_changes_nothing_but_the_history(world: World) -> None:
    """A slow sender (not dead) reports after the job was claimed again and delivered: its
    outcome, whatever it is, is noted and ignored; the job keeps its one receipt."""
    settings = fast_settings(lease_seconds=1.0, timeout_seconds=0.5)
    (job_id,) = await world.enqueue("a")
    (slow,) = (await Claims(world.app, OWNER, OUTBOUND, settings).claim(10)).jobs
    async with remote_endpoint() as endpoint, dispatching(world.http(endpoint, settings)):
        await world.settled(job_id)
    recorder = Recorder(world.writes, OUTBOUND, OUTCOMES, SOFTWARE)
    await recorder.delivered(slow, Delivered(200))
    await recorder.failed(slow, Retryable("late failure"), settings.default)
    job = await world.job(job_id)
    assert job.state is JobState.delivered
    assert outcomes_of(job) == ["lease-expired", "delivered", "delivered", "retry"]
    assert [bool(e.get("ignored")) for e in job.history] == [False, False, True, True]
    assert len(await world.events(Receipted)) == 1


async def test_a_lease_ending_on_the_last_attempt_makes_the_job_dead_unsent(world: World) -> None:
    settings = fast_settings(lease_seconds=1.0, timeout_seconds=0.5, max_attempts=1)
    (job_id,) = await world.enqueue("a")
    await Claims(world.app, OWNER, OUTBOUND, settings).claim(10)
    async with remote_endpoint() as endpoint, dispatching(world.http(endpoint, settings)):
        dead = await world.settled(job_id, JobState.dead)
    assert outcomes_of(dead) == ["lease-expired", "dead"]
    assert endpoint.received == []
    (failure,) = await world.events(GaveUp)
    assert (failure.payload["attempts"], failure.payload["reason"]) == (1, LEASE_EXPIRED)


async def test_a_sends_exception_is_a_failure_worth_retrying(world: World) -> None:
    calls: list[int] = []

    async def flaky(attempt: Attempt) -> Outcome:
        calls.append(attempt.number)
        if attempt.number == 1:
            raise ConnectionResetError("reset by peer")
        return Delivered(204)

    async with dispatching(world.dispatcher(Remote(flaky, fast_settings()))):
        (job_id,) = await world.enqueue("a")
        job = await world.settled(job_id)
    assert calls == [1, 2]
    assert job.history[0]["reason"] == "send raised ConnectionResetError: reset by peer"


async def test_the_concurrency_limit_holds_across_dispatchers(world: World) -> None:
    """Two dispatchers (two replicas) share one destination's limit of 2 requests in flight."""
    settings = fast_settings(concurrency=2)
    async with (
        remote_endpoint(default=Answer(delay=0.3)) as endpoint,
        dispatching(world.http(endpoint, settings), world.http(endpoint, settings)),
    ):
        ids = await world.enqueue(*(f"k{n}" for n in range(8)))
        for job_id in ids:
            await world.settled(job_id)
    assert endpoint.max_in_flight == 2
    assert sorted(endpoint.accepted) == sorted(str(i) for i in ids)
    assert len(endpoint.received) == 8


async def test_a_destinations_limit_leaves_the_others_alone(world: World) -> None:
    """A slow destination at its limit does not hold up another one."""
    settings = OutboundSettings(
        default=fast_settings().default,
        destinations={"slow": fast_settings(concurrency=1).default},
        poll_interval_seconds=0.1,
    )
    async with remote_endpoint(default=Answer(delay=0.1)) as endpoint, dispatching(world.http(endpoint, settings)):
        slow = await world.enqueue(*(f"s{n}" for n in range(6)), destination="slow")
        fast = await world.enqueue(*(f"f{n}" for n in range(4)), destination="fast")
        for job_id in fast:
            await world.settled(job_id)
        delivered_slow = [j for j in await world.jobs() if j.destination == "slow" and j.state is JobState.delivered]
        assert len(delivered_slow) < 6  # the fast ones did not wait for every slow one
        for job_id in slow:
            await world.settled(job_id)
    assert endpoint.max_in_flight >= 2  # the two destinations were served side by side


async def test_the_rate_limit_spaces_the_requests(world: World) -> None:
    """10 per second, no burst: six requests span half a second (asserted as a lower bound, with slack)."""
    settings = fast_settings(rate_per_second=10.0, burst=1)
    async with remote_endpoint() as endpoint, dispatching(world.http(endpoint, settings)):
        ids = await world.enqueue(*(f"k{n}" for n in range(6)))
        for job_id in ids:
            await world.settled(job_id)
    arrivals = sorted(r.at for r in endpoint.received)
    assert len(arrivals) == 6
    assert arrivals[-1] - arrivals[0] >= 0.4


async def test_a_job_waiting_for_its_time_is_not_sent_before(world: World) -> None:
    """A retry due later is not claimed early, whoever asks."""
    async with (
        remote_endpoint([Answer(429, headers={"Retry-After": "30"})]) as endpoint,
        dispatching(world.http(endpoint)),
    ):
        (job_id,) = await world.enqueue("a")

        async def throttled() -> bool:
            return outcomes_of(await world.job(job_id)) == ["retry"]

        await until(throttled, timeout=30, interval=0.02)
        later = await world.job(job_id)
        assert (await Claims(world.app, OWNER, OUTBOUND, fast_settings()).claim(10)).jobs == []
    assert later.state is JobState.pending
    assert len(endpoint.received) == 1
