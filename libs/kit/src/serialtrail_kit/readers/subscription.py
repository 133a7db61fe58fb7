"""The in-database log subscription (embedded mode): read another service's log in
position order, woken by LISTEN/NOTIFY, with polling as the fallback so a lost
notification only delays, never stalls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from serialtrail_kit.db import Pool
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore, notify_channel
from serialtrail_kit.eventstore.upcasting import NO_UPCASTERS, Upcasters

# Every append notifies its log's listeners in its own transaction, so polling only covers a
# notification lost with a dropped connection (the runner then restarts anyway): an idle reader
# need not query its source more often than this, however short the configured interval. With a
# dozen readers in one process, polling every 0.2 s cost several percent of a core.
FALLBACK_POLL_FLOOR = 2.0
# What one read of a follower may bring, in stored payload bytes, besides its count of events. An
# event can hold tens of thousands of values (hundreds of KB); a follower behind a burst of them
# read 500 at a time took dozens at once, and every follower of the log did so at the same moment:
# their parsed payloads and what each derived from them (rows, COPY text) drove the process past
# 500 MB of RSS. A megabyte is a few such events, still hundreds or thousands of small ones.
BATCH_BYTES = 1 << 20


class Positioned(Protocol):
    @property
    def global_position(self) -> int: ...


R = TypeVar("R", bound=Positioned)
Fetch = Callable[[int, int], Awaitable[list[R]]]


class LogSubscription:
    def __init__(
        self,
        pool: Pool,
        source_schema: str,
        *,
        upcasters: Upcasters = NO_UPCASTERS,
        batch_size: int = 500,
        batch_bytes: int | None = BATCH_BYTES,
        poll_interval: float = 1.0,
        stopping: asyncio.Event | None = None,
        only: frozenset[str] | None = None,
        settle: float = 0.0,
    ) -> None:
        self.source = source_schema
        self._only = only
        self._settle = settle
        self._store = PostgresEventStore(pool, source_schema, upcasters)
        self._pool = pool
        self._batch_size = batch_size
        if batch_bytes is not None and batch_bytes < 1:  # found at start, not as a follower that never moves
            raise ValueError(f"batch_bytes must be at least 1, not {batch_bytes}")
        self._batch_bytes = batch_bytes
        self._poll_interval = max(poll_interval, FALLBACK_POLL_FLOOR)
        self._wake = asyncio.Event()
        self._stopping = stopping or asyncio.Event()

    def _on_notify(self, *_args: Any) -> None:
        self._wake.set()

    async def batches(self, after: int) -> AsyncGenerator[list[RecordedEvent], None]:
        """Yield batches of events after `after` until `stopping` is set, continuing from the
        last event yielded. Consume it inside `contextlib.aclosing(...)`: the generator holds a pooled
        connection for LISTEN, released when it is closed."""
        async for batch in self.rows(after, self._read):
            yield batch

    async def _read(self, after: int, limit: int) -> list[RecordedEvent]:
        return await self._store.read_all(after, limit, only=self._only, max_bytes=self._batch_bytes)

    async def rows(self, after: int, fetch: Fetch[R]) -> AsyncGenerator[list[R], None]:
        """Like `batches`, with rows of the reader's own shape: `fetch(after, limit)` reads them."""
        listener = await self._pool.acquire()
        channel = notify_channel(self.source)
        try:
            # Inside the try: a cancellation during LISTEN must still release the connection.
            await listener.add_listener(channel, self._on_notify)
            while not self._stopping.is_set():
                self._wake.clear()
                batch = await fetch(after, self._batch_size)
                if batch:
                    yield batch
                    after = batch[-1].global_position
                    continue
                await self._idle()
                if self._settle and not self._stopping.is_set():
                    # A reader that tolerates some delay gathers what a burst of appends wrote
                    # into one read, instead of a read (and a transaction) per append.
                    await self._idle(self._settle, wake=False)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(channel, self._on_notify)
            await self._pool.release(listener)

    async def _idle(self, seconds: float | None = None, *, wake: bool = True) -> None:
        """Until a notification (unless not `wake`), the poll interval (or `seconds`), or a stop
        request — whichever comes first."""
        waiters = {asyncio.ensure_future(self._stopping.wait())}
        if wake:
            waiters.add(asyncio.ensure_future(self._wake.wait()))
        try:
            timeout = self._poll_interval if seconds is None else seconds
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def head(self) -> int:
        return await self._store.head()
