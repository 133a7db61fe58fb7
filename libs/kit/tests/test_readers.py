"""Readers: tracking, the in-database subscription (contract suite of the subscription
port), the projection runner and replay — against real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import NewEvent, RecordedEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.readers import projection as projection_module
from serialtrail_kit.readers.projection import (
    YOUNG_OBJECTS,
    ProjectionAdmin,
    ProjectionRunner,
    _collections_spaced,
    table_digest,
    views_schema,
)
from serialtrail_kit.readers.subscription import LogSubscription
from serialtrail_kit.readers.tracking import Tracking
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.readers import logs, running
from serialtrail_kit.testing.waiting import until

SOURCE, OWNER = "producer_svc", "consumer_svc"


@dataclass
class Env:
    admin: Pool
    app: Pool
    store: PostgresEventStore

    async def emit(self, stream: str, count: int = 1, kind: str = "Counted") -> None:
        version = await self.store.stream_version(stream)
        events = tuple(NewEvent(event_type=kind, event_version=1, payload={"i": i}) for i in range(count))
        await self.store.append([StreamAppend(stream_id=stream, expected_version=version, events=events)], SYSTEM)


@pytest.fixture
async def env(database_dsn: str) -> AsyncIterator[Env]:
    async with logs(database_dsn, SOURCE, OWNER, app_connections=20) as (admin, app):
        yield Env(admin, app, PostgresEventStore(app, SOURCE))


class StreamCounts:
    """Counts 'Counted' events per stream; ignores every other type."""

    name = "stream_counts"
    source = SOURCE
    tables: tuple[str, ...] = ("stream_counts",)
    fail_at: int | None = None

    def ddl(self, schema: str) -> str:
        return f"CREATE TABLE {schema}.stream_counts (stream_id text PRIMARY KEY, events int, last_position bigint)"

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if event.global_position == self.fail_at:
                raise RuntimeError("projection crashed mid-batch")
            if event.event_type != "Counted":
                continue
            await conn.execute(
                f"INSERT INTO {schema}.stream_counts VALUES ($1, 1, $2) ON CONFLICT (stream_id) DO UPDATE "
                "SET events = stream_counts.events + 1, last_position = EXCLUDED.last_position",
                event.stream_id,
                event.global_position,
            )


async def counts(pool: Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT stream_id, events FROM {views_schema(OWNER)}.stream_counts")
    return {r["stream_id"]: r["events"] for r in rows}


async def test_tracking_never_moves_backwards(env: Env) -> None:
    tracking = Tracking(OWNER, "reader", SOURCE)
    async with env.app.acquire() as conn:
        assert await tracking.position(conn) == 0
        await tracking.advance(conn, 5)
        with pytest.raises(RuntimeError, match="forward"):
            await tracking.advance(conn, 3)
        assert await tracking.position(conn) == 5


async def test_subscription_delivers_in_order_and_wakes_on_notify(env: Env) -> None:
    subscription = LogSubscription(env.app, SOURCE, batch_size=3, poll_interval=30.0)
    await env.emit("a", 4)
    seen: list[int] = []

    async def consume() -> None:
        async for batch in subscription.batches(0):
            seen.extend(e.global_position for e in batch)
            if len(seen) >= 6:
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    await env.emit("b", 2)  # poll interval is 30 s: only NOTIFY can deliver these in time
    await asyncio.wait_for(task, 5)
    assert seen == [1, 2, 3, 4, 5, 6]


async def test_subscription_resumes_after_a_position(env: Env) -> None:
    await env.emit("a", 5)
    subscription = LogSubscription(env.app, SOURCE)
    batches = subscription.batches(3)
    first = await anext(batches)
    await batches.aclose()
    assert [e.global_position for e in first] == [4, 5]


async def test_runner_catches_up_follows_and_tracks_ignored_events(env: Env) -> None:
    projection = StreamCounts()
    await ProjectionAdmin(env.admin, OWNER).ensure(projection)
    await env.emit("a", 3)
    await env.emit("x", 2, kind="Ignored")
    async with running(ProjectionRunner(env.app, OWNER, projection, poll_interval=0.05)) as runner:
        await runner.caught_up()
        assert await counts(env.app) == {"a": 3}
        await env.emit("b", 2, kind="Ignored")
        await runner.caught_up()
    assert runner.position == 7  # the ignored tail is tracked too


async def test_effect_and_position_commit_together(env: Env) -> None:
    projection = StreamCounts()
    schema = await ProjectionAdmin(env.admin, OWNER).ensure(projection)
    await env.emit("a", 4)
    projection.fail_at = 3
    runner = ProjectionRunner(env.app, OWNER, projection, poll_interval=0.05)
    with pytest.raises(RuntimeError, match="crashed"):
        await runner.run()
    assert await counts(env.app) == {}  # events 1-2 rolled back with the failing batch
    async with env.app.acquire() as conn:
        assert await Tracking(OWNER, schema, SOURCE).position(conn) == 0
    projection.fail_at = None
    async with running(ProjectionRunner(env.app, OWNER, projection, poll_interval=0.05)) as runner:
        await runner.caught_up()
    assert await counts(env.app) == {"a": 4}


async def test_replay_rebuilds_identical_tables_and_switches_live_runner(env: Env) -> None:
    projection = StreamCounts()
    admin = ProjectionAdmin(env.admin, OWNER)
    first = await admin.ensure(projection)
    for i in range(30):
        await env.emit(f"s-{i % 7}", 3)
    async with running(ProjectionRunner(env.app, OWNER, projection, poll_interval=0.05)) as runner:
        await runner.caught_up()
        progress: list[int] = []
        result = await admin.replay(projection, keep_previous=True, progress=lambda done, _total: progress.append(done))
        assert (result.previous_schema, result.events) == (first, 90)
        assert progress[-1] == 90
        async with env.admin.acquire() as conn:
            assert await table_digest(conn, first, "stream_counts") == await table_digest(
                conn, result.active_schema, "stream_counts"
            )
        await env.emit("after-switch", 2)
        await runner.caught_up()
        assert (await counts(env.app))["after-switch"] == 2  # the runner followed the new generation


async def test_a_replay_spaces_collections_out_and_restores_the_thresholds_it_found(env: Env) -> None:
    """While replays fold (two at once here), the collector's youngest generation waits for
    YOUNG_OBJECTS; after the last, the thresholds are those found, collection left off if it was."""
    found = gc.get_threshold()
    during: list[tuple[int, int, int]] = []

    class Watched(StreamCounts):
        async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
            during.append(gc.get_threshold())
            await super().apply(conn, schema, events)

    class Other(Watched):
        name = "other_counts"

    await env.emit("s", 5)
    admin = ProjectionAdmin(env.admin, OWNER)
    for projection in (Watched(), Other()):
        await admin.ensure(projection)
    await asyncio.gather(admin.replay(Watched()), admin.replay(Other()))
    assert during
    assert all(t == (YOUNG_OBJECTS, *found[1:]) for t in during)
    assert gc.get_threshold() == found
    try:
        gc.set_threshold(0)
        with _collections_spaced():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*found)


async def test_a_replay_reads_no_metadata_for_a_projection_that_declares_it_reads_none(env: Env) -> None:
    seen: list[dict[str, object]] = []

    class Seeing(StreamCounts):
        async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
            seen.extend(e.metadata for e in events)
            await super().apply(conn, schema, events)

    class Blind(Seeing):
        reads_metadata = False

    await env.emit("s", 3)
    admin = ProjectionAdmin(env.admin, OWNER)
    await admin.ensure(Blind())
    await admin.replay(Blind())
    assert seen == [{}, {}, {}]
    seen.clear()
    await admin.replay(Seeing())
    assert [m["principal_id"] for m in seen] == [SYSTEM.principal_id] * 3


async def test_a_replay_reads_large_events_a_few_at_a_time(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay's reads end at `FOLD_BYTES` of stored payload, not only at `FOLD_BATCH` events (an
    event naming thousands of ids is hundreds of KB): every event is folded all the same."""
    batches: list[int] = []

    class Sized(StreamCounts):
        async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
            batches.append(len(events))
            await super().apply(conn, schema, events)

    for version in range(10):  # ~900 bytes each as stored (below the size PostgreSQL would compress)
        event = NewEvent(event_type="Counted", event_version=1, payload={"blob": "x" * 900})
        await env.store.append([StreamAppend(stream_id="big", expected_version=version, events=(event,))], SYSTEM)
    monkeypatch.setattr(projection_module, "FOLD_BYTES", 2000)
    admin = ProjectionAdmin(env.admin, OWNER)
    await admin.ensure(Sized())
    await admin.replay(Sized())
    assert batches == [3, 3, 3, 1]  # each read ends with the event that brings it to 2,000 bytes
    assert await counts(env.app) == {"big": 10}


async def test_lag_right_after_a_replay_is_the_new_generations(env: Env) -> None:
    """The live runner follows the old generation until its next batch; meanwhile its lag is
    the active generation's (the replay brought it to the head), not the dropped one's."""
    projection = StreamCounts()
    admin = ProjectionAdmin(env.admin, OWNER)
    await admin.ensure(projection)
    await env.emit("s", 40)
    async with running(ProjectionRunner(env.app, OWNER, projection, poll_interval=5.0)) as runner:
        await runner.caught_up()
        await admin.replay(projection)  # drops the generation the runner still follows
        assert await runner.lag() == 0
        await env.emit("s", 3)
        await runner.caught_up()
        assert await runner.lag() == 0


async def test_cancelling_a_subscription_at_any_moment_releases_its_connection(env: Env) -> None:
    await env.emit("a", 3)
    subscription = LogSubscription(env.app, SOURCE, poll_interval=30.0)

    async def consume() -> None:
        # aclosing: a consumer cancelled between batches must close the generator itself,
        # as ProjectionRunner does; otherwise only the garbage collector would.
        async with contextlib.aclosing(subscription.batches(0)) as batches:
            async for _batch in batches:
                await asyncio.sleep(0)

    for step in range(80):
        task = asyncio.create_task(consume())
        await asyncio.sleep((step % 40) * 0.0005)  # cancel at a different point each time
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # A connection cancelled mid-query is reset by asyncpg in the background before it is idle
        # again; a leaked one never comes back.
        with contextlib.suppress(TimeoutError):
            await until(lambda: env.app.get_idle_size() == env.app.get_size(), timeout=5, interval=0.01)
        assert env.app.get_idle_size() == env.app.get_size(), f"connection leaked at step {step}"


class StreamCountsV2(StreamCounts):
    """The same read model after a code change that altered its tables."""

    def ddl(self, schema: str) -> str:
        return super().ddl(schema).replace("last_position bigint", "last_position bigint, note text")


async def columns(pool: Pool, schema: str) -> set[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
            schema,
            "stream_counts",
        )
    return {r["column_name"] for r in rows}


async def test_tables_of_other_ddl_are_rebuilt_at_start_never_served(env: Env) -> None:
    admin = ProjectionAdmin(env.admin, OWNER)
    first = await admin.ensure(StreamCounts())
    await env.emit("a", 3)
    async with running(ProjectionRunner(env.app, OWNER, StreamCounts(), poll_interval=0.05)) as runner:
        await runner.caught_up()
    assert await admin.ensure(StreamCounts()) == first  # same code: the same tables
    rebuilt = await admin.ensure(StreamCountsV2())  # an upgrade: folded again from the log first
    assert rebuilt != first
    assert "note" in await columns(env.admin, rebuilt)
    assert await counts(env.app) == {"a": 3}
    assert await admin.ensure(StreamCountsV2()) == rebuilt


async def test_a_read_model_whose_source_is_not_here_is_renewed_empty(env: Env) -> None:
    """Fed from another service's topic (a database per service): its source log cannot be
    folded here, so the new generation starts empty and its runner reads the topic again."""
    admin = ProjectionAdmin(env.admin, OWNER)
    first = await admin.ensure(StreamCounts())
    await env.emit("a", 3)
    async with running(ProjectionRunner(env.app, OWNER, StreamCounts(), poll_interval=0.05)) as runner:
        await runner.caught_up()
    renewed = await admin.ensure(StreamCountsV2(), source_readable=False)
    assert renewed != first
    assert await counts(env.app) == {}
    async with env.admin.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", first) == 0
    async with running(ProjectionRunner(env.app, OWNER, StreamCountsV2(), poll_interval=0.05)) as runner:
        await runner.caught_up()
    assert await counts(env.app) == {"a": 3}


class CountedOnly(StreamCounts):
    """Declares the one type it folds."""

    event_types = frozenset({"Counted"})

    def __init__(self) -> None:
        self.seen_types: list[str] = []

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        self.seen_types.extend(e.event_type for e in events)
        await super().apply(conn, schema, events)


async def test_a_projection_reads_only_the_payloads_it_folds_and_tracks_past_the_rest(env: Env) -> None:
    projection = CountedOnly()
    await ProjectionAdmin(env.admin, OWNER).ensure(projection)
    await env.emit("a", 2)
    await env.emit("x", 3, kind="Ignored")
    async with running(ProjectionRunner(env.app, OWNER, projection, poll_interval=0.05)) as runner:
        await runner.caught_up()
    assert runner.position == 5  # tracked past the ignored events...
    assert projection.seen_types == ["Counted", "Counted"]  # ...which it never had to fold
    assert await counts(env.app) == {"a": 2}
    read = await env.store.read_all(0, 10, only=frozenset({"Counted"}))
    assert [(e.event_type, e.payload) for e in read][1:3] == [("Counted", {"i": 1}), ("Ignored", {})]
