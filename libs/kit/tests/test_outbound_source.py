"""A declared outbound source on real PostgreSQL: the service's own events of the declared types
become jobs, tracked like a read model; restarting or replaying it (a new generation reads the
log from the start) enqueues nothing twice, and each job carries its cause to its receipt."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pytest
from serialtrail_contracts.base import EventContract, event_types
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import NewEvent, RecordedEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.outbound import (
    HttpRequest,
    Job,
    JobRecord,
    OutboundSource,
    Outcomes,
    http_remote,
)
from serialtrail_kit.outbound.dispatcher import Dispatcher
from serialtrail_kit.outbound.jobs import Attempt, job_id_of
from serialtrail_kit.outbound.schema import install_jobs
from serialtrail_kit.outbound.source import OutboundSourceFold
from serialtrail_kit.readers.projection import ProjectionAdmin, ProjectionRunner
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.outbound import dispatching, fast_settings
from serialtrail_kit.testing.readers import logs, running
from serialtrail_kit.testing.remote import remote_endpoint
from serialtrail_kit.testing.waiting import until
from serialtrail_kit.writes.model import WriteModel

OWNER, OUTBOUND = "noting_svc", "calls"


class Called(EventContract):
    EVENT_TYPE: ClassVar[str] = "test.Called"
    EVENT_VERSION: ClassVar[int] = 1
    n: int


class NotCalled(EventContract):
    EVENT_TYPE: ClassVar[str] = "test.NotCalled"
    EVENT_VERSION: ClassVar[int] = 1
    reason: str


async def calls_for(event: RecordedEvent, conn: Connection, schema: str) -> Sequence[Job]:
    """A note with a destination is one call there; a note without one is none."""
    to = event.payload.get("to")
    return [Job(to, "call", {"n": event.payload["n"]})] if to else []


SOURCE = OutboundSource(("test.Noted",), calls_for)
OUTCOMES = Outcomes(
    delivered=lambda job, delivered: Called(n=job.payload["n"]),
    dead=lambda job, failure: NotCalled(reason=failure.reason),
)


@dataclass
class World:
    admin: Pool
    app: Pool
    fold: OutboundSourceFold

    async def note(self, n: int, to: str | None = "partner", kind: str = "test.Noted") -> RecordedEvent:
        payload = {"n": n, "to": to} if to else {"n": n}
        new = NewEvent(event_type=kind, event_version=1, payload=payload)
        meta = SYSTEM.model_copy(update={"correlation_id": f"corr-{n}"})
        appended = StreamAppend(stream_id=f"note-{n}", expected_version=0, events=(new,))
        (event,) = await PostgresEventStore(self.app, OWNER).append([appended], meta)
        return event

    def runner(self) -> ProjectionRunner:
        return ProjectionRunner(self.app, OWNER, self.fold, poll_interval=0.1)

    async def jobs(self) -> list[JobRecord]:
        rows = await self.app.fetch(f"SELECT * FROM {OWNER}.outbound_jobs ORDER BY job_key, created_at")
        return [JobRecord.of(row) for row in rows]

    async def enqueued(self, count: int) -> list[JobRecord]:
        async def enough() -> bool:
            return len(await self.jobs()) >= count

        await until(enough, timeout=30, interval=0.05)
        return await self.jobs()


@pytest.fixture
async def world(database_dsn: str) -> AsyncIterator[World]:
    async with logs(database_dsn, OWNER) as (admin, app):
        async with admin.acquire() as conn:
            await install_jobs(conn, OWNER, [OUTBOUND])
        fold = OutboundSourceFold(OWNER, OUTBOUND, SOURCE)
        await ProjectionAdmin(admin, OWNER).ensure(fold)
        yield World(admin, app, fold)


async def test_each_declared_event_is_its_jobs_once_whatever_reads_the_log_again(world: World) -> None:
    causes = [await world.note(n) for n in range(3)]
    await world.note(10, to=None)  # of the declared type, but no call
    await world.note(20, kind="test.Other")  # not a declared type
    async with running(world.runner()) as runner:
        await world.enqueued(3)
        await runner.caught_up(timeout=30)
    jobs = await world.jobs()
    assert sorted(j.job_id for j in jobs) == sorted(job_id_of(OWNER, OUTBOUND, "call", e.event_id) for e in causes)
    by_cause = {j.cause_id: j for j in jobs}
    for cause in causes:
        job = by_cause[cause.event_id]
        assert (job.payload, job.correlation_id) == ({"n": cause.payload["n"]}, f"corr-{cause.payload['n']}")

    replayed = await ProjectionAdmin(world.admin, OWNER).replay(world.fold)  # the whole log, read again
    assert replayed.events >= 4
    assert await world.jobs() == jobs  # the same jobs, untouched

    await world.note(3)
    async with running(world.runner()) as runner:  # a restart on the replayed generation
        assert len(await world.enqueued(4)) == 4
        await runner.caught_up(timeout=30)
    assert len(await world.jobs()) == 4


async def test_a_jobs_receipt_names_the_event_that_caused_it(world: World) -> None:
    cause = await world.note(7)

    def request(attempt: Attempt) -> HttpRequest:
        return HttpRequest("POST", f"{endpoint.url}/in", json=dict(attempt.job.payload))

    writes = WriteModel(PostgresEventStore(world.app, OWNER), event_types(Called, NotCalled))
    async with running(world.runner()), remote_endpoint() as endpoint:
        remote = http_remote(request, fast_settings())
        dispatcher = Dispatcher(world.app, writes, OUTBOUND, remote, OUTCOMES, ("0.0.0-test", "sha256:test"))
        async with dispatching(dispatcher):

            async def called() -> bool:
                return any(e.event_type == "test.Called" for e in await writes.store.read_all(0, 100))

            await until(called, timeout=30, interval=0.05)
    (receipt,) = [e for e in await writes.store.read_all(0, 100) if e.event_type == "test.Called"]
    assert receipt.payload == {"n": 7}
    assert receipt.metadata["causation_id"] == str(cause.event_id)
    assert receipt.metadata["correlation_id"] == "corr-7"
    assert [r.body for r in endpoint.received] == [{"n": 7}]
