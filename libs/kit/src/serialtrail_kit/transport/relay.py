"""The relay: tails a service's log by global position and publishes every event to the
service's topic. The log is the outbox: nothing else writes to Kafka.

Its position lives in the service's tracking table and moves only after the broker has
acknowledged (acks=all) every message of a batch, so after a crash it resumes where the
last acknowledged batch ended: it may publish an event twice, never skip one. Consumers
deduplicate by event id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaProducer

from serialtrail_kit.db import Pool
from serialtrail_kit.readers.subscription import LogSubscription
from serialtrail_kit.readers.tracking import Tracking
from serialtrail_kit.transport.envelope import to_message

log = logging.getLogger(__name__)


class Relay:
    def __init__(
        self,
        pool: Pool,
        schema: str,
        topic: str,
        bootstrap_servers: str,
        *,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        producer_settings: dict[str, Any] | None = None,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.stopping = asyncio.Event()
        self.position = 0  # last global position the broker acknowledged
        self._tracking = Tracking(schema, f"relay:{topic}", schema)
        self._subscription = LogSubscription(
            pool, schema, batch_size=batch_size, poll_interval=poll_interval, stopping=self.stopping
        )
        self._producer_settings = producer_settings or {}
        self._advanced = asyncio.Condition()

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        # Tansu (and many managed brokers) support no idempotent producer: duplicates after
        # a retry are possible and harmless, since consumers deduplicate by event id.
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            linger_ms=5,
            max_batch_size=1_048_576,  # a log batch is thousands of small messages: few, large requests
            enable_idempotence=False,
            **self._producer_settings,
        )
        await producer.start()
        try:
            async with self.pool.acquire() as conn:
                await self._published(await self._tracking.position(conn))
            batches = self._subscription.batches(self.position)
            async with contextlib.aclosing(batches):
                async for batch in batches:
                    await self._publish(producer, batch)
        finally:
            await producer.stop()

    async def _publish(self, producer: AIOKafkaProducer, batch: list[Any]) -> None:
        pending = []
        for event in batch:
            message = to_message(event, producer=self.schema)
            pending.append(
                await producer.send(self.topic, value=message.value, key=message.key, headers=message.headers)
            )
        await asyncio.gather(*pending)  # every message acknowledged before the position moves
        async with self.pool.acquire() as conn:
            await self._tracking.advance(conn, batch[-1].global_position)
        await self._published(batch[-1].global_position)

    async def _published(self, position: int) -> None:
        async with self._advanced:
            self.position = position
            self._advanced.notify_all()

    async def wait_for(self, position: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - bounded by design
        async with asyncio.timeout(timeout), self._advanced:
            await self._advanced.wait_for(lambda: self.position >= position)

    async def lag(self) -> int:
        """Events in the log not yet acknowledged by the broker."""
        return max(0, await self._subscription.head() - self.position)
