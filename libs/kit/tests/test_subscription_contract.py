"""The subscription port's contract, run against both adapters: the producer's log read
directly (embedded mode) and its Kafka topic fed by the relay (distributed mode), on real
PostgreSQL and a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiokafka import AIOKafkaProducer
from serialtrail_kit.db import APP_ROLE, Pool, create_pool
from serialtrail_kit.eventstore.model import NewEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.readers.delivery import LogDeliveries, Subscription
from serialtrail_kit.testing.broker import TEST_CONSUMER_SETTINGS
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.kafka import first_message
from serialtrail_kit.transport.kafka import KafkaDeliveries
from serialtrail_kit.transport.relay import Relay
from serialtrail_kit.transport.topics import create_topics, dead_letter_topic, with_dead_letters

SOURCE, OWNER = "producer_svc", "consumer_svc"


class Boom(Exception):
    pass


@dataclass
class Feed:
    """A producer's log, a consumer's effect table, and subscriptions of one transport."""

    app: Pool
    store: PostgresEventStore
    make: Callable[[], Subscription]
    relay: Relay | None = None
    topic: str | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def emit(self, streams: int, per_stream: int, start: int = 0) -> None:
        for round_ in range(start, start + per_stream):
            appends = [
                StreamAppend(
                    stream_id=f"s{s}",
                    expected_version=round_,
                    events=(NewEvent(event_type="Counted", event_version=1, payload={"n": round_}),),
                )
                for s in range(streams)
            ]
            await self.store.append(appends, SYSTEM)

    async def consume(self, until: int, *, fail_once_at: int | None = None, skip_ack_at: int | None = None) -> None:
        """Apply deliveries until `until` events are in the effect table (or a planned failure)."""
        subscription = self.make()
        deliveries = subscription.deliveries()
        async with contextlib.aclosing(deliveries):
            async for delivery in deliveries:
                async with self.app.acquire() as conn, conn.transaction():
                    fresh = await delivery.record(conn)
                    await conn.executemany(
                        f"INSERT INTO {OWNER}.effects (event_id, stream_id, n) VALUES ($1, $2, $3)",
                        [(e.event_id, e.stream_id, e.payload["n"]) for e in fresh],
                    )
                    applied = await conn.fetchval(f"SELECT count(*) FROM {OWNER}.effects")
                    if fail_once_at is not None and applied >= fail_once_at:
                        raise Boom  # rolls the whole transaction back, position and effects alike
                if skip_ack_at is not None and applied >= skip_ack_at:
                    return  # a crash after commit, before the acknowledgement
                await delivery.acknowledge()
                if applied >= until:
                    return

    async def effects(self) -> list[tuple[str, int]]:
        async with self.app.acquire() as conn:
            rows = await conn.fetch(f"SELECT stream_id, n FROM {OWNER}.effects ORDER BY stream_id, n")
        return [(r["stream_id"], r["n"]) for r in rows]


@contextlib.asynccontextmanager
async def open_feed(kind: str, database_dsn: str, bootstrap: str | None) -> AsyncIterator[Feed]:
    admin = await create_pool(database_dsn)
    async with admin.acquire() as conn:
        await install_log(conn, SOURCE)
        await install_log(conn, OWNER)
        await conn.execute(
            f"CREATE TABLE {OWNER}.effects (event_id uuid PRIMARY KEY, stream_id text, n int);"
            f"GRANT SELECT, INSERT ON {OWNER}.effects TO {APP_ROLE}"
        )
    app = await create_pool(database_dsn, role=APP_ROLE, max_size=10)
    store = PostgresEventStore(app, SOURCE)
    try:
        if kind == "log":
            yield Feed(app, store, lambda: LogDeliveries(app, SOURCE, OWNER, "effects", poll_interval=0.1))
            return
        assert bootstrap is not None
        topic = f"contract.{uuid.uuid4().hex[:8]}.v1"
        await create_topics(bootstrap, with_dead_letters([topic]), partitions=3)
        group = f"g-{uuid.uuid4().hex[:6]}"
        relay = Relay(app, SOURCE, topic, bootstrap, poll_interval=0.1)

        def make() -> Subscription:
            return KafkaDeliveries(
                bootstrap,
                topic,
                group_id=group,
                reader_schema=OWNER,
                reader="effects",
                consumer_settings=TEST_CONSUMER_SETTINGS,
            )

        feed = Feed(app, store, make, relay, topic)
        feed.tasks.append(asyncio.create_task(relay.run()))
        try:
            yield feed
        finally:
            relay.stop()
            await asyncio.wait(feed.tasks, timeout=10)
    finally:
        await app.close()
        await admin.close()


@pytest.fixture(params=["log", "kafka"])
async def feed(request: pytest.FixtureRequest, database_dsn: str) -> AsyncIterator[Feed]:
    bootstrap = request.getfixturevalue("kafka_bootstrap") if request.param == "kafka" else None
    async with open_feed(request.param, database_dsn, bootstrap) as opened:
        yield opened


@pytest.fixture
async def kafka_feed(database_dsn: str, kafka_bootstrap: str) -> AsyncIterator[Feed]:
    async with open_feed("kafka", database_dsn, kafka_bootstrap) as opened:
        yield opened


def expected(streams: int, per_stream: int) -> list[tuple[str, int]]:
    return sorted((f"s{s}", n) for s in range(streams) for n in range(per_stream))


async def test_every_event_is_delivered_and_applied_once(feed: Feed) -> None:
    await feed.emit(streams=5, per_stream=20)
    await asyncio.wait_for(feed.consume(until=100), 60)
    assert await feed.effects() == expected(5, 20)


async def test_a_failed_transaction_is_delivered_again(feed: Feed) -> None:
    await feed.emit(streams=4, per_stream=10)
    with pytest.raises(Boom):
        await asyncio.wait_for(feed.consume(until=40, fail_once_at=1), 60)
    assert await feed.effects() == []
    await asyncio.wait_for(feed.consume(until=40), 60)
    assert await feed.effects() == expected(4, 10)


async def test_a_crash_before_the_acknowledgement_applies_nothing_twice(feed: Feed) -> None:
    await feed.emit(streams=3, per_stream=10)
    await asyncio.wait_for(feed.consume(until=30, skip_ack_at=1), 60)
    await feed.emit(streams=3, per_stream=5, start=10)
    # Over Kafka the unacknowledged batch comes again and is recognised; from the log, the
    # committed tracking row already covers it. Either way each event takes effect once (the
    # effect table's key would refuse a second time).
    await asyncio.wait_for(feed.consume(until=45), 60)
    assert await feed.effects() == expected(3, 15)


async def test_per_stream_order_is_kept(feed: Feed) -> None:
    await feed.emit(streams=3, per_stream=15)
    seen: dict[str, list[int]] = {}
    subscription = feed.make()
    deliveries = subscription.deliveries()
    async with contextlib.aclosing(deliveries):
        async for delivery in deliveries:
            for event in delivery.events:
                seen.setdefault(event.stream_id, []).append(event.payload["n"])
            if sum(map(len, seen.values())) >= 45:
                break
    assert seen == {f"s{s}": list(range(15)) for s in range(3)}


async def test_an_undecodable_message_goes_to_the_dead_letter_topic(kafka_feed: Feed, kafka_bootstrap: str) -> None:
    """Kafka only: the in-database log holds nothing but events its producer appended."""
    feed = kafka_feed
    assert feed.topic is not None
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(feed.topic, value=b"{not json", key=b"s0")
    await producer.stop()
    await feed.emit(streams=1, per_stream=3)
    await asyncio.wait_for(feed.consume(until=3), 60)
    assert await feed.effects() == expected(1, 3)
    message = await first_message(kafka_bootstrap, dead_letter_topic(feed.topic))
    assert message.value == b"{not json"
    assert dict(message.headers)["dead_letter_reason"].startswith(b"not a Serialtrail envelope")
