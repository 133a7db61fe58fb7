"""A batch's pack data uploaded to the EU FMD hub (issue 15): "upload of a 1,000,000-pack batch to
the simulator: packs/s and peak RSS of the service (target <= 60 s and <= 300 MB)".

The service runs as its own process, as it is deployed (`serialtrail serve fmd_hub`, distributed
mode, the way the revocation benchmark runs its services): an embedded PostgreSQL, a Kafka-protocol
broker (Tansu) with a fresh set of topics, and the hub simulator (`eu_hub_simulator`, its own
process too, data in SQLite). Nothing else of Serialtrail runs: what the service reads from serial
issuance (and the admin key it authenticates, from identity) is written to those services' logs
here and published to their topics by their relays, run here as their processes would run them.

Staging (untimed), per run: a product (the same one every run: successive batches of one product,
as a manufacturer uploads them) and its master data, acknowledged by the hub once; a batch of its
own (a new lot) and `PACKS` commissioned serials (14 alphanumeric characters, unique, in no sorted
order) appended to serial issuance's log as `SerialsCommissioned` events of 10,000 serials, as the
service's tests stage them; then until the service's knowledge holds every one of them (counted in
its read model's table).

Timed: from the first byte of `POST /v1/fmd/batches/{gtin}/{lot}/uploads` until
`GET /v1/fmd/batches/{gtin}/{lot}` answers `status: reconciled` (polled every `POLL` s), with the
default chunk size (250,000) and the hub's default outbound limits. Then checked: the hub holds
exactly `PACKS` packs of the batch, the service's reconciliation matched, and every idempotency key
the simulator saw was processed once. Reported: seconds and packs/s (median of `RUNS`), the
service's peak RSS during the upload (VmHWM, its peak reset just before the POST as the EPCIS query
benchmark does, and the largest VmRSS sampled every `SAMPLE` s), the simulator's, and a timeline
read back from the service's log and jobs (planning, the chunk jobs enqueued, each chunk
acknowledged, reconciliation).

A second figure (`crash`): one more batch uploaded while things go wrong: once the hub acknowledged
a first chunk the simulator is restarted (`RunningSimulator.restart()`), then, once a job of the
upload is in flight again, the service is killed with SIGKILL and started again on the same port.
The upload must still end reconciled with the hub counting exactly `PACKS` packs and no key processed
twice; its total time is reported (it includes the outbound lease: a job whose sender was killed is
sent again only when its lease ends, 40 s for the hub by default).

BENCH_FMD_PACKS (default 1,000,000) scales it down to check the script; `python -m bench.fmd_upload
[steady|crash]` runs one figure alone (both by default; `python -m bench fmd-upload` runs both). The
service is given this environment, so its settings can be varied from outside, e.g.
SERIALTRAIL_FMD_HUB_HUB='{"default": {"concurrency": 2, "timeout_seconds": 15, "lease_seconds": 30}}'.
The service's own log (its stderr) is kept in the benchmark's temporary directory until it ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from eu_hub_simulator.testing import RunningSimulator, running_simulator
from fmd_hub.entrypoints.schemas import MASTER_DATA_EXAMPLE
from serialtrail.served import distributed_env, stopped
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.fmd import PART_SERIALS, ChunkAcknowledged, UploadPlanned, UploadReconciled
from serialtrail_contracts.serials import BatchRegistered, ProductRegistered, SerialsCommissioned
from serialtrail_kit.db import APP_ROLE, Pool, create_pool
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.metadata import RecordMetadata, local_metadata
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.pgserver import EmbeddedPostgres, free_port
from serialtrail_kit.testing.broker import TansuBroker
from serialtrail_kit.testing.kafka import fresh_topics
from serialtrail_kit.transport.relay import Relay
from serialtrail_kit.transport.wiring import KafkaTransport

from bench.memory import Sampler, reset_peak, status_mb
from bench.report import emit

PACKS = int(os.environ.get("BENCH_FMD_PACKS", "1000000"))
RUNS = 3
SERVICE = "fmd_hub"
PRODUCERS = ("serial_issuance", "identity")  # whose logs are written and relayed here
RM = "fmd_hub_rm"  # the service's read models (views of the active generations)
TARGET = "<= 60 s and <= 300 MB peak RSS of the service (issue 15)"
POLL = 0.1  # seconds between two reads of the batch's status
APPENDS_OF = 10  # SerialsCommissioned events (of PART_SERIALS serials) per append to serial issuance's log
STAGED_DEADLINE = 900.0  # seconds the service's knowledge may take to hold a batch's serials
UPLOAD_DEADLINE = 1800.0  # seconds an upload may take to be reconciled
START_DEADLINE = 120.0  # seconds the service may take to answer after it was started

GTIN = "09506000134352"
EXPIRY = date(2030, 12, 31)
EVENT_TIME = datetime.fromisoformat("2026-11-22T07:00:00+00:00")
SITE_GLN = "9506000000008"
META = local_metadata(
    principal_id="bench:fmd-upload",
    role="system",
    auth_method="local",
    software_version="bench",
    config_digest="sha256:bench-fmd-upload",
    reason="bench fmd-upload: what serial issuance would publish",
)

SERIAL_MASK = (1 << 52) - 1  # 13 hexadecimal digits
SERIAL_STRIDE = 0x9E3779B97F4A7  # odd: n -> n * stride mod 2^52 is a bijection (distinct serials)


class UploadFailed(RuntimeError):
    """The upload did not end as it must: no figure is reported."""


def serials(tag: str, count: int) -> list[str]:
    """`count` distinct serials of 14 alphanumeric characters (the run's letter, then 13 hex digits
    that look random: the hub and the service sort them, they come in no order)."""
    return [f"{tag}{(n * SERIAL_STRIDE) & SERIAL_MASK:013X}" for n in range(count)]


# --- the service as its own process ---------------------------------------------------------------


class ServiceProcess:
    """`serialtrail serve fmd_hub` on a fixed port: started, killed (SIGKILL), started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "serialtrail", "serve", SERVICE, "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        stopped(process)

    async def answering(self, client: httpx.AsyncClient, pool: Pool) -> None:
        """Until the service is ready and knows an admin key (asking with a key it does not know yet
        would be refused, and refusals soon answered 429), or fails to start."""
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise UploadFailed(f"the service exited during start-up; see {self.log}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health/ready")).status_code == 200 and await _keys_known(pool):
                    return
            await asyncio.sleep(0.2)
        raise UploadFailed(f"the service did not answer within {START_DEADLINE:.0f} s; see {self.log}")


async def _keys_known(pool: Pool) -> bool:
    async with pool.acquire() as conn:
        return bool(await conn.fetchval(f"SELECT count(*) FROM {RM}.api_keys"))


# --- the installation -------------------------------------------------------------------------------


@dataclass
class Installation:
    dsn: str
    pool: Pool  # the application role's, on the service's database
    hub: RunningSimulator
    service: ServiceProcess
    client: httpx.AsyncClient  # the service, as the admin
    hub_client: httpx.AsyncClient  # the simulator, with its token
    relays: list[Relay] = field(default_factory=list)


@contextlib.asynccontextmanager
async def installed(folder: Path) -> AsyncIterator[Installation]:
    """PostgreSQL, the broker and its topics, the simulator, the service; the producers' relays."""
    with EmbeddedPostgres(folder / "pg", durable=True) as server, TansuBroker(folder / "tansu.log") as broker:
        prefix = await fresh_topics(broker.bootstrap_servers)
        admin = await create_pool(server.dsn, max_size=2)
        async with admin.acquire() as conn:
            for producer in PRODUCERS:
                await install_log(conn, producer, APP_ROLE)
        await admin.close()
        pool = await create_pool(server.dsn, role=APP_ROLE, max_size=4)
        env = distributed_env(server.dsn, broker.bootstrap_servers, prefix)
        env["SERIALTRAIL_DATA_DIR"] = str(folder / "data")
        kafka = KafkaTransport(broker.bootstrap_servers, prefix=prefix)
        relays = [kafka.relay(pool, producer, 0.2) for producer in PRODUCERS]
        tasks = [asyncio.create_task(relay.run()) for relay in relays]
        try:
            token = await asyncio.to_thread(_admin_key, env)
            async with running_simulator(folder / "hub") as hub:
                env |= {"SERIALTRAIL_FMD_HUB_HUB_URL": hub.url, "SERIALTRAIL_FMD_HUB_HUB_TOKEN": hub.token}
                service = ServiceProcess(env, folder / "fmd_hub.log")
                service.start()
                headers = {"Authorization": f"Bearer {token}"}
                try:
                    async with (
                        httpx.AsyncClient(base_url=service.base, headers=headers, timeout=120) as client,
                        httpx.AsyncClient(base_url=hub.url, headers=hub.headers, timeout=120) as hub_client,
                    ):
                        await service.answering(client, pool)
                        yield Installation(server.dsn, pool, hub, service, client, hub_client, relays)
                finally:
                    service.stop()
        finally:
            for relay in relays:
                relay.stop()
            await asyncio.wait(tasks, timeout=10)
            await pool.close()


def _admin_key(env: dict[str, str]) -> str:
    """An admin key recorded on identity's log (`serialtrail keys create`, as an operator would)."""
    created = subprocess.run(
        [sys.executable, "-m", "serialtrail", "keys", "create", "--name", "bench admin", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.split("token (shown once): ")[1].strip()


async def publish(pool: Pool, events: Sequence[EventContract], meta: RecordMetadata = META) -> None:
    """Appended to serial issuance's log as serial issuance would (its relay publishes them)."""
    log = PostgresEventStore(pool, "serial_issuance")
    await log.append([append_of(f"bench-{uuid.uuid4()}", 0, events)], meta)


async def product_ready(setup: Installation) -> None:
    """The product registered and its master data acknowledged by the hub (once for every run)."""
    product = ProductRegistered(
        gtin=GTIN,
        company_prefix_length=7,
        name="Paracetamol",
        target_markets=("DE", "FR", "US"),
        serial_length=14,
        serial_alphabet="alphanumeric",
    )
    await publish(setup.pool, [product])
    url = f"/v1/fmd/products/{GTIN}/master-data"
    deadline = time.monotonic() + STAGED_DEADLINE
    while (answer := await setup.client.post(url, json=MASTER_DATA_EXAMPLE)).status_code != 201:
        if answer.status_code not in (404, 422, 503) or time.monotonic() > deadline:  # unknown product: not yet read
            raise UploadFailed(f"POST {url}: {answer.status_code} {answer.text[:2000]}")
        await asyncio.sleep(0.2)
    while (await setup.client.get(url)).json().get("in_force") != 1:
        if time.monotonic() > deadline:
            raise UploadFailed(f"the hub did not acknowledge master data of {GTIN}")
        await asyncio.sleep(0.2)


async def staged(setup: Installation, lot: str, tag: str) -> float:
    """The batch and its commissioned serials published, until the service's knowledge holds them
    all; returns how long that took (seconds)."""
    started = time.perf_counter()
    await publish(setup.pool, [BatchRegistered(gtin=GTIN, lot=lot, expiry=EXPIRY, site_gln=SITE_GLN)])
    units = serials(tag, PACKS)
    events = [
        SerialsCommissioned(
            commissioning_id=uuid.uuid4(),
            gtin=GTIN,
            lot=lot,
            expiry=EXPIRY,
            line_id="LINE-1",
            read_point="urn:epc:id:sgln:9506000.00000.LINE-1",
            biz_location="urn:epc:id:sgln:9506000.00000.0",
            event_time=EVENT_TIME,
            serials=tuple(units[start : start + PART_SERIALS]),
        )
        for start in range(0, PACKS, PART_SERIALS)
    ]
    del units
    for start in range(0, len(events), APPENDS_OF):
        await publish(setup.pool, events[start : start + APPENDS_OF])
    del events
    while (known := await _known(setup.pool, lot)) < PACKS or not await _batch_known(setup, lot):
        if time.perf_counter() - started > STAGED_DEADLINE:
            raise UploadFailed(f"after {STAGED_DEADLINE:.0f} s the service knows {known:,} serials of {lot}")
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def _batch_known(setup: Installation, lot: str) -> bool:
    return (await setup.client.get(f"/v1/fmd/batches/{GTIN}/{lot}")).status_code == 200


async def _known(pool: Pool, lot: str) -> int:
    async with pool.acquire() as conn:
        found: int = await conn.fetchval(
            f"SELECT count(*) FROM {RM}.commissioned WHERE gtin = $1 AND lot = $2", GTIN, lot
        )
    return found


# --- one upload -------------------------------------------------------------------------------------


@dataclass
class Upload:
    lot: str
    staging_s: float = 0.0
    seconds: float = 0.0  # the first byte of the POST until the status answered reconciled
    accepted_s: float = 0.0  # ... until the POST answered 202 (the plan recorded)
    answer: dict[str, Any] = field(default_factory=dict)
    rss_before_mb: float | None = None
    # VmHWM of each process that ran during the upload (reset just before the POST), and the largest
    # VmRSS sampled: the service's and the simulator's (a restart or kill starts a new process).
    peaks: dict[str, list[float]] = field(default_factory=lambda: {"service": [], "hub": []})
    sampled: dict[str, float] = field(default_factory=dict)
    peak_reset: bool = False
    timeline: dict[str, Any] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)  # what the crash scenario did, and when

    def peak(self, process: str) -> float:
        return max([*self.peaks[process], self.sampled.get(process, 0.0)])

    def note_peaks(self, setup: Installation, *processes: str) -> None:
        pids = {"service": setup.service.pid, "hub": setup.hub.pid}
        for process in processes:
            found = status_mb(pids[process], "VmHWM:")
            if found is not None:
                self.peaks[process].append(found)


async def upload(setup: Installation, lot: str, tag: str, crash: bool = False) -> Upload:
    done = Upload(lot, staging_s=await staged(setup, lot, tag))
    service, hub = setup.service, setup.hub
    done.rss_before_mb = status_mb(service.pid, "VmRSS:")
    done.peak_reset = reset_peak(service.pid) and reset_peak(hub.pid)
    sampler = Sampler({"service": lambda: service.pid, "hub": lambda: hub.pid})
    with sampler.running():
        wall, started = time.time(), time.perf_counter()
        answer = await setup.client.post(f"/v1/fmd/batches/{GTIN}/{lot}/uploads")
        done.accepted_s = time.perf_counter() - started
        if answer.status_code != 202:
            raise UploadFailed(f"upload of {lot}: {answer.status_code} {answer.text[:2000]}")
        done.answer = answer.json()
        upload_id = done.answer["upload_id"]
        if crash:
            await _crash(setup, upload_id, started, done)
        status = await _reconciled(setup, lot, started)
        done.seconds = time.perf_counter() - started
        done.note_peaks(setup, "service", "hub")
    done.sampled = dict(sampler.peaks)
    await _checked(setup, lot, upload_id, status)
    done.timeline = await _timeline(setup.pool, upload_id, wall, done.accepted_s, done.seconds)
    return done


async def _reconciled(setup: Installation, lot: str, started: float) -> dict[str, Any]:
    while time.perf_counter() - started < UPLOAD_DEADLINE:
        with contextlib.suppress(httpx.TransportError):  # the service may be starting again
            answer = await setup.client.get(f"/v1/fmd/batches/{GTIN}/{lot}")
            if answer.status_code == 200:
                status: dict[str, Any] = answer.json()
                if status["status"] == "reconciled":
                    return status
                if status["status"] in ("refused", "mismatch"):
                    raise UploadFailed(f"upload of {lot} ended {status['status']}: {json.dumps(status)[:3000]}")
            elif answer.status_code != 503:  # 503: its read model catching up
                raise UploadFailed(f"status of {lot}: {answer.status_code} {answer.text[:2000]}")
        await asyncio.sleep(POLL)
    raise UploadFailed(f"upload of {lot} not reconciled after {UPLOAD_DEADLINE:.0f} s")


async def _crash(setup: Installation, upload_id: str, started: float, done: Upload) -> None:
    """Once a chunk is acknowledged, restart the simulator; once a job of the upload is in flight
    again, kill the service (SIGKILL) and start it again."""

    def note(what: str) -> None:
        done.events.append(f"{time.perf_counter() - started:.1f} s: {what}")

    await _until(lambda: _acknowledged_chunks(setup.pool, upload_id), started)
    done.note_peaks(setup, "hub")
    note("a chunk acknowledged: simulator restarted")
    await setup.hub.restart()
    note("simulator up again")
    await _until(lambda: _in_flight_or_done(setup.pool, upload_id), started)
    in_flight = await _in_flight(setup.pool, upload_id)
    done.note_peaks(setup, "service")
    setup.service.kill()
    note(f"in flight: {in_flight or 'nothing (all acknowledged)'}: service killed (SIGKILL) and started again")
    setup.service.start()
    await setup.service.answering(setup.client, setup.pool)
    note("service answering again")


async def _until(check: Callable[[], Any], started: float) -> None:
    while not await check():
        if time.perf_counter() - started > UPLOAD_DEADLINE:
            raise UploadFailed(f"{check} never held")
        await asyncio.sleep(0.05)


async def _acknowledged_chunks(pool: Pool, upload_id: str) -> int:
    async with pool.acquire() as conn:
        found: int = await conn.fetchval(
            f"SELECT count(*) FROM {SERVICE}.events WHERE event_type = $1 AND payload->>'upload_id' = $2",
            ChunkAcknowledged.EVENT_TYPE,
            upload_id,
        )
    return found


async def _in_flight(pool: Pool, upload_id: str) -> str:
    """The jobs of the upload being sent (claimed, lease running), e.g. 'chunk 2'; '' when none."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT payload->>'kind' AS kind, payload->>'chunk' AS chunk FROM {SERVICE}.outbound_jobs "
            "WHERE state = 'sending' AND due_at > clock_timestamp() AND payload->>'upload_id' = $1",
            upload_id,
        )
    return ", ".join(f"{row['kind']} {row['chunk'] or ''}".strip() for row in rows)


async def _in_flight_or_done(pool: Pool, upload_id: str) -> bool:
    """A job of the upload in flight, or none left to send (a small batch: all acknowledged)."""
    if await _in_flight(pool, upload_id):
        return True
    async with pool.acquire() as conn:
        found = await conn.fetchval(
            f"SELECT 1 FROM {SERVICE}.events WHERE event_type = $1 AND payload->>'upload_id' = $2",
            UploadReconciled.EVENT_TYPE,
            upload_id,
        )
    return found is not None


async def _checked(setup: Installation, lot: str, upload_id: str, status: dict[str, Any]) -> None:
    """The hub holds exactly the batch's packs, the service's reconciliation matched, and the
    simulator processed no idempotency key twice."""
    reconciliation = status["uploads"][-1]["reconciliation"]
    at_hub = await setup.hub_client.get(f"/v1/batches/{GTIN}/{lot}")
    stats = await setup.hub_client.get("/_sim/stats")
    at_hub.raise_for_status()
    stats.raise_for_status()
    packs, uploads = at_hub.json()["packs"], at_hub.json()["uploads"]
    twice = {key: n for key, n in stats.json()["processed_keys"].items() if n != 1}
    problems = []
    if packs != PACKS or reconciliation["hub_packs"] != PACKS or not reconciliation["matched"]:
        problems.append(f"the hub holds {packs} packs, reconciliation {reconciliation}")
    if list(uploads) != [upload_id] or uploads[upload_id]["packs"] != PACKS:
        problems.append(f"the hub's uploads of the batch: {uploads}")
    if twice:
        problems.append(f"keys processed more than once: {twice}")
    if problems:
        raise UploadFailed(f"upload of {lot}: " + "; ".join(problems))


async def _timeline(pool: Pool, upload_id: str, wall: float, accepted: float, seconds: float) -> dict[str, Any]:
    """Seconds since the POST's first byte (the server's clock is this machine's): when the plan
    was recorded, the chunk jobs enqueued, each chunk acknowledged (and after how many attempts),
    the reconciliation enqueued and recorded."""
    async with pool.acquire() as conn:
        events = await conn.fetch(
            "SELECT event_type, extract(epoch FROM recorded_at) AS at, payload->>'chunk' AS chunk, "
            "payload->>'attempts' AS attempts "
            f"FROM {SERVICE}.events WHERE event_type = ANY($1::text[]) AND payload->>'upload_id' = $2 "
            "ORDER BY global_position",
            [UploadPlanned.EVENT_TYPE, ChunkAcknowledged.EVENT_TYPE, UploadReconciled.EVENT_TYPE],
            upload_id,
        )
        jobs = await conn.fetch(
            "SELECT payload->>'kind' AS kind, payload->>'chunk' AS chunk, extract(epoch FROM created_at) AS created, "
            "attempts, history "
            f"FROM {SERVICE}.outbound_jobs WHERE payload->>'upload_id' = $1 ORDER BY created_at",
            upload_id,
        )

    def since(at: Any) -> float:
        return round(float(at) - wall, 2)

    acknowledged = {int(e["chunk"]): since(e["at"]) for e in events if e["event_type"] == ChunkAcknowledged.EVENT_TYPE}
    recorded = next(since(e["at"]) for e in events if e["event_type"] == UploadPlanned.EVENT_TYPE)
    enqueued = max(since(j["created"]) for j in jobs if j["kind"] == "chunk")
    reconciled = next(since(e["at"]) for e in events if e["event_type"] == UploadReconciled.EVENT_TYPE)
    retries = [
        f"{job['kind']} {job['chunk'] or ''}: {entry.get('outcome')} {entry.get('reason', '')[:80]}".strip()
        for job in jobs
        for entry in job["history"]
        if entry.get("outcome") != "delivered"
    ]
    return {
        "plan_recorded_s": recorded,
        "accepted_s": round(accepted, 2),
        "chunk_jobs_enqueued_s": enqueued,
        "chunks_acknowledged_s": [acknowledged[c] for c in sorted(acknowledged)],
        "chunk_attempts": [int(j["attempts"]) for j in jobs if j["kind"] == "chunk"],
        "reconcile_enqueued_s": next((since(j["created"]) for j in jobs if j["kind"] == "reconcile"), None),
        "reconciled_recorded_s": reconciled,
        "not_delivered_attempts": retries,
        # Phases: the POST until the plan's append began (the knowledge read, the write side's loads
        # and the plan, the last two under the log's lock); until the 202 (the append, the write
        # side's insert, the commit); the outbound source's fold of UploadPlanned (its chunk jobs);
        # sending every chunk until the last acknowledged; the reconciliation until recorded; the
        # status read model and the bench's poll.
        "phases_s": {
            "plan_loaded_and_decided": recorded,
            "append_write_side_commit": round(accepted - recorded, 2),
            "source_fold": round(enqueued - accepted, 2),
            "chunks_sent": round(max(acknowledged.values()) - enqueued, 2),
            "reconciliation": round(reconciled - max(acknowledged.values()), 2),
            "status_seen": round(seconds - reconciled, 2),
        },
    }


# --- the figures ------------------------------------------------------------------------------------


async def _measure(scenarios: Sequence[str]) -> tuple[list[Upload], list[Upload], list[list[float]]]:
    steady: list[Upload] = []
    crashed: list[Upload] = []
    loads: list[list[float]] = []
    with tempfile.TemporaryDirectory(prefix="serialtrail-bench-fmd-") as tmp:
        os.chmod(tmp, 0o755)  # the unprivileged postgres user must reach its data dir
        async with installed(Path(tmp)) as setup:
            await product_ready(setup)
            tags = iter("RSTUVWXYZ")
            if "steady" in scenarios:
                for run in range(RUNS):
                    loads.append([round(x, 2) for x in os.getloadavg()])
                    steady.append(await upload(setup, f"FMD{run}", next(tags)))
                    _progress(steady[-1])
            if "crash" in scenarios:
                loads.append([round(x, 2) for x in os.getloadavg()])
                crashed.append(await upload(setup, "FMDCRASH", next(tags), crash=True))
                _progress(crashed[-1])
    return steady, crashed, loads


def _progress(done: Upload) -> None:
    print(f"fmd-upload {done.lot}: {done.seconds:.1f} s, {done.timeline}, {done.events}", file=sys.stderr, flush=True)


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def fmd_upload_benchmark(scenarios: Sequence[str] = ("steady", "crash")) -> None:
    load_before = [round(x, 2) for x in os.getloadavg()]
    steady, crashed, loads = asyncio.run(_measure(scenarios))
    load_after = [round(x, 2) for x in os.getloadavg()]
    common = {
        "packs": PACKS,
        "chunk_size": 250_000,
        "service": "serialtrail serve fmd_hub (distributed mode: embedded PostgreSQL, Tansu broker)",
        "load_average_before": load_before,
        "load_average_after": load_after,
        "load_average_before_runs": loads,
    }
    if steady:
        emit(
            f"EU FMD upload of a {PACKS:,}-pack batch to the hub simulator: POST .../uploads until status reconciled",
            [PACKS / run.seconds for run in steady],
            "packs/s",
            TARGET,
            seconds=[round(run.seconds, 2) for run in steady],
            median_seconds=round(statistics.median(run.seconds for run in steady), 2),
            service_peak_rss_mb=_mb(statistics.median(run.peak("service") for run in steady)),
            service_peak_rss_runs_mb=[_mb(run.peak("service")) for run in steady],
            service_rss_before_runs_mb=[_mb(run.rss_before_mb) for run in steady],
            simulator_peak_rss_mb=_mb(statistics.median(run.peak("hub") for run in steady)),
            simulator_peak_rss_runs_mb=[_mb(run.peak("hub")) for run in steady],
            peak_reset=all(run.peak_reset for run in steady),
            timelines=[run.timeline for run in steady],
            staging_s=[round(run.staging_s, 1) for run in steady],
            **common,
        )
    for run in crashed:
        emit(
            f"EU FMD upload of a {PACKS:,}-pack batch, the simulator restarted and the service killed (SIGKILL) and "
            "restarted mid-upload: POST .../uploads until status reconciled, the hub counting each pack once",
            [run.seconds],
            "s",
            "reconciled, the hub's count exact, no key processed twice (issue 15 states no time)",
            packs_per_s=round(PACKS / run.seconds),
            what_happened=run.events,
            timeline=run.timeline,
            service_peak_rss_mb=_mb(run.peak("service")),
            simulator_peak_rss_mb=_mb(run.peak("hub")),
            **common,
        )


def main(argv: Sequence[str]) -> None:
    chosen = [a for a in argv if a in ("steady", "crash")] or ["steady", "crash"]
    fmd_upload_benchmark(chosen)


if __name__ == "__main__":
    main(sys.argv[1:])
