"""`serialtrail jobs list|show|retry` against a real database: an operator finds the dead job,
reads why it died, and retries it (recorded, who and why); only a dead job is retried. Where the
service declares an event for a retry, the retry is also on its log."""

from __future__ import annotations

import asyncio
import getpass
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from fastapi import APIRouter
from serialtrail.jobs import retry_jobs
from serialtrail_contracts.base import EventContract, event_types
from serialtrail_kit.db import Pool
from serialtrail_kit.declaration import OutboundOf, Service, ServiceContext
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.outbound import HttpRequest, Job, JobState, Outcomes, Remote, enqueue, http_remote
from serialtrail_kit.outbound.dispatcher import Dispatcher
from serialtrail_kit.outbound.operations import find_job
from serialtrail_kit.outbound.schema import install_jobs
from serialtrail_kit.service_settings import NoSettings
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.outbound import dispatching, fast_settings
from serialtrail_kit.testing.readers import logs
from serialtrail_kit.testing.remote import Answer, remote_endpoint
from serialtrail_kit.testing.waiting import until
from serialtrail_kit.writes.model import WriteModel

SCHEMA, OUTBOUND = "jobs_cli_svc", "calls"


class Called(EventContract):
    EVENT_TYPE: ClassVar[str] = "jobs_cli.Called"
    EVENT_VERSION: ClassVar[int] = 1
    key: str


class Retried(EventContract):
    EVENT_TYPE: ClassVar[str] = "jobs_cli.Retried"
    EVENT_VERSION: ClassVar[int] = 1
    key: str
    by: str
    reason: str | None


OUTCOMES = Outcomes(
    delivered=lambda job, delivered: Called(key=job.key),
    dead=lambda job, failure: Called(key=job.key),
    retried=lambda job, retry: Retried(key=job.key, by=retry.by, reason=retry.reason),
)


@dataclass
class Jobs:
    dsn: str
    app: Pool
    dead: uuid.UUID  # refused by the remote
    delivered: uuid.UUID


@pytest.fixture
async def jobs(database_dsn: str) -> AsyncIterator[Jobs]:
    """One dead job (the remote refused it) and one delivered, in a service's schema."""
    async with logs(database_dsn, SCHEMA) as (admin, app):
        async with admin.acquire() as conn:
            await install_jobs(conn, SCHEMA, [OUTBOUND])
        writes = WriteModel(PostgresEventStore(app, SCHEMA), event_types(Called, Retried))
        async with remote_endpoint([Answer(422, body=b"unknown colour [red]")]) as endpoint:
            remote = http_remote(lambda attempt: HttpRequest("POST", endpoint.url, json={}), fast_settings())
            async with dispatching(Dispatcher(app, writes, OUTBOUND, remote, OUTCOMES, ("t", "t"))):
                dead = await _enqueue(writes, "a", "partner-a")
                await _settled(app, dead, JobState.dead)
                delivered = await _enqueue(writes, "b", "partner-b")
                await _settled(app, delivered, JobState.delivered)
        yield Jobs(database_dsn, app, dead, delivered)


async def _enqueue(writes: WriteModel, key: str, destination: str) -> uuid.UUID:
    async with writes.unit(SYSTEM) as work:
        (job_id,) = await enqueue(work, OUTBOUND, [Job(destination, key)])
    return job_id


async def _settled(pool: Pool, job_id: uuid.UUID, state: JobState) -> None:
    async def there() -> bool:
        job = await find_job(pool, SCHEMA, job_id)
        return job is not None and job.state is state

    await until(there, timeout=30, interval=0.02)


def jobs_cli(dsn: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn, "SERIALTRAIL_DATA_DIR": str(data_dir), "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "serialtrail", "jobs", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_an_operator_finds_reads_and_retries_a_dead_job(jobs: Jobs, tmp_path: Path) -> None:
    async def run(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(jobs_cli, jobs.dsn, tmp_path, *args)

    listed, dead_only, shown = await asyncio.gather(
        run("list"),
        run("list", "--state", "dead", "--destination", "partner-a", "--service", SCHEMA),
        run("show", str(jobs.dead)),
    )
    assert listed.returncode == 0, listed.stderr
    assert str(jobs.dead) in listed.stdout
    assert str(jobs.delivered) in listed.stdout
    assert "2 job(s)" in listed.stdout
    assert str(jobs.dead) in dead_only.stdout
    assert str(jobs.delivered) not in dead_only.stdout
    assert "HTTP 422: unknown colour [red]" in dead_only.stdout
    assert shown.returncode == 0, shown.stderr
    assert f"idempotency key: {jobs.dead}" in shown.stdout
    assert "state: dead  attempts: 1" in shown.stdout
    assert "HTTP 422: unknown colour [red]" in shown.stdout

    retried = await run("retry", str(jobs.dead), str(jobs.delivered), "--reason", "colour added at the partner")
    assert retried.returncode == 1  # one of the two was not dead
    assert f"{SCHEMA} {jobs.dead}: pending" in retried.stdout
    assert f"job {jobs.delivered} is delivered, not dead" in retried.stderr
    job = await find_job(jobs.app, SCHEMA, jobs.dead)
    assert job is not None
    assert (job.state, job.attempts) == (JobState.pending, 0)
    last = job.history[-1]
    assert (last["outcome"], last["by"], last["reason"]) == (
        "retried",
        f"os-user:{getpass.getuser()}",
        "colour added at the partner",
    )


async def test_a_retry_is_an_event_where_the_service_declares_one(jobs: Jobs) -> None:
    def never(context: ServiceContext[NoSettings]) -> Remote:
        raise AssertionError("not built to retry")

    service = Service(
        name=SCHEMA,
        events=event_types(Called, Retried),
        routes=lambda context: APIRouter(),
        outbound=[OutboundOf(OUTBOUND, never, OUTCOMES)],
    )
    operator = SYSTEM.model_copy(update={"principal_id": "os-user:carol", "reason": "fixed"})
    assert await retry_jobs(jobs.app, [jobs.dead, jobs.delivered], operator, None, {SCHEMA: service}) == [
        f"job {jobs.delivered} is delivered, not dead: only a dead job is retried"
    ]
    events = await PostgresEventStore(jobs.app, SCHEMA).read_all(0, 100)
    (retry,) = [e for e in events if e.event_type == Retried.EVENT_TYPE]
    assert retry.payload == {"key": "a", "by": "os-user:carol", "reason": "fixed"}
    assert retry.metadata["principal_id"] == "os-user:carol"
