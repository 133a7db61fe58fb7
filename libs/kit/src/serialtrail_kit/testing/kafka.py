"""Kafka in tests: a fresh set of topics per test (a prefix, so tests sharing a broker never
read each other's events), settings that point the services at them, and reading a topic."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer
from serialtrail_contracts import topics

from serialtrail_kit.settings import Settings
from serialtrail_kit.testing.broker import TEST_CONSUMER_SETTINGS
from serialtrail_kit.testing.harness import make_settings
from serialtrail_kit.transport.checkpoints import is_checkpoint
from serialtrail_kit.transport.topics import create_topics, with_dead_letters


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
