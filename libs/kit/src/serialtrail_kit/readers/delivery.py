"""The subscription port: how a consumer receives another service's events, whatever carries
them. Embedded mode reads the producer's log directly (`LogDeliveries`); distributed mode
reads its Kafka topic (`serialtrail_kit.transport.kafka.KafkaDeliveries`). Consumer code is
the same for both:

    async for delivery in subscription.deliveries():
        async with pool.acquire() as conn, conn.transaction():
            fresh = await delivery.record(conn)   # position / dedup, in the effect's transaction
            await apply(conn, fresh)
        await delivery.acknowledge()              # only after that transaction committed

If the consumer raises, it leaves the iteration; the next `deliveries()` starts again from
the last recorded point, so the failed events are delivered again and nothing is lost.
Delivery is at-least-once; `record` makes the effects exactly-once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Protocol

from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.upcasting import NO_UPCASTERS, Upcasters
from serialtrail_kit.readers.subscription import LogSubscription
from serialtrail_kit.readers.tracking import Tracking


class Delivery(Protocol):
    events: Sequence[RecordedEvent]

    async def record(self, conn: Connection) -> list[RecordedEvent]:
        """Within the consumer's transaction: note what was received; returns the events
        not applied before (a redelivery's duplicates are left out)."""

    async def acknowledge(self) -> None:
        """After the consumer's transaction committed."""

    async def set_aside(self, conn: Connection, event: RecordedEvent, reason: str) -> bool:
        """Give up on one event that keeps failing: keep it elsewhere with the reason (a
        dead-letter topic) and note it as handled in `conn`'s transaction. False when the
        transport cannot (a service's own log is the truth: nothing in it may be skipped)."""


class Subscription(Protocol):
    stopping: asyncio.Event

    def deliveries(self) -> AsyncGenerator[Delivery, None]: ...

    async def lag(self) -> int: ...


# A subscription for one reader (a projection's generation, a handler), stopped by `stopping`.
Subscribe = Callable[[str, asyncio.Event], Subscription]


class _LogDelivery:
    def __init__(self, events: list[RecordedEvent], tracking: Tracking) -> None:
        self.events: Sequence[RecordedEvent] = events
        self._tracking = tracking

    async def record(self, conn: Connection) -> list[RecordedEvent]:
        await self._tracking.advance(conn, self.events[-1].global_position)
        return list(self.events)

    async def acknowledge(self) -> None:
        return None  # the tracking row is the acknowledgement

    async def set_aside(self, conn: Connection, event: RecordedEvent, reason: str) -> bool:
        return False


class LogDeliveries:
    """The producer's log read directly, in global order; the position is the consumer's
    tracking row for that log."""

    def __init__(
        self,
        pool: Pool,
        source_schema: str,
        reader_schema: str,
        reader: str,
        *,
        upcasters: Upcasters = NO_UPCASTERS,
        poll_interval: float = 1.0,
        batch_size: int = 500,
        stopping: asyncio.Event | None = None,
        only: frozenset[str] | None = None,
        settle: float = 0.0,
    ) -> None:
        self.pool = pool
        self.stopping = stopping or asyncio.Event()
        self._tracking = Tracking(reader_schema, reader, source_schema)
        self._log = LogSubscription(
            pool,
            source_schema,
            upcasters=upcasters,
            batch_size=batch_size,
            poll_interval=poll_interval,
            stopping=self.stopping,
            only=only,
            settle=settle,
        )

    async def deliveries(self) -> AsyncGenerator[Delivery, None]:
        async with self.pool.acquire() as conn:
            after = await self._tracking.position(conn)
        batches = self._log.batches(after)
        async with contextlib.aclosing(batches):
            async for batch in batches:
                yield _LogDelivery(batch, self._tracking)

    async def lag(self) -> int:
        async with self.pool.acquire() as conn:
            position = await self._tracking.position(conn)
        return max(0, await self._log.head() - position)
