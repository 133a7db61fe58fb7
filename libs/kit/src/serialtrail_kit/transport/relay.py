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
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatchBuilder
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
DEFAULT_MAX_REQUEST_SIZE = 1_048_576  # aiokafka's default
SIZE_MARGIN = 64 * 1024  # a key and headers larger than this are not ours: below it, no size to work out
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
        self._max_request_size = int(self._producer_settings.get("max_request_size", DEFAULT_MAX_REQUEST_SIZE))
        self._partitioner = StreamPartitioner()
        self._ahead: tuple[int, asyncio.Future[list[OutgoingRow]]] | None = None  # the next batch, being read

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        # Tansu (and many managed brokers) support no idempotent producer: duplicates after
        # a retry are possible and harmless, since consumers deduplicate by event id.
        settings: dict[str, Any] = {
            "linger_ms": 5,
            "max_batch_size": 1_048_576,  # a log batch is thousands of small messages: few, large requests
            **self._producer_settings,  # these two may be tuned; what follows may not
        }
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            partitioner=self._partitioner,
            enable_idempotence=False,
            **settings,
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
            await self._forget_ahead()
            await producer.stop()

    async def _send(self, producer: AIOKafkaProducer, batch: list[OutgoingRow]) -> asyncio.Future[Any]:
        """Queue a log batch as one record batch per partition, in log order within each; the
        future is done when the broker acknowledged every one (acks=all). Built here rather than
        message by message through `producer.send`: no future, no await and no partitioning
        lookup per event, and the producer still sends a partition's batches one at a time and in
        order, as it does for the batches it builds itself."""
        topic, partitioner = self.topic, self._partitioner
        partitions = list(await producer.partitions_for(topic))  # the order `producer.send` passes
        builders: dict[int, BatchBuilder] = {}
        acknowledged: list[asyncio.Future[Any]] = []
        traceparents = (row.headers[TRACEPARENT] for row in batch)
        attributes: dict[str, AnyValue] = {
            "messaging.destination.name": topic,
            "messaging.batch.message_count": len(batch),
        }
        with TRACER.start_as_current_span(
            "relay.publish", kind=SpanKind.PRODUCER, links=links(traceparents), attributes=attributes
        ):
            for row in batch:
                key, body = row.stream_id.encode(), row.body
                headers = [(name, text.encode()) for name, text in zip(HEADER_FIELDS, row.headers, strict=True) if text]
                if len(body) + SIZE_MARGIN > self._max_request_size:
                    self._refuse_oversized(key, body, headers)
                partition = partitioner(key, partitions, partitions)
                builder = builders.get(partition)
                if builder is None or builder.append(timestamp=None, key=key, value=body, headers=headers) is None:
                    if builder is not None:  # full: queued, and a new one takes this event
                        acknowledged.append(await producer.send_batch(builder, topic, partition=partition))
                    builder = builders[partition] = producer.create_batch()
                    builder.append(timestamp=None, key=key, value=body, headers=headers)
            for partition, builder in builders.items():
                acknowledged.append(await producer.send_batch(builder, topic, partition=partition))
        return asyncio.gather(*acknowledged)

    def _refuse_oversized(self, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        """What `producer.send` refuses, refused the same way: the relay stops there, its position
        where the broker's acknowledgements left it."""
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
        if size > self._max_request_size:
            raise MessageSizeTooLargeError(
                f"The message is {size} bytes when serialized which is larger than the maximum request size"
            )

    async def _settle(self, in_flight: asyncio.Queue[tuple[asyncio.Future[Any], int] | None]) -> None:
        while (item := await in_flight.get()) is not None:
            acknowledged, position = item
            await acknowledged  # every message of the batch, acks=all, before the position moves
            async with self.pool.acquire() as conn:
                await self._tracking.advance(conn, position)
            await self._watermark.advance(position)

    async def _fetch(self, after: int, limit: int) -> list[OutgoingRow]:
        """The batch after `after`. A full one means more is waiting: the next is read (PostgreSQL
        builds its envelopes) while this one is sent, exactly the rows a read after it would give,
        since positions are gap-free in commit order."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == after:
            rows = await ahead[1]
        else:
            if ahead is not None:
                ahead[1].cancel()
            rows = await self._read(after, limit)
        if len(rows) == limit:
            last = rows[-1].global_position
            self._ahead = (last, asyncio.ensure_future(self._read(last, limit)))
        return rows

    async def _read(self, after: int, limit: int) -> list[OutgoingRow]:
        async with self.pool.acquire() as conn:
            return await read_outgoing(conn, self.schema, after, limit)

    async def _forget_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead[1].cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ahead[1]

    @property
    def position(self) -> int:
        """The last global position the broker acknowledged."""
        return self._watermark.position

    async def wait_for(self, position: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - bounded by design
        await self._watermark.reached(position, timeout)

    async def lag(self) -> int:
        """Events in the log not yet acknowledged by the broker."""
        return max(0, await self._subscription.head() - self.position)
