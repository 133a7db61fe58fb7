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
from aiokafka.partitioner import DefaultPartitioner
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AnyValue

from serialtrail_kit.db import Pool
from serialtrail_kit.readers.subscription import LogSubscription
from serialtrail_kit.readers.tracking import Tracking
from serialtrail_kit.readers.watermark import Watermark
from serialtrail_kit.telemetry import TRACER, links
from serialtrail_kit.transport.envelope import HEADER_FIELDS, OutgoingRow, read_outgoing

log = logging.getLogger(__name__)
IN_FLIGHT = 3  # batches sent and not yet acknowledged
TRACEPARENT = HEADER_FIELDS.index("traceparent")


class StreamPartitioner:
    """Kafka's murmur2 key partitioning (what every Kafka client computes for a key), remembered
    per stream: a log's events come in runs of the same stream, and murmur2 is pure Python here."""

    def __init__(self) -> None:
        self._murmur = DefaultPartitioner()
        self._known: dict[tuple[bytes, int], int] = {}

    def __call__(self, key: bytes, all_partitions: list[int], available: list[int]) -> int:
        remembered = (key, len(all_partitions))
        partition = self._known.get(remembered)
        if partition is None:
            if len(self._known) > 100_000:
                self._known.clear()
            partition = self._known[remembered] = self._murmur(key, all_partitions, available)
        return partition


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
        self._watermark = Watermark()
        self._tracking = Tracking(schema, f"relay:{topic}", schema)
        self._subscription = LogSubscription(
            pool, schema, batch_size=batch_size, poll_interval=poll_interval, stopping=self.stopping
        )
        self._producer_settings = producer_settings or {}

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
            partitioner=StreamPartitioner(),
            enable_idempotence=False,
            **self._producer_settings,
        )
        await producer.start()
        # Pipelined: while the broker acknowledges one batch, the next is read and sent. The
        # settler moves the position batch by batch, in order, once every message is acked.
        in_flight: asyncio.Queue[tuple[asyncio.Future[Any], int] | None] = asyncio.Queue(maxsize=IN_FLIGHT)
        settler = asyncio.create_task(self._settle(in_flight))
        try:
            async with self.pool.acquire() as conn:
                await self._watermark.advance(await self._tracking.position(conn))
            batches = self._subscription.rows(self.position, self._fetch)
            async with contextlib.aclosing(batches):
                async for batch in batches:
                    await in_flight.put((await self._send(producer, batch), batch[-1].global_position))
                    if settler.done():
                        break  # a send failed: the settler's error is raised below
            await in_flight.put(None)
            await settler
        finally:
            settler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await settler
            await producer.stop()

    async def _send(self, producer: AIOKafkaProducer, batch: list[OutgoingRow]) -> asyncio.Future[Any]:
        pending = []
        traceparents = (row.headers[TRACEPARENT] for row in batch)
        attributes: dict[str, AnyValue] = {
            "messaging.destination.name": self.topic,
            "messaging.batch.message_count": len(batch),
        }
        with TRACER.start_as_current_span(
            "relay.publish", kind=SpanKind.PRODUCER, links=links(traceparents), attributes=attributes
        ):
            for row in batch:
                headers = [
                    (name, value.encode()) for name, value in zip(HEADER_FIELDS, row.headers, strict=True) if value
                ]
                sent = await producer.send(self.topic, value=row.body, key=row.stream_id.encode(), headers=headers)
                pending.append(sent)
        return asyncio.gather(*pending)

    async def _settle(self, in_flight: asyncio.Queue[tuple[asyncio.Future[Any], int] | None]) -> None:
        while (item := await in_flight.get()) is not None:
            acknowledged, position = item
            await acknowledged  # every message of the batch, acks=all, before the position moves
            async with self.pool.acquire() as conn:
                await self._tracking.advance(conn, position)
            await self._watermark.advance(position)

    async def _fetch(self, after: int, limit: int) -> list[OutgoingRow]:
        async with self.pool.acquire() as conn:
            return await read_outgoing(conn, self.schema, after, limit)

    @property
    def position(self) -> int:
        """The last global position the broker acknowledged."""
        return self._watermark.position

    async def wait_for(self, position: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - bounded by design
        await self._watermark.reached(position, timeout)

    async def lag(self) -> int:
        """Events in the log not yet acknowledged by the broker."""
        return max(0, await self._subscription.head() - self.position)
