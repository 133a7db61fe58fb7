"""Kafka in tests: a fresh set of topics per test (a prefix, so tests sharing a broker never
read each other's events), settings that point the services at them, and reading a topic."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer
from serialtrail_contracts import topics

from serialtrail_kit.db import APP_ROLE
from serialtrail_kit.declaration import Service
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.service_settings import ServiceSettings
from serialtrail_kit.settings import Settings
from serialtrail_kit.testing.broker import TEST_CONSUMER_SETTINGS
from serialtrail_kit.testing.harness import Harness, make_settings, serve
from serialtrail_kit.transport.checkpoints import is_checkpoint
from serialtrail_kit.transport.topics import create_topics, with_dead_letters
from serialtrail_kit.transport.wiring import KafkaTransport


async def fresh_topics(bootstrap_servers: str, partitions: int = 3) -> str:
    """Create every service topic and dead-letter topic under a new prefix; returns the prefix."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(bootstrap_servers, with_dead_letters(prefix + t for t in topics.ALL), partitions)
    return prefix


def kafka_settings(bootstrap_servers: str, prefix: str) -> Settings:
    """Distributed mode on those topics, with the short timeouts a test broker needs."""
    return make_settings(
        kafka_bootstrap_servers=bootstrap_servers,
        kafka_topic_prefix=prefix,
        kafka_session_timeout_ms=TEST_CONSUMER_SETTINGS["session_timeout_ms"],
        kafka_fetch_max_wait_ms=TEST_CONSUMER_SETTINGS["fetch_max_wait_ms"],
    )


async def first_message(bootstrap_servers: str, topic: str, timeout: float = 30.0) -> Any:  # noqa: ASYNC109
    """The first message on `topic` that is no checkpoint (no consumer group: read from the
    beginning)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest", fetch_max_wait_ms=50
    )
    await consumer.start()

    async def first() -> Any:
        while is_checkpoint((message := await consumer.getone()).headers):
            pass
        return message

    try:
        return await asyncio.wait_for(first(), timeout)
    finally:
        await consumer.stop()


@asynccontextmanager
async def serve_alone(
    transport: str,
    database_dsn: str,
    service: Service[Any],
    producers: Sequence[str],
    bootstrap_servers: str = "",
    own_settings: ServiceSettings | None = None,
) -> AsyncIterator[Harness]:
    """One service alone, on either transport: what the services it reads from publish is
    written to their logs by the test, exactly as those producers would, so every arrival order
    can be staged. `embedded`: the service reads those logs directly. `kafka`: the producers'
    relays publish them to their topics (one partition, so the order staged is the order
    delivered) and the service reads them through its consumer groups, as in distributed mode.
    `own_settings`: the service's own, instead of its test settings."""
    own = None if own_settings is None else {service.name: own_settings}
    if transport == "embedded":
        async with serve(database_dsn, [service], own_settings=own) as harness:
            yield harness
        return
    prefix = await fresh_topics(bootstrap_servers, partitions=1)
    async with serve(database_dsn, [service], kafka_settings(bootstrap_servers, prefix), own) as harness:
        async with harness.composition.admin_pool.acquire() as conn:
            for producer in producers:
                await install_log(conn, producer, APP_ROLE)
        kafka = KafkaTransport(bootstrap_servers, prefix=prefix)  # as the producers' processes would
        relays = [kafka.relay(harness.composition.app_pool, producer, 0.1) for producer in producers]
        tasks = [asyncio.create_task(relay.run()) for relay in relays]
        try:
            yield harness
        finally:
            for relay in relays:
                relay.stop()
            await asyncio.wait(tasks, timeout=10)
