"""The write model on real PostgreSQL: a unit of work loads under the append lock, records
atomically, folds the write side in the same transaction, and the write side is rebuilt
from the log when its DDL changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

import asyncpg
import pytest
from serialtrail_contracts.base import EventContract, event_types
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.readers import logs
from serialtrail_kit.writes.install import install_write_sides
from serialtrail_kit.writes.model import WriteModel

SCHEMA = "writes_svc"


class Claimed(EventContract):
    EVENT_TYPE: ClassVar[str] = "test.Claimed"
    EVENT_VERSION: ClassVar[int] = 1
    item: str
    by: str


EVENTS = event_types(Claimed)


class Claims:
    """Write side: an item is claimed at most once (its primary key)."""

    name = "claims"
    tables: tuple[str, ...] = ("claims",)

    def __init__(self, extra_column: str = "") -> None:
        self.extra_column = extra_column

    def ddl(self, schema: str) -> str:
        return f"CREATE TABLE {schema}.claims (item text PRIMARY KEY, by text NOT NULL{self.extra_column})"

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for e in events:
            await conn.execute(
                f"INSERT INTO {schema}.claims (item, by) VALUES ($1, $2)", e.payload["item"], e.payload["by"]
            )


@pytest.fixture
async def pools(database_dsn: str) -> AsyncIterator[tuple[Pool, Pool]]:
    async with logs(database_dsn, SCHEMA, app_connections=12) as (admin, app):
        async with admin.acquire() as conn:
            await install_write_sides(conn, PostgresEventStore(admin, SCHEMA), [Claims()])
        yield admin, app


@pytest.fixture
def writes(pools: tuple[Pool, Pool]) -> WriteModel:
    return WriteModel(PostgresEventStore(pools[1], SCHEMA), EVENTS, [Claims()])


async def claim(writes: WriteModel, item: str, by: str) -> None:
    async with writes.unit(SYSTEM) as work:
        stream = await work.stream(f"item-{item}")
        if stream.of(Claimed):
            raise LookupError(f"{item} is taken")
        work.record(stream.id, stream.version, [Claimed(item=item, by=by)])


async def claims(pool: Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        return {r["item"]: r["by"] for r in await conn.fetch(f"SELECT item, by FROM {SCHEMA}.claims")}


async def test_a_unit_records_its_events_and_folds_the_write_side_with_them(
    writes: WriteModel, pools: tuple[Pool, Pool]
) -> None:
    async with writes.unit(SYSTEM) as work:
        work.record("item-a", 0, [Claimed(item="a", by="x")])
        work.record("item-b", 0, [Claimed(item="b", by="x")])
    assert [e.stream_id for e in work.recorded] == ["item-a", "item-b"]
    assert await claims(pools[0]) == {"a": "x", "b": "x"}
    loaded = await writes.stream("item-a")
    assert (loaded.of(Claimed), loaded.version) == ([Claimed(item="a", by="x")], 1)


async def test_a_failing_decision_records_nothing(writes: WriteModel, pools: tuple[Pool, Pool]) -> None:
    async def refused() -> None:
        async with writes.unit(SYSTEM) as work:
            work.record("item-a", 0, [Claimed(item="a", by="x")])
            raise RuntimeError("the domain said no")

    with pytest.raises(RuntimeError):
        await refused()
    assert await writes.store.head() == 0
    assert await claims(pools[0]) == {}


async def test_a_write_side_that_refuses_rolls_the_events_back(writes: WriteModel, pools: tuple[Pool, Pool]) -> None:
    await claim(writes, "a", "x")
    with pytest.raises(asyncpg.UniqueViolationError):  # another stream claims the same item
        async with writes.unit(SYSTEM) as work:
            work.record("other-stream", 0, [Claimed(item="a", by="y")])
    assert await writes.store.head() == 1
    assert await claims(pools[0]) == {"a": "x"}


async def test_a_nested_unit_fails_alone(writes: WriteModel, pools: tuple[Pool, Pool]) -> None:
    """A unit on another unit's connection is a savepoint: a write side refusing it (an item
    claimed twice) undoes its events only; the outer unit goes on and records its own."""
    await claim(writes, "a", "x")
    async with writes.unit(SYSTEM) as outer:
        for item in ("b", "a", "c"):
            try:
                async with writes.unit(outer.meta, conn=outer.conn) as inner:
                    inner.record(f"claim-{item}-by-y", 0, [Claimed(item=item, by="y")])
            except asyncpg.UniqueViolationError:
                outer.record("refusals", await outer.version("refusals"), [Claimed(item=f"refused-{item}", by="y")])
    assert await claims(pools[0]) == {"a": "x", "b": "y", "c": "y", "refused-a": "y"}
    streams = [e.stream_id for e in await writes.store.read_all(0, 100)]
    assert streams == ["item-a", "claim-b-by-y", "claim-c-by-y", "refusals"]
    assert [e.stream_version for e in await writes.store.read_all(0, 100)] == [1, 1, 1, 1]


async def test_concurrent_decisions_see_each_other_and_never_conflict(
    writes: WriteModel, pools: tuple[Pool, Pool]
) -> None:
    """Loads happen under the append lock: of ten units deciding on the same item at once,
    one records and nine see its claim; none fails on a version conflict."""
    results = await asyncio.gather(*(claim(writes, "hot", f"w{i}") for i in range(10)), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, LookupError) for r in results if r is not None)
    assert len(await claims(pools[0])) == 1


async def test_a_stream_holding_an_unknown_event_is_an_error(writes: WriteModel, pools: tuple[Pool, Pool]) -> None:
    from serialtrail_kit.eventstore.model import NewEvent, StreamAppend

    stranger = NewEvent(event_type="test.Unknown", event_version=1, payload={})
    await PostgresEventStore(pools[1], SCHEMA).append(
        [StreamAppend(stream_id="s", expected_version=0, events=(stranger,))], SYSTEM
    )
    with pytest.raises(LookupError, match=r"test\.Unknown"):
        await writes.stream("s")


async def test_the_write_side_is_rebuilt_from_the_log_when_its_ddl_changes(
    writes: WriteModel, pools: tuple[Pool, Pool]
) -> None:
    await claim(writes, "a", "x")
    await claim(writes, "b", "y")
    store = PostgresEventStore(pools[0], SCHEMA)
    async with pools[0].acquire() as conn:
        assert await install_write_sides(conn, store, [Claims()]) == []  # same DDL: kept as it is
        changed = Claims(extra_column=", note text")
        assert await install_write_sides(conn, store, [changed]) == ["claims"]
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'claims'",
            SCHEMA,
        )
    assert {r["column_name"] for r in columns} == {"item", "by", "note"}
    assert await claims(pools[0]) == {"a": "x", "b": "y"}  # folded again from the log
