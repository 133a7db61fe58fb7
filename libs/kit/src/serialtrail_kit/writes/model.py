"""The write model every service records through: a unit of work that loads, lets the pure
domain decide, and appends, all in one transaction holding the log's append lock.

Because loading happens under the lock, what a decision was based on cannot change before
its events are appended: a decision spanning many streams (an item held by one holder, a
key used once) is as safe as one on a single stream, and there is no conflict left to
retry. Each append still names the version it expects every stream to be at, and the
primary key on (stream, version) checks it: the last line of defence, not the mechanism.

Write-side tables (`WriteSide`: "who holds whom", "which keys are used") are
folds of the log applied to the appended events inside the same transaction, so they always
agree with the log; a rule that trips there (a unique key) rolls the whole unit back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from serialtrail_contracts.base import EventContract

from serialtrail_kit.db import Connection
from serialtrail_kit.eventstore.codec import Registry, append_of, decode
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import RecordedEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.writes import ambient

E = TypeVar("E", bound=EventContract)


@dataclass(frozen=True)
class Stream:
    """A stream as loaded: its events (upcast and decoded), when each was recorded (server
    time), and the version to append after."""

    id: str
    events: tuple[EventContract, ...]
    version: int
    recorded_at: tuple[datetime, ...] = ()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]


class WriteSide(Protocol):
    """Tables the write side decides with, folded from the service's own log in the same
    transaction as each append (and rebuilt from the log when their DDL changes)."""

    name: str
    tables: tuple[str, ...]

    def ddl(self, schema: str) -> str: ...

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None: ...


@dataclass
class UnitOfWork:
    """One decision: loads see the log as it is under the lock; `record` stages events that
    are appended, and folded into the write side, when the unit ends without an error."""

    conn: Connection
    registry: Registry
    store: PostgresEventStore
    meta: RecordMetadata  # who records, and why: what a unit nested in this one records with too
    recorded: list[RecordedEvent] = field(default_factory=list)
    _staged: list[StreamAppend] = field(default_factory=list)

    @property
    def schema(self) -> str:
        """Where the service's log and write-side tables are."""
        return self.store.schema

    async def stream(self, stream_id: str) -> Stream:
        return _stream(self.registry, stream_id, await self.store.read_stream(stream_id, conn=self.conn))

    async def version(self, stream_id: str) -> int:
        """The version to append after, for a decision that needs none of the stream's events."""
        return await self.store.stream_version(stream_id, conn=self.conn)

    def record(self, stream_id: str, expected_version: int, events: Iterable[EventContract]) -> None:
        self._staged.append(append_of(stream_id, expected_version, events))


class WriteModel:
    """A service's log seen from its command handlers (the port they depend on)."""

    def __init__(self, store: PostgresEventStore, registry: Registry, write_sides: Sequence[WriteSide] = ()) -> None:
        self.store = store
        self.registry = registry
        self.write_sides = tuple(write_sides)

    @asynccontextmanager
    async def unit(self, meta: RecordMetadata, *, conn: Connection | None = None) -> AsyncIterator[UnitOfWork]:
        """A unit in its own transaction, or inside the caller's transaction on `conn`, or
        inside the request's open transaction (an idempotent request's: see `ambient`). A unit
        on the connection of another unit is nested in it (a savepoint): it fails alone, its
        events then never appended, and the outer unit goes on."""
        conn = conn or ambient.open_transaction()
        locked = self.store.locked() if conn is None else self.store.locked_on(conn)
        async with locked as log:
            work = UnitOfWork(log.conn, self.registry, self.store, meta)
            yield work
            if work._staged:
                work.recorded = await log.append(work._staged, meta)
                for side in self.write_sides:
                    await side.apply(log.conn, self.store.schema, work.recorded)

    @asynccontextmanager
    async def together(self) -> AsyncIterator[Connection]:
        """One transaction for a unit and what must commit with it (a record and its
        signature): the request's open transaction when there is one, else a new one. Pass
        the connection to `unit(conn=…)`."""
        conn = ambient.open_transaction()
        if conn is not None:
            async with conn.transaction():
                yield conn
            return
        async with self.store.pool.acquire() as own, own.transaction():
            yield own

    async def stream(self, stream_id: str) -> Stream:
        """A stream read outside any unit: for facts that do not change once recorded, and for reads."""
        return _stream(self.registry, stream_id, await self.store.read_stream(stream_id))


def _stream(registry: Registry, stream_id: str, recorded: Sequence[RecordedEvent]) -> Stream:
    events = []
    for event in recorded:
        decoded = decode(registry, event)
        if decoded is None:  # a service's own log holds only its own contracts
            raise LookupError(f"unknown event {event.event_type} v{event.event_version} in stream {stream_id}")
        events.append(decoded)
    version = recorded[-1].stream_version if recorded else 0
    return Stream(stream_id, tuple(events), version, tuple(e.recorded_at for e in recorded))
