"""The relay on a real Kafka-protocol broker: what it publishes, where, in which order, and that
its position never passes an event the broker did not acknowledge."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from serialtrail_kit.db import Pool
from serialtrail_kit.eventstore.model import NewEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.readers.tracking import Tracking
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.readers import logs
from serialtrail_kit.transport.checkpoints import is_checkpoint
from serialtrail_kit.transport.relay import Relay
from serialtrail_kit.transport.topics import create_topics

SOURCE, PARTITIONS = "relayed_svc", 3


@pytest.fixture
async def app(database_dsn: str) -> AsyncIterator[Pool]:
    async with logs(database_dsn, SOURCE, app_connections=10) as (_, pool):
        yield pool


async def fresh_topic(bootstrap: str) -> str:
    topic = f"relay.{uuid.uuid4().hex[:8]}.v1"
    await create_topics(bootstrap, [topic], partitions=PARTITIONS)
    return topic


async def append(store: PostgresEventStore, streams: int, rounds: int, size: int = 10, start: int = 0) -> None:
    for round_ in range(start, start + rounds):
        appends = [
            StreamAppend(
                stream_id=f"stream-{s}",
                expected_version=round_,
                events=(NewEvent(event_type="Counted", event_version=1, payload={"n": round_, "pad": "x" * size}),),
            )
            for s in range(streams)
        ]
        await store.append(appends, SYSTEM)


async def messages(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=50)
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(60):
            while len(found) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    found += [m for m in batch if not is_checkpoint(m.headers)]
    finally:
        await consumer.stop()
    return found


@contextlib.asynccontextmanager
async def running(relay: Relay) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(relay.run())
    try:
        yield task
    finally:
        relay.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


async def test_each_partition_holds_its_streams_in_log_order_once(app: Pool, kafka_bootstrap: str) -> None:
    """Small log batches and small record batches (so each partition's share is split in
    several): every event once, each stream on the partition its key hashes to, and each
    partition in log order."""
    topic = await fresh_topic(kafka_bootstrap)
    await append(PostgresEventStore(app, SOURCE), streams=12, rounds=25)
    relay = Relay(
        app,
        SOURCE,
        topic,
        kafka_bootstrap,
        batch_size=40,
        poll_interval=0.1,
        producer_settings={"max_batch_size": 2048},
    )
    async with running(relay):
        await relay.wait_for(300, timeout=60)
    found = await messages(kafka_bootstrap, topic, 300)
    bodies = [orjson.loads(m.value) for m in found]
    assert sorted(b["global_position"] for b in bodies) == list(range(1, 301))
    murmur = DefaultPartitioner()
    for message, body in zip(found, bodies, strict=True):
        assert message.key == body["stream_id"].encode()
        assert message.partition == murmur(message.key, list(range(PARTITIONS)), list(range(PARTITIONS)))
        assert dict(message.headers)["event_id"] == body["event_id"].encode()
    for partition in range(PARTITIONS):
        ordered = [b["global_position"] for m, b in zip(found, bodies, strict=True) if m.partition == partition]
        offsets = [m.offset for m in found if m.partition == partition]
        assert ordered == sorted(ordered)
        assert offsets == sorted(offsets)
    async with app.acquire() as conn:
        assert await Tracking(SOURCE, f"relay:{topic}", SOURCE).position(conn) == 300


async def test_a_message_too_large_stops_the_relay_where_the_broker_acknowledged(
    app: Pool, kafka_bootstrap: str
) -> None:
    """An event the producer cannot send stops the relay with the producer's own error; the
    position stays after the last batch the broker acknowledged, never past it."""
    topic = await fresh_topic(kafka_bootstrap)
    store = PostgresEventStore(app, SOURCE)
    await append(store, streams=5, rounds=1)
    relay = Relay(
        app,
        SOURCE,
        topic,
        kafka_bootstrap,
        batch_size=5,
        poll_interval=0.1,
        producer_settings={"max_request_size": 100_000},
    )
    async with running(relay) as task:
        await relay.wait_for(5, timeout=60)
        await append(store, streams=1, rounds=1, size=200_000, start=1)
        with pytest.raises(MessageSizeTooLargeError):
            await asyncio.wait_for(task, 30)
    assert relay.position == 5
    async with app.acquire() as conn:
        assert await Tracking(SOURCE, f"relay:{topic}", SOURCE).position(conn) == 5
