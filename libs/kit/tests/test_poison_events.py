"""A consumer that keeps failing on one event: over Kafka the event is set aside on the
dead-letter topic with the reason and everything else is applied; from a log (the
producer's truth) nothing is skipped and the failure stays visible."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import orjson
import pytest
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import NewEvent, RecordedEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.readers.projection import ProjectionAdmin, ProjectionRunner, views_schema
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.kafka import first_message
from serialtrail_kit.testing.readers import logs, topic_subscription
from serialtrail_kit.testing.waiting import until
from serialtrail_kit.transport.relay import Relay
from serialtrail_kit.transport.topics import create_topics, dead_letter_topic, with_dead_letters

SOURCE, OWNER = "poison_producer", "poison_consumer"


class Picky:
    """Refuses events whose payload says so, the way a projection meets data it cannot take."""

    name = "picky"
    source = SOURCE
    tables: tuple[str, ...] = ("seen",)

    def ddl(self, schema: str) -> str:
        return f"CREATE TABLE {schema}.seen (n int PRIMARY KEY)"

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if event.payload.get("poison"):
                raise ValueError(f"cannot take n={event.payload['n']}")
            await conn.execute(f"INSERT INTO {schema}.seen VALUES ($1)", event.payload["n"])


async def emit(app: Pool) -> None:
    events = tuple(
        NewEvent(event_type="Numbered", event_version=1, payload={"n": n, "poison": n == 3}) for n in range(6)
    )
    await PostgresEventStore(app, SOURCE).append(
        [StreamAppend(stream_id="s", expected_version=0, events=events)], SYSTEM
    )


async def seen_now(app: Pool, expected: list[int]) -> bool:
    return await seen(app) == expected


async def seen(app: Pool) -> list[int]:
    async with app.acquire() as conn:
        return [r["n"] for r in await conn.fetch(f"SELECT n FROM {views_schema(OWNER)}.seen ORDER BY n")]


async def test_over_kafka_a_poison_event_goes_to_the_dead_letter_topic(database_dsn: str, kafka_bootstrap: str) -> None:
    topic = f"poison.{uuid.uuid4().hex[:8]}.v1"
    await create_topics(kafka_bootstrap, with_dead_letters([topic]), partitions=1)
    async with logs(database_dsn, SOURCE, OWNER) as (admin, app):
        await ProjectionAdmin(admin, OWNER).ensure(Picky())

        subscribe = topic_subscription(kafka_bootstrap, topic, OWNER, "g-")

        relay = Relay(app, SOURCE, topic, kafka_bootstrap, poll_interval=0.1)
        runner = ProjectionRunner(app, OWNER, Picky(), subscribe=subscribe)
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]
        try:
            await emit(app)
            await until(lambda: seen_now(app, [0, 1, 2, 4, 5]))
            message = await first_message(kafka_bootstrap, dead_letter_topic(topic))
            assert orjson.loads(message.value)["payload"] == {"n": 3, "poison": True}  # as it arrived
            assert dict(message.headers)["dead_letter_reason"] == b"ValueError: cannot take n=3"
        finally:
            relay.stop()
            runner.stop()
            await asyncio.wait(tasks, timeout=10)


async def test_from_a_log_nothing_is_skipped(database_dsn: str) -> None:
    async with logs(database_dsn, SOURCE, OWNER) as (admin, app):
        await ProjectionAdmin(admin, OWNER).ensure(Picky())
        await emit(app)
        runner = ProjectionRunner(app, OWNER, Picky(), poll_interval=0.1)
        with pytest.raises(RuntimeError, match="cannot take n=3"):
            await asyncio.wait_for(runner.run(), 30)
        assert await seen(app) == []  # the whole delivery waits, nothing after the poison is applied alone
