"""Projections: read models folded from a log, each rebuildable.

A projection's tables live in a *generation* schema (`<owner>_<name>_g<N>`). Readers
query stable views in `<owner>_rm`, which point at the active generation. A replay folds
the whole log into generation N+1 while the live one keeps serving, then, under a row
advisory lock, catches up the last events, repoints the views and marks N+1
active. The live runner notices the switch at its next batch and follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AnyValue

from serialtrail_kit.db import APP_ROLE, PLACEHOLDER_SCHEMA, Connection, Pool, ddl_digest, ident
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import FOLD_BATCH, FOLD_BYTES, PostgresEventStore
from serialtrail_kit.eventstore.upcasting import NO_UPCASTERS, Upcasters
from serialtrail_kit.readers.delivery import Delivery, LogDeliveries, Subscribe, Subscription
from serialtrail_kit.readers.subscription import LogSubscription
from serialtrail_kit.readers.tracking import Tracking
from serialtrail_kit.readers.watermark import Watermark
from serialtrail_kit.telemetry import TRACER, links

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
APPLY_ATTEMPTS = 3
YOUNG_OBJECTS = 200_000  # the collector's youngest generation during a replay (see `_collections_spaced`)


class _DryRun(Exception):
    pass


class Projection(Protocol):
    name: str
    source: str
    tables: tuple[str, ...]

    def ddl(self, schema: str) -> str: ...

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        """Fold `events` into the tables of `schema`. Must depend on the events alone
        (no clocks, no sequences) so a replay produces identical tables."""


def interest(projection: Projection) -> frozenset[str] | None:
    """The event types a projection folds, when it declares them (`event_types`): read from a
    log, the others come without their payload. None: every type."""
    declared = getattr(projection, "event_types", None)
    return None if declared is None else frozenset(declared)


def reads_metadata(projection: Projection) -> bool:
    """Whether a projection reads its events' metadata: unless it declares it does not
    (`reads_metadata = False`), when a replay reads its events without (`{}`)."""
    return bool(getattr(projection, "reads_metadata", True))


# A projection may also declare `settle` (seconds): the delay it tolerates behind its source, so
# that a burst of appends is read once rather than append by append.


def _grants(projection: Projection) -> str:
    """A read model that declares itself `append_only` (rows are only ever added, e.g. the keys a
    service authenticates with) cannot be changed by the application role, only added to."""
    return "SELECT, INSERT" if getattr(projection, "append_only", False) else "SELECT, INSERT, UPDATE, DELETE"


def wanted(projection: Projection, events: Sequence[RecordedEvent]) -> Sequence[RecordedEvent]:
    """What the projection folds: the events of the types it declared (it is tracked past the
    others all the same)."""
    types = interest(projection)
    return events if types is None else [e for e in events if e.event_type in types]


def projection_digest(projection: Projection) -> str:
    return ddl_digest(projection.ddl(PLACEHOLDER_SCHEMA), projection.tables)


def switch_lock_key(owner: str, projection: Projection) -> str:
    return f"serialtrail.projection.{owner}.{projection.name}"


def views_schema(owner: str) -> str:
    return ident(f"{owner}_rm")


def registry_ddl(owner: str, app_role: str = APP_ROLE) -> str:
    o = ident(owner)
    return f"""
    CREATE TABLE IF NOT EXISTS {o}.projections (
        name          text    PRIMARY KEY,
        active_schema text    NOT NULL,
        generation    integer NOT NULL
    );
    ALTER TABLE {o}.projections ADD COLUMN IF NOT EXISTS ddl_digest text;
    GRANT SELECT ON {o}.projections TO {ident(app_role)};
    CREATE SCHEMA IF NOT EXISTS {views_schema(o)};
    GRANT USAGE ON SCHEMA {views_schema(o)} TO {ident(app_role)};
    """


@dataclass(frozen=True)
class ReplayResult:
    previous_schema: str
    active_schema: str
    events: int


class ProjectionAdmin:
    """Creates generations and switches them: needs a pool allowed to create schemas."""

    def __init__(self, pool: Pool, owner: str, app_role: str = APP_ROLE, upcasters: Upcasters = NO_UPCASTERS):
        self.pool = pool
        self.owner = ident(owner)
        self.app_role = ident(app_role)
        self.upcasters = upcasters

    async def ensure(self, projection: Projection, *, source_readable: bool = True) -> str:
        """Register the projection with a first generation if it has none. If the active
        generation's tables were made by other DDL than the code's, rebuild before anything is
        served: fold the source log into a new generation (`source_readable`: it is in this
        database), or else start a new, empty generation that its runner refills from the
        source's topic. Returns the active schema."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('serialtrail.install'))")
            await conn.execute(registry_ddl(self.owner, self.app_role))
            row = await conn.fetchrow(
                f"SELECT active_schema, ddl_digest FROM {self.owner}.projections WHERE name = $1", projection.name
            )
            if row is None:
                schema = await self._create_generation(conn, projection, 1)
                await self._activate(conn, projection, schema, 1)
                return schema
        if row["ddl_digest"] == projection_digest(projection):
            return str(row["active_schema"])
        log.warning(
            "read model %s.%s: its tables (%s) differ from the code's (%s); rebuilding it",
            self.owner,
            projection.name,
            row["ddl_digest"] or "made before digests were kept",
            projection_digest(projection),
        )
        rebuilt = await self.replay(projection) if source_readable else await self.renew(projection)
        return rebuilt.active_schema

    async def renew(self, projection: Projection) -> ReplayResult:
        """Switch to a new, empty generation and drop the old one; the runner refills it from
        the start of its source (for a source read from a topic: a new consumer group)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(registry_ddl(self.owner, self.app_role))
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", switch_lock_key(self.owner, projection))
            row = await conn.fetchrow(
                f"SELECT active_schema, generation FROM {self.owner}.projections WHERE name = $1", projection.name
            )
            if row is None:
                raise LookupError(f"projection {projection.name!r} is not registered")
            previous, generation = row["active_schema"], row["generation"]
            schema = await self._create_generation(conn, projection, generation + 1)
            await self._activate(conn, projection, schema, generation + 1)
            await self._drop(conn, previous)
        return ReplayResult(previous_schema=str(previous), active_schema=schema, events=0)

    async def replay(
        self, projection: Projection, *, keep_previous: bool = False, progress: Progress | None = None
    ) -> ReplayResult:
        async with self.pool.acquire() as conn:
            await conn.execute(registry_ddl(self.owner, self.app_role))  # a registry older than this code
            generation = await conn.fetchval(
                f"SELECT generation FROM {self.owner}.projections WHERE name = $1", projection.name
            )
            if generation is None:
                raise LookupError(f"projection {projection.name!r} is not registered")
            async with conn.transaction():
                schema = await self._create_generation(conn, projection, generation + 1)
        events = await self._fold_to_head(projection, schema, progress)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", switch_lock_key(self.owner, projection))
            previous = await conn.fetchval(
                f"SELECT active_schema FROM {self.owner}.projections WHERE name = $1", projection.name
            )
            events += await self._fold_batches(conn, projection, schema, None)
            await self._activate(conn, projection, schema, generation + 1)
            if not keep_previous:
                await self._drop(conn, previous)
        return ReplayResult(previous_schema=str(previous), active_schema=schema, events=events)

    async def _drop(self, conn: Connection, schema: str) -> None:
        await conn.execute(f"DROP SCHEMA {ident(schema)} CASCADE")
        await conn.execute(f"DELETE FROM {self.owner}.tracking WHERE reader = $1", schema)
        await conn.execute(f"DELETE FROM {self.owner}.processed_messages WHERE reader = $1", schema)

    async def _fold_to_head(self, projection: Projection, schema: str, progress: Progress | None) -> int:
        async with self.pool.acquire() as conn:
            with _collections_spaced():
                return await self._fold_batches(conn, projection, schema, progress, own_transactions=True)

    async def _fold_batches(
        self,
        conn: Connection,
        projection: Projection,
        schema: str,
        progress: Progress | None,
        *,
        own_transactions: bool = False,
    ) -> int:
        store = PostgresEventStore(self.pool, projection.source, self.upcasters)
        tracking = Tracking(self.owner, schema, projection.source)
        head = await store.head()
        folded = 0
        # A replay's bulk reads each next batch on a connection of its own while this one folds
        # the last (PostgreSQL sends it while Python folds); the catch-up under the switch lock
        # reads on the locked connection.
        batches = _read_ahead(
            store,
            await tracking.position(conn),
            interest(projection),
            reads_metadata(projection),
            None if own_transactions else conn,
        )
        async with contextlib.aclosing(batches):
            async for batch in batches:
                async with conn.transaction() if own_transactions else contextlib.nullcontext():
                    await projection.apply(conn, schema, wanted(projection, batch))
                    await tracking.advance(conn, batch[-1].global_position)
                folded += len(batch)
                if progress is not None:
                    progress(batch[-1].global_position, max(head, batch[-1].global_position))
        return folded

    async def _create_generation(self, conn: Connection, projection: Projection, generation: int) -> str:
        schema = ident(f"{self.owner}_{projection.name}_g{generation}")
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(projection.ddl(schema))
        await conn.execute(
            f"GRANT USAGE ON SCHEMA {schema} TO {self.app_role}; "
            f"GRANT {_grants(projection)} ON ALL TABLES IN SCHEMA {schema} TO {self.app_role}"
        )
        return schema

    async def _activate(self, conn: Connection, projection: Projection, schema: str, generation: int) -> None:
        views = views_schema(self.owner)
        for table in projection.tables:
            await conn.execute(f"DROP VIEW IF EXISTS {views}.{ident(table)}")
            await conn.execute(f"CREATE VIEW {views}.{ident(table)} AS SELECT * FROM {schema}.{ident(table)}")
            await conn.execute(f"GRANT SELECT ON {views}.{ident(table)} TO {self.app_role}")
        await conn.execute(
            f"INSERT INTO {self.owner}.projections (name, active_schema, generation, ddl_digest) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET active_schema = EXCLUDED.active_schema, "
            "generation = EXCLUDED.generation, ddl_digest = EXCLUDED.ddl_digest",
            projection.name,
            schema,
            generation,
            projection_digest(projection),
        )


class ProjectionRunner:
    """Catches up a projection and then follows its source, with the application role.

    The source comes through the subscription port: the producer's log read directly by
    default, or whatever `subscribe` gives (its Kafka topic in distributed mode). Each
    generation is its own reader, so a new generation reads its source from the start."""

    def __init__(
        self,
        pool: Pool,
        owner: str,
        projection: Projection,
        *,
        upcasters: Upcasters = NO_UPCASTERS,
        poll_interval: float = 1.0,
        subscribe: Subscribe | None = None,
    ) -> None:
        self.pool = pool
        self.owner = ident(owner)
        self.projection = projection
        self.stopping = asyncio.Event()
        self._log = LogSubscription(pool, projection.source, poll_interval=poll_interval, stopping=self.stopping)

        def from_log(reader: str, stopping: asyncio.Event) -> Subscription:
            return LogDeliveries(
                pool,
                projection.source,
                owner,
                reader,
                upcasters=upcasters,
                poll_interval=poll_interval,
                stopping=stopping,
                only=interest(projection),
                settle=float(getattr(projection, "settle", 0.0)),
            )

        self._subscribe: Subscribe = subscribe or from_log
        self._reads_log = subscribe is None  # its source log is in this database
        self._current: Subscription | None = None
        self._following = ""  # the generation the runner folds into
        self._watermark = Watermark()

    async def run(self) -> None:
        """Follow until `stop()`; stopping takes effect between batches, never inside a query."""
        while not self.stopping.is_set():
            schema = await self._active_schema()
            await self._follow(schema)

    def stop(self) -> None:
        self.stopping.set()

    async def _follow(self, schema: str) -> None:
        tracking = Tracking(self.owner, schema, self.projection.source)
        async with self.pool.acquire() as conn:
            await self._watermark.advance(await tracking.position(conn))
        self._current, self._following = self._subscribe(schema, self.stopping), schema
        deliveries = self._current.deliveries()
        async with contextlib.aclosing(deliveries):
            async for delivery in deliveries:
                if not await self._apply_with_retries(delivery, schema):
                    return  # a replay switched generations: start again on the new one
                await delivery.acknowledge()
                if delivery.events:
                    await self._watermark.advance(max(e.global_position for e in delivery.events))
                if self.stopping.is_set():
                    return

    async def _apply(self, delivery: Delivery, schema: str, poison: Sequence[tuple[RecordedEvent, str]] = ()) -> bool:
        causes = links(e.metadata.get("traceparent") for e in delivery.events)
        attributes: dict[str, AnyValue] = {
            "serialtrail.projection": f"{self.owner}.{self.projection.name}",
            "serialtrail.events": len(delivery.events),
        }
        with TRACER.start_as_current_span("consume", kind=SpanKind.CONSUMER, links=causes, attributes=attributes):
            return await self._apply_traced(delivery, schema, poison)

    async def _apply_traced(self, delivery: Delivery, schema: str, poison: Sequence[tuple[RecordedEvent, str]]) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            if await self._active_schema(conn, lock=True) != schema:
                return False
            for event, reason in poison:
                if not await delivery.set_aside(conn, event, reason):
                    raise RuntimeError(f"{self.projection.name} cannot apply event {event.event_id}: {reason}")
            fresh = await delivery.record(conn)
            await self.projection.apply(conn, schema, wanted(self.projection, fresh))
        return True

    async def _apply_with_retries(self, delivery: Delivery, schema: str) -> bool:
        """A failing delivery is tried again a few times (the failure may pass); then the events
        that fail on their own are set aside with the reason (a dead-letter topic) and the rest
        applied. Where nothing may be set aside (a log), the failure stands and is retried."""
        for attempt in range(1, APPLY_ATTEMPTS):
            try:
                return await self._apply(delivery, schema)
            except Exception:
                log.warning("%s: applying a delivery failed (attempt %d)", self.projection.name, attempt, exc_info=True)
                await asyncio.sleep(0.1 * attempt)
        poison = await self._failing_alone(delivery, schema)
        return await self._apply(delivery, schema, poison)

    async def _failing_alone(self, delivery: Delivery, schema: str) -> list[tuple[RecordedEvent, str]]:
        """Each event applied alone in a transaction that is always rolled back: which fail, and why."""
        failing = []
        for event in delivery.events:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await self.projection.apply(conn, schema, wanted(self.projection, [event]))
                    raise _DryRun
            except _DryRun:
                continue
            except Exception as error:
                failing.append((event, f"{type(error).__name__}: {error}"))
        return failing

    async def _active_schema(self, conn: Connection | None = None, *, lock: bool = False) -> str:
        sql = f"SELECT active_schema FROM {self.owner}.projections WHERE name = $1"
        if lock:
            assert conn is not None
            # Shared with other batches, exclusive with a replay's switch (see ProjectionAdmin.replay).
            key = switch_lock_key(self.owner, self.projection)
            await conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext($1))", key)
        if conn is None:
            async with self.pool.acquire() as own:
                value = await own.fetchval(sql, self.projection.name)
        else:
            value = await conn.fetchval(sql, self.projection.name)
        if value is None:
            raise LookupError(f"projection {self.projection.name!r} is not registered")
        return str(value)

    @property
    def position(self) -> int:
        """The last global position of the source applied."""
        return self._watermark.position

    async def wait_for(self, position: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - bounded by design
        """Read-your-writes: wait until the projection has applied `position`."""
        await self._watermark.reached(position, timeout)

    async def lag(self) -> int | None:
        """Events of the source not applied yet (None before the first subscription). Right
        after a replay the runner still follows the generation it replaced (until its next
        batch): the lag is then the active generation's, which the replay brought to the head."""
        if self._current is None:
            return None
        if self._reads_log and (active := await self._active_schema()) != self._following:
            async with self.pool.acquire() as conn:
                position = await Tracking(self.owner, active, self.projection.source).position(conn)
            return max(0, await self._log.head() - position)
        return await self._current.lag()

    async def caught_up(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - bounded by design
        """Until the projection has applied everything its source log holds now (the log must
        be readable from here: embedded mode, or the service's own log)."""
        await self.wait_for(await self._log.head(), timeout)


class _Spacing:
    """The replays under way that spaced the collector's runs out (see `_collections_spaced`), and
    the thresholds they found."""

    count = 0
    found: tuple[int, int, int] = (0, 0, 0)


@contextlib.contextmanager
def _collections_spaced() -> Iterator[None]:
    """While a replay folds the log, the cyclic garbage collector looks at its youngest generation
    once `YOUNG_OBJECTS` more container objects are alive than at its last look, not every 700 (as
    its older generations follow the youngest, so do they). A batch's events are thousands of
    dicts and lists that stay alive until the batch is folded, then are freed by reference counting
    (they hold no cycles): with 700 the collector scanned them hundreds of times and the whole heap
    about once per 10,000 events, a third of a replay's time in Python. The bound stays: cyclic
    garbage (of which a replay makes almost none) is collected past `YOUNG_OBJECTS`. The
    thresholds found are restored when the last replay under way ends, unless changed meanwhile."""
    if _Spacing.count == 0:
        _Spacing.found = gc.get_threshold()
        young, *older = _Spacing.found
        if young:  # 0: collection is off, left so
            gc.set_threshold(max(young, YOUNG_OBJECTS), *older)
    _Spacing.count += 1
    try:
        yield
    finally:
        _Spacing.count -= 1
        if _Spacing.count == 0 and gc.get_threshold()[0] == max(_Spacing.found[0], YOUNG_OBJECTS):
            gc.set_threshold(*_Spacing.found)


async def _read_ahead(
    store: PostgresEventStore, after: int, only: frozenset[str] | None, metadata: bool, conn: Connection | None
) -> AsyncGenerator[list[RecordedEvent], None]:
    """The log after `after` in batches of `FOLD_BATCH` events (or `FOLD_BYTES` of payload). On
    `conn`: one after the other. Without it: each next batch is already being read (on a pooled
    connection) while the caller folds the one given; a read under way when the caller stops is
    waited for, never cancelled mid-query."""

    def read(after: int, conn: Connection | None) -> Awaitable[list[RecordedEvent]]:
        return store.read_all(after, FOLD_BATCH, conn=conn, only=only, metadata=metadata, max_bytes=FOLD_BYTES)

    if conn is not None:
        while batch := await read(after, conn):
            yield batch
            after = batch[-1].global_position
        return
    pending = asyncio.ensure_future(read(after, None))
    try:
        while batch := await pending:
            after = batch[-1].global_position
            pending = asyncio.ensure_future(read(after, None))
            yield batch
    finally:
        await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()  # retrieved: a failed read ahead that nobody needed is no error


async def table_digest(conn: Connection, schema: str, table: str) -> str:
    """A digest of a table's full contents, independent of physical row order."""
    value = await conn.fetchval(
        f"SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {ident(schema)}.{ident(table)} t"
    )
    return str(value)
