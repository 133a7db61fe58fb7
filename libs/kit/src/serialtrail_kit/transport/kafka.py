"""The subscription port over Kafka: a consumer group on another service's topic.

Offsets are committed only after the consumer's transaction, which also records every event
id it applied (`processed_messages`) and each partition's offset (`tracking`), so a
redelivery after a crash or a rebalance is recognised and left out. A message that is not a
valid envelope goes to the topic's dead-letter topic with the reason, and is skipped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any, TypeAlias
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from serialtrail_kit.db import Connection, ident
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.upcasting import NO_UPCASTERS, Upcasters
from serialtrail_kit.readers.delivery import Delivery
from serialtrail_kit.transport.checkpoints import is_checkpoint
from serialtrail_kit.transport.envelope import UndecodableMessage, from_message
from serialtrail_kit.transport.topics import dead_letter_topic

Record: TypeAlias = ConsumerRecord  # aiokafka ships no types


class _KafkaDelivery:
    def __init__(
        self,
        events: list[RecordedEvent],
        received: dict[UUID, Record],
        offsets: dict[TopicPartition, int],
        owner: KafkaDeliveries,
    ) -> None:
        self.events: Sequence[RecordedEvent] = events
        self._received = received  # the message each event came in, kept for setting it aside
        self._offsets = offsets
        self._owner = owner

    async def record(self, conn: Connection) -> list[RecordedEvent]:
        fresh = await self._owner.mark_processed(conn, self.events)
        schema, reader = self._owner.reader_schema, self._owner.reader
        await conn.executemany(
            f"INSERT INTO {schema}.tracking (reader, source, position) VALUES ($1, $2, $3) "
            f"ON CONFLICT (reader, source) DO UPDATE SET position = GREATEST({schema}.tracking.position, "
            "EXCLUDED.position)",
            [(reader, f"{tp.topic}:{tp.partition}", offset) for tp, offset in self._offsets.items()],
        )
        return fresh

    async def acknowledge(self) -> None:
        await self._owner.commit(self._offsets)

    async def set_aside(self, conn: Connection, event: RecordedEvent, reason: str) -> bool:
        await self._owner.mark_processed(conn, [event])
        await conn.execute(
            f"INSERT INTO {self._owner.reader_schema}.set_aside (reader, event_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING",
            self._owner.reader,
            event.event_id,
        )
        await self._owner.dead_letter([(self._received[event.event_id], reason)])
        return True


class KafkaDeliveries:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        group_id: str,
        reader_schema: str,
        reader: str,
        upcasters: Upcasters = NO_UPCASTERS,
        batch_size: int = 2000,
        consumer_settings: dict[str, Any] | None = None,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.group_id = group_id
        self.reader_schema = ident(reader_schema)
        self.reader = reader
        self.upcasters = upcasters
        self.batch_size = batch_size
        self.stopping = stopping or asyncio.Event()
        self.dead_letters = 0
        self._settings = consumer_settings or {}
        self._consumer: AIOKafkaConsumer | None = None

    async def deliveries(self) -> AsyncGenerator[Delivery, None]:
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self._settings,
        )
        await consumer.start()
        self._consumer = consumer
        try:
            while not self.stopping.is_set():
                records = await consumer.getmany(timeout_ms=200, max_records=self.batch_size)
                if records:
                    yield await self._delivery(records)
        finally:
            self._consumer = None
            await consumer.stop()

    async def _delivery(self, records: dict[TopicPartition, list[Record]]) -> _KafkaDelivery:
        events: list[RecordedEvent] = []
        received: dict[UUID, Record] = {}
        dead: list[tuple[Record, str]] = []
        offsets: dict[TopicPartition, int] = {}
        for partition, messages in records.items():
            for message in messages:
                offsets[partition] = message.offset + 1
                if is_checkpoint(message.headers):
                    continue  # the producer's signed log head, published beside its events: no event
                try:
                    event = self.upcasters.event(from_message(message.value))
                except UndecodableMessage as error:
                    dead.append((message, str(error)))
                else:
                    events.append(event)
                    received[event.event_id] = message
        if dead:
            await self.dead_letter(dead)
        return _KafkaDelivery(events, received, offsets, self)

    async def mark_processed(self, conn: Connection, events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
        """Note events as handled by this reader; returns those that were not already."""
        if not events:
            return []
        rows = await conn.fetch(
            f"INSERT INTO {self.reader_schema}.processed_messages (reader, event_id) "
            "SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id",
            self.reader,
            [e.event_id for e in events],
        )
        fresh = {r["event_id"] for r in rows}
        return [e for e in events if e.event_id in fresh]

    async def dead_letter(self, dead: Sequence[tuple[Record, str]]) -> None:
        """The messages as they arrived, each with the reason, on the dead-letter topic: published
        and acknowledged before the consumer moves past them, so a set-aside message is never lost."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all", enable_idempotence=False)
        await producer.start()
        try:
            sent = []
            for message, reason in dead:
                labels = [
                    ("dead_letter_reason", reason.encode()),
                    ("dead_letter_reader", self.reader.encode()),
                    ("dead_letter_owner", self.reader_schema.encode()),
                    ("dead_letter_source", f"{message.topic}:{message.partition}:{message.offset}".encode()),
                ]
                headers = [*(message.headers or ()), *labels]
                topic = dead_letter_topic(self.topic)
                sent.append(await producer.send(topic, value=message.value, key=message.key, headers=headers))
            await asyncio.gather(*sent)
        finally:
            await producer.stop()
        self.dead_letters += len(dead)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self._consumer is not None and offsets:
            await self._consumer.commit(offsets)

    async def lag(self) -> int:
        """Messages not yet consumed, over the assigned partitions (brokers may report end
        offsets a batch late: a hint for monitoring, never a correctness check)."""
        consumer = self._consumer
        if consumer is None:
            return 0
        total = 0
        for partition in consumer.assignment():
            end = consumer.highwater(partition)
            position = await consumer.position(partition)
            if end is not None:
                total += max(0, end - position)
        return total
