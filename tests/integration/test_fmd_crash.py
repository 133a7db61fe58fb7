"""Issue 15's "done when": a batch's upload to the EU hub survives a restart of the hub and a
kill -9 of the service in its middle.

The service (fmd_hub alone, tests/integration/fmd_crash_worker.py) and the hub simulator are
processes of their own. 60,000 serials go in 12 chunks of 5,000, one request at a time:

1. the hub takes three chunks, then answers 503 (not processed) until it is restarted;
2. it is stopped, the service finds it down and keeps retrying, it is started again on the same
   data (the service paused meanwhile, so that the answers scripted for the restarted hub are the
   first its requests get): one more chunk is taken, the next one is processed but its answer held;
3. the service is killed -9 right then, the hub holding a chunk the service never heard of;
4. it is started again on the same database, sends that chunk again when its lease ends (the
   same idempotency key: the hub answers what it answered), then the rest, and reconciles.

Asserted: the hub holds 60,000 packs, one chunk each; each chunk is acknowledged once on the
service's log; each idempotency key was processed once by the hub across both of its processes
(its stored answers too: one per chunk, under that chunk's key); no chunk acknowledged before
the restart or the kill was sent again; the one re-sent request is the killed chunk's, answered
from the key; the service's log verifies."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from eu_hub_simulator.testing import RunningSimulator, running_simulator
from fmd_hub_helpers import GTIN, LOT, batch, commissioned, master_data, product, serials
from serialtrail_contracts.fmd import ChunkAcknowledged, ChunkRefused, MasterDataAcknowledged, UploadReconciled
from serialtrail_kit.db import APP_ROLE, Pool, create_pool
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.verify import verify_log
from serialtrail_kit.pgserver import free_port
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.waiting import until

WORKER = Path(__file__).with_name("fmd_crash_worker.py")
SERIALS = 60_000
CHUNK_SIZE = 5_000
CHUNKS = SERIALS // CHUNK_SIZE
TAKEN_BEFORE_RESTART = 3
# One request at a time (so the hub's scripted answers meet the chunks in a known order), paced,
# retried for as long as the test needs; a lease the restarted service waits out for the chunk
# whose sender it killed.
POLICY = {
    "concurrency": 1,
    "rate_per_second": 5.0,
    "burst": 1,
    "max_attempts": 100_000,
    "backoff_base_seconds": 0.05,
    "backoff_cap_seconds": 0.5,
    "timeout_seconds": 10.0,
    "lease_seconds": 12.0,
}
PACKS = "/packs$"  # the chunk uploads, as a fault script names them
PACKS_ROUTE = "/v1/batches/{product_code}/{batch_id}/packs"  # as the simulator counts requests
BATCH = f"/v1/fmd/batches/{GTIN}/{LOT}"
MASTER_DATA = f"/v1/fmd/products/{GTIN}/master-data"


async def waited(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """`until`, failing with what never happened."""
    try:
        await until(check, timeout=timeout, interval=0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:g} s: {what}") from None


class FmdService:
    """The fmd_hub service as its own OS process, started again on the same database and data."""

    def __init__(self, dsn: str, hub: RunningSimulator, tmp_path: Path) -> None:
        self.dsn, self.data_dir, self.log = dsn, tmp_path / "fmd-data", tmp_path / "fmd_hub.log"
        self.env = {
            **os.environ,
            "SERIALTRAIL_FMD_HUB_HUB_URL": hub.url,
            "SERIALTRAIL_FMD_HUB_HUB_TOKEN": hub.token,
            "SERIALTRAIL_FMD_HUB_CHUNK_SIZE": str(CHUNK_SIZE),
            "SERIALTRAIL_FMD_HUB_SIMULATOR": "false",  # the test's simulator, not one of its own
            "SERIALTRAIL_FMD_HUB_HUB": orjson.dumps({"default": POLICY, "poll_interval_seconds": 0.1}).decode(),
        }
        self.process: asyncio.subprocess.Process | None = None
        self.client = httpx.AsyncClient(timeout=30.0)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        port = free_port()
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER),
                self.dsn,
                str(self.data_dir),
                str(port),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=self.env,
            )
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), 120)
        except TimeoutError:
            raise AssertionError(f"fmd_hub did not start within 120 s:\n{self.tail()}") from None
        assert line.startswith(b"ready "), f"fmd_hub did not start ({line!r}):\n{self.tail()}"
        token = line.decode().split()[1]
        self.client.base_url = httpx.URL(f"http://127.0.0.1:{port}")
        self.client.headers["Authorization"] = f"Bearer {token}"

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def alive(self) -> None:
        assert self.process is not None
        assert self.process.returncode is None, f"fmd_hub exited ({self.process.returncode}):\n{self.tail()}"

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        """SIGINT, as an operator stops it (its checkpoints written on the way out); SIGKILL if it hangs."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def get(self, path: str) -> dict[str, Any]:
        self.alive()
        answer = await self.client.get(path)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found


@asynccontextmanager
async def fmd_service(dsn: str, hub: RunningSimulator, tmp_path: Path) -> AsyncIterator[FmdService]:
    service = FmdService(dsn, hub, tmp_path)
    try:
        await service.start()
        yield service
    finally:
        await service.stop()
        await service.client.aclose()


async def stage(pool: Pool) -> None:
    """Serial issuance's log, as it would write it: the product, the batch, 60,000 commissioned."""
    store = PostgresEventStore(pool, "serial_issuance")
    await store.append([append_of("master", 0, [product(), batch()])], SYSTEM)
    issued = serials(SERIALS)
    appends = [
        append_of(f"commissioning-{start}", 0, [commissioned(issued[start : start + 2_000])])
        for start in range(0, SERIALS, 2_000)
    ]
    await store.append(appends, SYSTEM)


async def scalar(pool: Pool, sql: str, *args: Any) -> Any:
    async with pool.acquire() as conn:
        return await conn.fetchval(sql, *args)


async def log_of(pool: Pool, event_type: str) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM fmd_hub.events WHERE event_type = $1 ORDER BY global_position", event_type
        )
    return [dict(row["payload"]) for row in rows]


async def acknowledged(pool: Pool) -> dict[str, int]:
    """The chunks acknowledged on the service's log: idempotency key (the job's id) -> chunk."""
    return {e["job_id"]: e["chunk"] for e in await log_of(pool, ChunkAcknowledged.EVENT_TYPE)}


async def chunk_jobs(pool: Pool) -> dict[str, dict[str, Any]]:
    """The service's chunk jobs by idempotency key: state, attempts and what each attempt came to."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT job_id, state, attempts, history FROM fmd_hub.outbound_jobs WHERE job_key LIKE 'chunk/%'"
        )
    return {str(r["job_id"]): {"state": r["state"], "attempts": r["attempts"], "history": r["history"]} for r in rows}


def unanswered(jobs: dict[str, dict[str, Any]]) -> int:
    """Attempts that got no answer at all (no connection): how the service saw the hub down."""
    return sum(
        1 for job in jobs.values() for h in job["history"] if h["outcome"] == "retry" and h.get("status") is None
    )


def stored_chunk_answers(hub: RunningSimulator) -> dict[str, tuple[int, dict[str, Any]]]:
    """What the hub keeps under each idempotency key for a chunk (its SQLite file, across restarts)."""
    with closing(sqlite3.connect(f"file:{hub.data}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT key, status, answer FROM idempotency").fetchall()
    answers = {key: (status, orjson.loads(answer)) for key, status, answer in rows}
    return {key: answer for key, answer in answers.items() if "chunk" in answer[1]}


def verify_log_cli(dsn: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn, "SERIALTRAIL_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "serialtrail", "verify-log", "--service", "fmd_hub"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass(frozen=True)
class Killed:
    """What the kill left: the chunks acknowledged (key -> chunk), the chunk jobs, the keys the
    restarted hub had processed, and the key of the chunk whose sender was killed."""

    acknowledged: dict[str, int]
    jobs: dict[str, dict[str, Any]]
    processed: set[str]
    in_flight: str


@pytest.mark.slow
async def test_an_upload_survives_a_hub_restart_and_a_kill_9_of_the_service(database_dsn: str, tmp_path: Path) -> None:
    async with running_simulator(tmp_path / "hub") as hub:
        async with fmd_service(database_dsn, hub, tmp_path) as service:
            pool = await create_pool(database_dsn, role=APP_ROLE, max_size=2)
            try:
                await run_scenario(service, hub, pool, tmp_path)
            finally:
                await pool.close()
        # Stopped as an operator stops it: the log, checkpoints and all, verifies.
        result = await asyncio.to_thread(verify_log_cli, database_dsn, service.data_dir)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "fmd_hub: OK" in result.stdout, result.stdout
        assert "anchored up to position" in result.stdout, result.stdout  # checkpoints written on the way out
    pool = await create_pool(database_dsn, max_size=1)
    try:
        assert (await verify_log(pool, "fmd_hub")).ok
    finally:
        await pool.close()


async def run_scenario(service: FmdService, hub: RunningSimulator, pool: Pool, tmp_path: Path) -> None:
    await stage(pool)

    async def known() -> bool:
        service.alive()
        return bool(await scalar(pool, "SELECT count(*) FROM fmd_hub_rm.commissioned") == SERIALS)

    await waited(f"the service's knowledge holds the {SERIALS:,} commissioned serials", known, timeout=120)
    assert (await service.client.post(MASTER_DATA, json=master_data())).status_code == 201

    async def in_force() -> bool:
        return bool((await service.get(MASTER_DATA))["in_force"] == 1)

    await waited("the hub acknowledged the master data", in_force)

    # 1. The hub takes three chunks, then fails every request (unprocessed) until it restarts.
    await hub.faults(
        *[{"status": 200}] * TAKEN_BEFORE_RESTART, *[{"status": 503, "retry_after": "0.2"}] * 5_000, path=PACKS
    )
    answer = await service.client.post(f"{BATCH}/uploads")
    assert answer.status_code == 202, answer.text
    assert (answer.json()["packs"], answer.json()["chunks"]) == (SERIALS, CHUNKS)

    async def three_taken() -> bool:
        service.alive()
        return len(await acknowledged(pool)) >= TAKEN_BEFORE_RESTART

    await waited(f"{TAKEN_BEFORE_RESTART} chunks acknowledged before the hub fails", three_taken)
    jobs = await chunk_jobs(pool)
    assert len(jobs) == CHUNKS

    async def refused_since() -> bool:  # a 503 or two for the chunks still to go: the hub is failing
        return any(h.get("status") == 503 for job in (await chunk_jobs(pool)).values() for h in job["history"])

    await waited("the service sent a chunk the failing hub refused (503)", refused_since)
    first_hub = await hub.stats()  # its processed keys: it processes nothing more (503s only)
    taken_before_restart = await acknowledged(pool)
    assert len(taken_before_restart) == TAKEN_BEFORE_RESTART, taken_before_restart
    before_restart = {key: job for key, job in (await chunk_jobs(pool)).items() if key in taken_before_restart}
    assert [job["attempts"] for job in before_restart.values()] == [1] * TAKEN_BEFORE_RESTART, before_restart

    # 2. The hub restarts; the service finds it down meanwhile and keeps trying.
    down_before = unanswered(await chunk_jobs(pool))
    await hub.stop()

    async def found_down() -> bool:
        service.alive()
        return unanswered(await chunk_jobs(pool)) > down_before

    await waited("the service found the hub down (a request that reached nothing, to be retried)", found_down)
    os.kill(service.pid, signal.SIGSTOP)
    try:
        await hub.start()
        # The first chunk it is sent is taken; the next is processed and its answer held back.
        await hub.faults({"status": 200}, {"status": 200, "delay": 600, "process": True}, path=PACKS)
    finally:
        os.kill(service.pid, signal.SIGCONT)

    async def held() -> bool:  # one request at a time: the fourth chunk's answer was recorded before the fifth went
        service.alive()
        processed = (await hub.stats())["processed_keys"]
        return len(processed) == 2 and len(await acknowledged(pool)) == TAKEN_BEFORE_RESTART + 1

    await waited("one more chunk taken after the restart, and the next one processed, its answer held", held)

    # 3. Killed -9 while the hub holds a chunk the service has not heard of.
    await service.kill()
    at_kill = await acknowledged(pool)
    assert len(at_kill) == TAKEN_BEFORE_RESTART + 1, at_kill
    processed_at_kill = set((await hub.stats())["processed_keys"])
    jobs_at_kill = await chunk_jobs(pool)
    (in_flight,) = [key for key, job in jobs_at_kill.items() if job["state"] == "sending"]

    # 4. Started again on the same database: it finishes.
    await service.start()

    async def reconciled() -> bool:
        status = await service.get(BATCH)
        chunks = status["uploads"][0]["chunks"]
        unsent = [c for c in chunks if c["status"] != "acknowledged"]
        assert status["status"] in ("sending", "acknowledged", "reconciled"), f"{status['status']}: {unsent}"
        return bool(status["status"] == "reconciled")

    await waited("the upload reconciled after the service's restart", reconciled, timeout=120)
    killed = Killed(at_kill, jobs_at_kill, processed_at_kill, in_flight)
    await check_outcome(service, hub, pool, first_hub, before_restart, killed)


async def check_outcome(
    service: FmdService,
    hub: RunningSimulator,
    pool: Pool,
    first_hub: dict[str, Any],
    before_restart: dict[str, dict[str, Any]],
    killed: Killed,
) -> None:
    at_kill, jobs_at_kill, in_flight = killed.acknowledged, killed.jobs, killed.in_flight
    # The service's view: everything planned acknowledged, the hub's count matched.
    status = await service.get(BATCH)
    (upload,) = status["uploads"]
    assert (status["packs_planned"], status["packs_acknowledged"]) == (SERIALS, SERIALS)
    assert [(c["chunk"], c["acknowledged"]) for c in upload["chunks"]] == [(i, CHUNK_SIZE) for i in range(CHUNKS)]
    assert (upload["reconciliation"]["hub_packs"], upload["reconciliation"]["matched"]) == (SERIALS, True)

    # The hub's: the batch once, every chunk of the one upload once.
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers) as client:
        at_hub = (await client.get(f"/v1/batches/{GTIN}/{LOT}")).json()
    assert at_hub["packs"] == SERIALS == upload["packs"], at_hub
    assert at_hub["uploads"] == {upload["upload_id"]: {"chunks": list(range(CHUNKS)), "packs": SERIALS}}

    # The service's log: each chunk acknowledged exactly once, under its own job; none refused.
    acks = await log_of(pool, ChunkAcknowledged.EVENT_TYPE)
    assert sorted(e["chunk"] for e in acks) == list(range(CHUNKS)), [e["chunk"] for e in acks]
    jobs = await chunk_jobs(pool)
    assert {e["job_id"] for e in acks} == set(jobs), "a chunk acknowledged under another job than its own"
    assert all(job["state"] == "delivered" for job in jobs.values())
    assert await log_of(pool, ChunkRefused.EVENT_TYPE) == []
    (reconciliation,) = await log_of(pool, UploadReconciled.EVENT_TYPE)
    assert (reconciliation["hub_packs"], reconciliation["matched"]) == (SERIALS, True)

    # The hub processed each key once: the two processes' counts (each since its start) are
    # every one 1; the first processed the master data's key and the chunks acknowledged before
    # its restart, the second every other chunk's key; what it stored agrees.
    (master_data_job,) = [e["job_id"] for e in await log_of(pool, MasterDataAcknowledged.EVENT_TYPE)]
    first = first_hub["processed_keys"]
    second_hub = await hub.stats()
    second = second_hub["processed_keys"]
    assert all(n == 1 for n in [*first.values(), *second.values()]), (first, second)
    assert set(first) == {master_data_job, *before_restart}, first
    assert set(second) == set(jobs) - set(before_restart), second
    stored = stored_chunk_answers(hub)
    assert set(stored) == set(jobs), "the hub stored chunk answers under keys that are no chunk's job"
    assert sorted(answer["chunk"] for _, answer in stored.values()) == list(range(CHUNKS))
    assert {(code, answer["accepted"]) for code, answer in stored.values()} == {(200, CHUNK_SIZE)}

    # Nothing acknowledged was sent again: the chunks taken before the hub's restart, and those
    # taken before the kill, have the attempts and history they had then.
    for key, job in before_restart.items():
        assert jobs[key] == job, f"chunk {at_kill[key]}, acknowledged before the hub restarted, was sent again"
    for key in at_kill:
        assert jobs[key] == jobs_at_kill[key], f"chunk {at_kill[key]}, acknowledged before the kill, was sent again"

    # The killed chunk had been processed by the hub, under its job's key, when it was killed.
    assert in_flight in killed.processed, "the chunk killed in flight: the hub processed no request with its key"
    assert killed.processed - {in_flight} <= set(at_kill)

    # The restarted hub got one request more than it processed keys: the killed chunk, sent
    # again with its key once its lease ended, and answered from what the hub had stored.
    replays = second_hub["requests"][PACKS_ROUTE] - len(second)
    assert replays == 1, second_hub
    resent = jobs[in_flight]
    assert resent["attempts"] == jobs_at_kill[in_flight]["attempts"] + 1, resent
    assert [h["outcome"] for h in resent["history"][-2:]] == ["lease-expired", "delivered"], resent["history"]
