"""The service declaration: everything the runtime needs to know about one service, in one
value that the service's `bootstrap.py` exports and `apps/` only collects.

A service declares its name, the events it publishes (and their upcasters), the
permissions its routes require, its own settings, its write-side tables, its read models,
its reactors, its outbound calls and its routes. The runtime does the rest the same way for
every service: installs the log and the tables, runs and tracks the read models, relays the
log in distributed mode, dispatches the outbound jobs, serves the routes, waits for
read-your-writes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

from fastapi import APIRouter
from serialtrail_contracts.base import EventContract

from serialtrail_kit.access.permissions import Permission
from serialtrail_kit.db import Pool, ident
from serialtrail_kit.errors import InvalidInput, Rule, Unavailable
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.upcasting import NO_UPCASTERS, Upcasters
from serialtrail_kit.outbound.declared import OutboundSource, Outcomes, Remote
from serialtrail_kit.outbound.source import source_name
from serialtrail_kit.readers.projection import Projection, ProjectionRunner
from serialtrail_kit.sealing import Sealer
from serialtrail_kit.service_settings import NoSettings, ServiceSettings
from serialtrail_kit.writes import ambient
from serialtrail_kit.writes.model import WriteModel, WriteSide
from serialtrail_kit.writes.reactor import Reactor

NOT_IN_FUTURE = Rule(
    "not-in-future",
    "a time the sender states is not ahead of the server's clock by more than the allowed skew",
    "event_time",
    "2031-01-01T00:00:00+00:00 is in the future (more than 0:05:00 ahead of 2026-12-03T05:00:00+00:00)",
)

S = TypeVar("S", bound=ServiceSettings)
Events = Mapping[tuple[str, int], type[EventContract]]
NotAhead = Callable[[datetime, str], datetime]  # ServiceContext.not_ahead
ReadYourWrites = Callable[[], Awaitable[None]]


@dataclass
class ServiceContext(Generic[S]):
    """What a service's routes are built from: its settings, its database pool, its write
    model (the one way to record) and read-your-writes on its own read models."""

    name: str
    settings: S
    pool: Pool
    store: PostgresEventStore
    writes: WriteModel
    runners: dict[str, ProjectionRunner]
    read_your_writes_timeout: float
    max_clock_skew: timedelta = timedelta(minutes=5)
    # The software recording (version, configuration digest): what a worker's own records carry.
    software: tuple[str, str] = ("unknown", "unknown")
    # Seals a secret the service must keep on its log (a subscriber's signing token) with a key
    # the database never holds; unseals it again. None: the deployment keeps no such key.
    sealer: Sealer | None = None

    def not_ahead(self, when: datetime, field: str) -> datetime:
        """A time a sender stated, refused (422 `not-in-future`) when it is later than the server's
        clock by more than the configured skew: a line's clock set wrong, not an event."""
        now = datetime.now(UTC)
        if when > now + self.max_clock_skew:
            ahead_of = now.isoformat(timespec="seconds")
            message = f"{when.isoformat()} is in the future (more than {self.max_clock_skew} ahead of {ahead_of})"
            raise InvalidInput(message, [NOT_IN_FUTURE.at(field, message)])
        return when

    def read_your_writes(self, read_model: str) -> ReadYourWrites:
        """A wait until `read_model` has applied everything appended to this service's log so
        far; a 503 (retry shortly) if it cannot within the configured time."""

        async def consistent() -> None:
            await ambient.settle()  # the request's own writes must be committed to be seen
            try:
                await self.runners[read_model].wait_for(await self.store.head(), self.read_your_writes_timeout)
            except TimeoutError as error:
                raise Unavailable(
                    f"the {read_model} read model is still catching up with the log; retry shortly"
                ) from error

        return consistent

    def caught_up_with_sources(self, *read_models: str, timeout: float = 5.0) -> ReadYourWrites:
        """A wait until each of `read_models` (or reactors, `reactor_<name>`) has applied
        everything its source held when the wait began, as far as the source tells (a log's head
        embedded, the topic's end offsets distributed); a 503 (retry shortly) if it cannot within
        `timeout`. For a decision that must not miss what another service published before it
        was asked (an upload must see the rejects recorded a moment before)."""

        async def settled() -> None:
            try:
                async with asyncio.timeout(timeout):
                    for name in read_models:
                        await _no_lag(self.runners[name])
            except TimeoutError as error:
                raise Unavailable(
                    f"{', '.join(read_models)} still catching up with what other services published; retry shortly"
                ) from error

        return settled


async def _no_lag(runner: ProjectionRunner) -> None:
    # Polled: lag is the source's end against the runner's position (a topic's end offsets
    # distributed), which no event announces.
    while (await runner.lag()) != 0:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


class Worker(Protocol):
    """Work a service does on its own time (a schedule, a poll): run until asked to stop,
    supervised by the runtime like a read model (restarted after a failure)."""

    stopping: asyncio.Event

    async def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class WorkerOf(Generic[S]):
    """A worker known by name when declared, built when the service is wired."""

    name: str
    build: Callable[[ServiceContext[S]], Worker]


@dataclass(frozen=True)
class ReactorOf(Generic[S]):
    """A reactor known by name and source when declared, built when the service is wired."""

    name: str
    source: str
    build: Callable[[ServiceContext[S]], Reactor]


@dataclass(frozen=True)
class OutboundOf(Generic[S]):
    """Calls to a system outside our control, made by the outbound worker: jobs recorded in the
    transaction of their cause (`serialtrail_kit.outbound.enqueue` in a write unit, and/or the
    `source`'s events of the service's own log), sent by `build(context).send` within its
    limits, retried with backoff, dead after too many attempts; what became of each is one of
    the service's own events (`outcomes`)."""

    name: str  # the outbound's name: jobs are enqueued for it, its dispatcher is `<service>.outbound.<name>`
    build: Callable[[ServiceContext[S]], Remote]  # the remote call and its limits, from the service's settings
    outcomes: Outcomes
    source: OutboundSource | None = None


@dataclass(frozen=True, kw_only=True)
class Service(Generic[S]):
    name: str
    events: Events
    routes: Callable[[ServiceContext[S]], APIRouter]
    settings: type[S] = NoSettings  # type: ignore[assignment]
    upcasters: Upcasters = NO_UPCASTERS
    permissions: Sequence[Permission] = ()
    write_side: Sequence[WriteSide] = ()
    read_models: Sequence[Projection] = ()
    # Other services' events → commands recorded here; each a reactor, or built from the
    # service's context when it decides with what the routes do (their handlers, its settings).
    reactors: Sequence[Reactor | ReactorOf[S]] = ()
    # Calls to systems outside our control (partners' endpoints, webhooks, hubs), each with its jobs.
    outbound: Sequence[OutboundOf[S]] = ()
    workers: Sequence[WorkerOf[S]] = ()
    # True where the service's big payloads do not compress (lists of random identifiers): its
    # log stores payloads as they are, rather than PostgreSQL trying on every append, under the
    # append lock, and giving up. Left False where they compress (repeated URI prefixes).
    uncompressed_payloads: bool = False

    def __post_init__(self) -> None:
        names = [p.name for p in self.read_models] + [f"reactor_{r.name}" for r in self.reactors]
        names += [source_name(o.name) for o in self.outbound if o.source is not None]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: read model names must be unique, got {names}")
        outbound = [ident(o.name) for o in self.outbound]  # part of the source's schema names
        if len(set(outbound)) != len(outbound):
            raise ValueError(f"{self.name}: outbound names must be unique, got {outbound}")

    def built_reactors(self, context: ServiceContext[S]) -> list[Reactor]:
        built = [r.build(context) if isinstance(r, ReactorOf) else r for r in self.reactors]
        for declared, reactor in zip(self.reactors, built, strict=True):
            if (reactor.name, reactor.source) != (declared.name, declared.source):
                raise ValueError(f"{self.name}: reactor {declared.name} was built as {reactor.name}")
        return built

    def read_model(self, name: str) -> Projection:
        for projection in self.read_models:
            if projection.name == name:
                return projection
        raise LookupError(f"{self.name} has no read model {name!r}")
