"""Distributed mode, for real: serial issuance and aggregation as separate OS processes
(`serialtrail serve`), sharing PostgreSQL and a Kafka-protocol broker. 100,000 events go
from serial issuance's log through its relay and topic into aggregation's read model, and
both the relaying and the consuming process are killed with SIGKILL mid-stream and started
again: every event is applied exactly once, none lost, none twice."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from serialtrail_contracts import topics
from serialtrail_contracts.serials import BatchRegistered, ProductRegistered, SerialsCommissioned
from serialtrail_kit.db import APP_ROLE, create_pool
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.pgserver import free_port
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.kafka import fresh_topics
from serialtrail_kit.testing.waiting import until

GTIN, LOT = "09506000134352", "K1"
EVENTS = 100_000
COMMISSIONED = EVENTS - 2  # after the product and the batch


class ServiceProcess:
    def __init__(self, service: str, env: dict[str, str], log_dir: Path) -> None:
        self.service, self.env, self.log = service, env, log_dir / f"{service}.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - starting a process is instant
                [sys.executable, "-m", "serialtrail", "serve", self.service, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        async with httpx.AsyncClient() as client:

            async def ready() -> bool:
                assert self.process is not None
                assert self.process.poll() is None, f"{self.service} exited:\n{self.log.read_text()[-3000:]}"
                try:
                    return (await client.get(f"http://127.0.0.1:{self.port}/health/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            await until(ready, interval=0.2)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def publish_events(dsn: str) -> None:
    """Serial issuance's log, written as its handlers would: 100,000 events in appends of 500,
    paced (about 10,000 a second) so that the stream is still flowing when processes die."""
    pool = await create_pool(dsn, role=APP_ROLE, max_size=2)
    store = PostgresEventStore(pool, "serial_issuance")
    try:
        master = [
            ProductRegistered(
                gtin=GTIN, company_prefix_length=7, name="K", serial_length=10, serial_alphabet="numeric"
            ),
            BatchRegistered(gtin=GTIN, lot=LOT, expiry=date(2029, 1, 31), site_gln="9506000000008"),
        ]
        await store.append([append_of("master", 0, master)], SYSTEM)
        now = datetime(2026, 11, 22, 8, tzinfo=UTC)
        for start in range(0, COMMISSIONED, 500):
            events = [
                SerialsCommissioned(
                    commissioning_id=uuid.uuid4(),
                    gtin=GTIN,
                    lot=LOT,
                    expiry=date(2029, 1, 31),
                    line_id="L1",
                    read_point="urn:epc:id:sgln:9506000.00000.L1",
                    biz_location="urn:epc:id:sgln:9506000.00000.0",
                    event_time=now,
                    serials=(f"{n:010d}",),
                )
                for n in range(start, min(start + 500, COMMISSIONED))
            ]
            await store.append([append_of(f"commissioning-{start}", 0, events)], SYSTEM)
            await asyncio.sleep(0.03)
    finally:
        await pool.close()


async def count(dsn: str, sql: str) -> int:
    pool = await create_pool(dsn, max_size=1)
    try:
        async with pool.acquire() as conn:
            return int(await conn.fetchval(sql))
    finally:
        await pool.close()


async def reached(dsn: str, sql: str, at_least: int) -> int:
    """The other processes' progress, read in the database (they cannot signal this one)."""

    async def enough() -> bool:
        return await count(dsn, sql) >= at_least

    await until(enough, timeout=240, interval=0.2)
    return await count(dsn, sql)


@pytest.mark.slow
async def test_kill_9_of_relay_and_consumer_loses_nothing_and_applies_nothing_twice(
    database_dsn: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = await fresh_topics(kafka_bootstrap)
    env = {
        **os.environ,
        "DATABASE_URL": database_dsn,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SERIALTRAIL_KAFKA_TOPIC_PREFIX": prefix,
        "SERIALTRAIL_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "SERIALTRAIL_KAFKA_FETCH_MAX_WAIT_MS": "50",
        "SERIALTRAIL_ENVIRONMENT": "test",
        "SERIALTRAIL_SERIAL_ISSUANCE_SERIAL_KEY": secrets.token_hex(32),
        "SERIALTRAIL_PROJECTION_POLL_INTERVAL": "0.2",
        "SERIALTRAIL_DATA_DIR": str(tmp_path / "data"),  # checkpoints and their key: not the working tree
    }
    issuance = ServiceProcess("serial_issuance", env, tmp_path)
    aggregation = ServiceProcess("aggregation", env, tmp_path)
    relay = f"relay:{prefix}{topics.SERIALS}"
    relayed = f"SELECT coalesce(max(position), 0) FROM serial_issuance.tracking WHERE reader = '{relay}'"
    applied = "SELECT count(*) FROM aggregation_rm.commissioned"
    try:
        await issuance.start()
        await aggregation.start()
        publisher = asyncio.create_task(publish_events(database_dsn))

        await reached(database_dsn, relayed, EVENTS // 10)
        issuance.kill()  # the relay, mid-stream
        assert await count(database_dsn, relayed) < EVENTS, "the relay finished before it could be killed"
        await issuance.start()

        await reached(database_dsn, applied, EVENTS // 5)
        aggregation.kill()  # the consumer, mid-stream
        assert await count(database_dsn, applied) < COMMISSIONED, "the consumer finished before it could be killed"
        await aggregation.start()
        await publisher

        assert await reached(database_dsn, applied, COMMISSIONED) == COMMISSIONED
        assert await reached(database_dsn, relayed, EVENTS) == EVENTS
    finally:
        aggregation.stop()
        issuance.stop()
    reader = await count(database_dsn, "SELECT count(DISTINCT reader) FROM aggregation.processed_messages")
    assert reader == 1
    # Every event recorded once (a key, so never twice) in the same transaction as its effect.
    assert await count(database_dsn, "SELECT count(*) FROM aggregation.processed_messages") == EVENTS
    assert await count(database_dsn, applied) == COMMISSIONED
    distinct = "SELECT count(DISTINCT object_id) FROM aggregation_rm.commissioned"
    assert await count(database_dsn, distinct) == COMMISSIONED
