"""Topics are created explicitly (partitions, retention.ms=-1: the topic is a copy of the
log and must keep everything), never auto-created; services check at start that theirs exist."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

DEFAULT_PARTITIONS = 6
DEAD_LETTER_SUFFIX = ".dlq"
QUIET_POLLS = 3  # empty fetches in a row before a topic counts as read to its end


class MissingTopics(RuntimeError):
    def __init__(self, missing: list[str], bootstrap_servers: str) -> None:
        super().__init__(
            f"topics missing on {bootstrap_servers}: {', '.join(missing)} "
            "(create them with `serialtrail topics create`; they are never auto-created)"
        )
        self.missing = missing


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{DEAD_LETTER_SUFFIX}"


def with_dead_letters(topics: Iterable[str]) -> list[str]:
    return [name for topic in topics for name in (topic, dead_letter_topic(topic))]


async def existing_topics(bootstrap_servers: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def create_topics(
    bootstrap_servers: str, topics: Iterable[str], partitions: int = DEFAULT_PARTITIONS, replication_factor: int = 1
) -> list[str]:
    """Create those of `topics` that do not exist yet; returns the ones created."""
    wanted = [t for t in dict.fromkeys(topics) if t not in await existing_topics(bootstrap_servers)]
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=replication_factor,
                    topic_configs={"retention.ms": "-1"},
                )
                for name in wanted
            ]
        )
    finally:
        await admin.close()
    return wanted


async def require_topics(bootstrap_servers: str, topics: Iterable[str]) -> None:
    missing = sorted(set(topics) - await existing_topics(bootstrap_servers))
    if missing:
        raise MissingTopics(missing, bootstrap_servers)


async def read_to_end(bootstrap_servers: str, topic: str, *, key: bytes | None = None, poll_ms: int = 300) -> list[Any]:
    """Every message on `topic` (only the partition `key` goes to, if given), sorted by
    partition and offset. No consumer group: reading changes nothing. (Read until the topic
    stays quiet for a few fetches, not to its end offsets, which some brokers report a batch
    short.)"""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        await consumer.topics()  # fetch the cluster's metadata, partitions included
        numbers = sorted(consumer.partitions_for_topic(topic) or ())
        if not numbers:
            return []
        if key is not None:  # where a producer sends that key: Kafka's murmur2 partitioning
            numbers = [DefaultPartitioner()(key, numbers, numbers)]
        partitions = [TopicPartition(topic, p) for p in numbers]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[Any] = []
        quiet = 0
        while quiet < QUIET_POLLS:
            batches = await consumer.getmany(timeout_ms=poll_ms)
            quiet = 0 if batches else quiet + 1
            for messages in batches.values():
                found += messages
        return sorted(found, key=lambda m: (m.partition, m.offset))
    finally:
        await consumer.stop()
