"""`serialtrail dlq list|show|redrive` against a real broker and database: a read model over
Kafka sets a poison event aside; an operator sees why, fixes the cause and redrives it; the
event is applied once, however often it is redriven."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import ClassVar

from aiokafka import AIOKafkaProducer
from serialtrail_contracts import topics
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import NewEvent, RecordedEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.readers.projection import ProjectionAdmin, ProjectionRunner, views_schema
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.kafka import fresh_topics
from serialtrail_kit.testing.readers import logs, topic_subscription
from serialtrail_kit.testing.waiting import until
from serialtrail_kit.transport.dead_letters import read_dead_letters
from serialtrail_kit.transport.relay import Relay
from serialtrail_kit.transport.topics import dead_letter_topic

SOURCE, OWNER = "dlq_producer", "aggregation"  # the reader belongs to a service of the installation


class Picky:
    """Cannot take the numbers in `refusing` (until the cause is fixed)."""

    name = "picky"
    source = SOURCE
    tables: tuple[str, ...] = ("seen",)
    refusing: ClassVar[set[int]] = {3}

    def ddl(self, schema: str) -> str:
        return f"CREATE TABLE {schema}.seen (n int PRIMARY KEY)"

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if event.payload["n"] in self.refusing:
                raise ValueError(f"cannot take n={event.payload['n']}")
            await conn.execute(f"INSERT INTO {schema}.seen VALUES ($1)", event.payload["n"])


def dlq(dsn: str, bootstrap: str, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SERIALTRAIL_KAFKA_TOPIC_PREFIX": prefix,
    }
    return subprocess.run(
        [sys.executable, "-m", "serialtrail", "dlq", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_a_set_aside_event_is_listed_shown_and_redriven_once(database_dsn: str, kafka_bootstrap: str) -> None:
    prefix = await fresh_topics(kafka_bootstrap, partitions=1)
    topic = prefix + topics.SERIALS  # any topic the installation knows, here fed from a test log
    async with logs(database_dsn, SOURCE, OWNER) as (admin, app):
        await ProjectionAdmin(admin, OWNER).ensure(Picky())
        await _set_aside_then_redriven(database_dsn, kafka_bootstrap, prefix, topic, app)


async def _set_aside_then_redriven(database_dsn: str, kafka_bootstrap: str, prefix: str, topic: str, app: Pool) -> None:
    subscribe = topic_subscription(kafka_bootstrap, topic, OWNER, prefix)
    relay = Relay(app, SOURCE, topic, kafka_bootstrap, poll_interval=0.1)
    runner = ProjectionRunner(app, OWNER, Picky(), subscribe=subscribe)
    log = PostgresEventStore(app, SOURCE)
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]

    async def seen() -> list[int]:
        async with app.acquire() as conn:
            return [r["n"] for r in await conn.fetch(f"SELECT n FROM {views_schema(OWNER)}.seen ORDER BY n")]

    async def seen_is(expected: list[int]) -> bool:
        return await seen() == expected

    try:
        events = tuple(NewEvent(event_type="Numbered", event_version=1, payload={"n": n}) for n in range(6))
        await log.append([StreamAppend(stream_id="s", expected_version=0, events=events)], SYSTEM)
        await until(lambda: seen_is([0, 1, 2, 4, 5]))
        dead = dead_letter_topic(topic)

        listed = await asyncio.to_thread(dlq, database_dsn, kafka_bootstrap, prefix, "list")
        assert listed.returncode == 0, listed.stderr
        assert f"{dead} 0:0  Numbered" in listed.stdout
        assert "reason: ValueError: cannot take n=3" in listed.stdout
        assert "1 dead letter(s)" in listed.stdout

        shown = await asyncio.to_thread(dlq, database_dsn, kafka_bootstrap, prefix, "show", dead, "0:0")
        assert shown.returncode == 0, shown.stderr
        assert f"dead_letter_owner: {OWNER}" in shown.stdout
        assert '"n": 3' in shown.stdout

        Picky.refusing.clear()  # the cause is fixed
        for _ in range(2):  # a second redrive of the same letter changes nothing
            redriven = await asyncio.to_thread(dlq, database_dsn, kafka_bootstrap, prefix, "redrive", dead, "0:0")
            assert redriven.returncode == 0, redriven.stderr
            assert "1 message(s) redriven" in redriven.stdout
            await until(lambda: seen_is([0, 1, 2, 3, 4, 5]))
        # One more event behind the second copy, on the same partition: once it is seen, the reader
        # has passed the copy, which it recognised rather than applied (or set aside) again.
        later = NewEvent(event_type="Numbered", event_version=1, payload={"n": 6})
        await log.append([StreamAppend(stream_id="s", expected_version=6, events=(later,))], SYSTEM)
        await until(lambda: seen_is([0, 1, 2, 3, 4, 5, 6]))
        assert len(await read_dead_letters(kafka_bootstrap, dead)) == 1

        unknown = await asyncio.to_thread(dlq, database_dsn, kafka_bootstrap, prefix, "show", dead, "0:99")
        assert unknown.returncode == 1
        assert "no message 0:99" in unknown.stderr

        # A forged letter (its headers name another topic) is not sent anywhere.
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        forged_source = [("dead_letter_source", f"{prefix}{topics.IDENTITY}:0:0".encode())]
        await producer.send_and_wait(dead, value=b'{"event_id": "x"}', key=b"s", headers=forged_source)
        await producer.stop()
        refused = await asyncio.to_thread(dlq, database_dsn, kafka_bootstrap, prefix, "redrive", dead, "--all")
        assert refused.returncode == 1
        assert "nothing redriven" in refused.stderr
        assert f"claims to come from {prefix}{topics.IDENTITY}" in refused.stderr
    finally:
        Picky.refusing.add(3)
        relay.stop()
        runner.stop()
        await asyncio.wait(tasks, timeout=10)
