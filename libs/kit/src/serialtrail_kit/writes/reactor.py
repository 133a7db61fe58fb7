"""Reactors: when an event happens in another service, record what this service does about
it — a command on its own log, through its write model.

A reactor reads its source like a read model does (the producer's log in embedded mode, its
topic in distributed mode), is tracked and resumed the same way, and is run and supervised by
the same runner. Each causing event is reacted to once: the causes reacted to are noted in
the same transaction as the reaction (`<service>.reactions`), so a redelivery, a restart or
a new subscription from the start records nothing twice. Every reaction carries the causing
event's id as its causation id and continues its correlation and trace.

A reactor that decides on a whole delivered in parts (a document's events come in several
messages, then the one that ends it) keeps each part (`keep_part`) until the end, then takes
them all (`take_parts`; `read_parts` leaves them kept, for a whole decided in two steps): kept
and taken in the same transaction as the reactions noted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from serialtrail_kit.db import Connection
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import UnitOfWork, WriteModel


class Reactor(Protocol):
    """May also declare `event_types`, as a read model does: the only types it reacts to (the
    others then reach it without their payload, read from a log)."""

    name: str
    source: str  # the service whose events it reacts to

    async def react(self, event: RecordedEvent, work: UnitOfWork) -> None:
        """Decide what this service does about `event` and record it through `work` (or
        record nothing). Raising leaves the event to be delivered again."""


async def keep_part(work: UnitOfWork, reactor: str, whole: str, part: int, payload: Any) -> None:
    """Keep part `part` of `whole` (its position in the source: parts are taken in its order)."""
    await work.conn.execute(
        f"INSERT INTO {work.schema}.reaction_parts (reactor, whole, part, payload) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        reactor,
        whole,
        part,
        payload,
    )


async def take_parts(work: UnitOfWork, reactor: str, whole: str) -> list[Any]:
    """Every part of `whole` kept so far, in order; none is kept after (unless the unit fails)."""
    rows = await work.conn.fetch(
        f"DELETE FROM {work.schema}.reaction_parts WHERE reactor = $1 AND whole = $2 RETURNING part, payload",
        reactor,
        whole,
    )
    return [row["payload"] for row in sorted(rows, key=lambda row: row["part"])]


async def read_parts(work: UnitOfWork, reactor: str, whole: str) -> list[Any]:
    """Every part of `whole` kept so far, in order, kept still (a whole decided in two steps)."""
    rows = await work.conn.fetch(
        f"SELECT payload FROM {work.schema}.reaction_parts WHERE reactor = $1 AND whole = $2 ORDER BY part",
        reactor,
        whole,
    )
    return [row["payload"] for row in rows]


class ReactorFold:
    """A reactor seen by the read-model runner: a fold with no tables whose effect is the
    reactions recorded on the owner's log."""

    tables: tuple[str, ...] = ()

    def __init__(self, reactor: Reactor, writes: WriteModel, software_version: str, config_digest: str) -> None:
        self.reactor = reactor
        self.writes = writes
        self.name = f"reactor_{reactor.name}"
        self.source = reactor.source
        self.event_types: tuple[str, ...] | None = getattr(reactor, "event_types", None)
        self._software = (software_version, config_digest)

    def ddl(self, schema: str) -> str:
        return f"COMMENT ON SCHEMA {schema} IS 'reactor {self.reactor.name}: no tables'"

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if await self._first_time(conn, event):
                async with self.writes.unit(self._metadata(event), conn=conn) as work:
                    await self.reactor.react(event, work)

    async def _first_time(self, conn: Connection, event: RecordedEvent) -> bool:
        noted = await conn.fetchval(
            f"INSERT INTO {self.writes.store.schema}.reactions (reactor, cause_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING true",
            self.reactor.name,
            event.event_id,
        )
        return bool(noted)

    def _metadata(self, cause: RecordedEvent) -> RecordMetadata:
        version, digest = self._software
        return RecordMetadata(
            principal_id=f"reactor:{self.writes.store.schema}.{self.reactor.name}",
            principal_role="system",
            auth_method="reactor",
            correlation_id=str(cause.metadata.get("correlation_id") or cause.event_id),
            causation_id=str(cause.event_id),
            traceparent=cause.metadata.get("traceparent"),
            software_version=version,
            config_digest=digest,
        )
