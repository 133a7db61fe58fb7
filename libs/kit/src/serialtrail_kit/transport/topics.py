"""Topics are created explicitly (partitions, retention.ms=-1: the topic is a copy of the
log and must keep everything), never auto-created; services check at start that theirs exist."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from serialtrail_kit.transport.dead_letters import dead_letter_topic

DEFAULT_PARTITIONS = 6


class MissingTopics(RuntimeError):
    def __init__(self, missing: list[str], bootstrap_servers: str) -> None:
        super().__init__(
            f"topics missing on {bootstrap_servers}: {', '.join(missing)} "
            "(create them with `python scripts/create_topics.py`; they are never auto-created)"
        )
        self.missing = missing


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
    bootstrap_servers: str, topics: Iterable[str], partitions: int = DEFAULT_PARTITIONS
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
                NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs={"retention.ms": "-1"})
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
