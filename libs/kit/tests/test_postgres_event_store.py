"""The event store on PostgreSQL, its only adapter: concurrency by constraint, gap-free order in
commit order, immutability, upcasting on read, the hash chain. (There is no second adapter to run
this against: an in-memory log would be a fake of our own infrastructure, which the tests avoid.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import asyncpg
import pytest
from serialtrail_kit.canonical import format_timestamp
from serialtrail_kit.db import Pool
from serialtrail_kit.eventstore.hashchain import GENESIS_HASH, chain_hash
from serialtrail_kit.eventstore.model import (
    ConcurrencyError,
    DuplicateEventError,
    NewEvent,
    RecordedEvent,
    StreamAppend,
)
from serialtrail_kit.eventstore.postgres import COLUMNS, PostgresEventStore, content_of
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.eventstore.upcasting import Upcasters
from serialtrail_kit.eventstore.verify import RECORDED_AT_TEXT, verify_log
from serialtrail_kit.readers.subscription import LogSubscription
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.readers import logs

SCHEMA = "contract_svc"


@pytest.fixture
async def pools(database_dsn: str) -> AsyncIterator[tuple[Pool, Pool]]:
    """(admin pool, application-role pool)."""
    async with logs(database_dsn, SCHEMA, app_connections=20) as both:
        yield both


@pytest.fixture
def store(pools: tuple[Pool, Pool]) -> PostgresEventStore:
    return PostgresEventStore(pools[1], SCHEMA)


def event(kind: str = "Thing.Happened", **payload: object) -> NewEvent:
    return NewEvent(event_type=kind, event_version=1, payload=dict(payload))


def one(stream: str, expected: int, *events: NewEvent) -> list[StreamAppend]:
    return [StreamAppend(stream_id=stream, expected_version=expected, events=events)]


async def test_append_assigns_versions_positions_and_chain(store: PostgresEventStore) -> None:
    first = await store.append(one("s-1", 0, event(n=1), event(n=2)), SYSTEM)
    second = await store.append(one("s-2", 0, event(n=3)), SYSTEM)
    assert [e.stream_version for e in first] == [1, 2]
    assert [e.global_position for e in first + second] == [1, 2, 3]
    assert second[0].prev_hash == first[-1].hash
    stored = await store.read_stream("s-1")
    assert [e.payload["n"] for e in stored] == [1, 2]
    assert stored[0].metadata["principal_id"] == SYSTEM.principal_id
    assert stored[0].recorded_at.tzinfo is not None


async def test_reads_give_the_events_appended_each_with_metadata_of_its_own(store: PostgresEventStore) -> None:
    """Reads parse payload and metadata from text and share the parse of an append's metadata:
    the events equal what the jsonb codec's rows give (and what the append returned), and no two
    share a dict."""
    appended = await store.append(
        one("s-1", 0, event(n=1, nested={"a": [1, "x"]}), event(n=2))
        + one("s-2", 0, event("Other.Thing", text='tab\tline\nquote"é'), event(n=None)),
        SYSTEM,
    )
    appended += await store.append(one("s-3", 0, event(n=3)), SYSTEM)
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {COLUMNS} FROM {SCHEMA}.events ORDER BY global_position")
    # made by the dataclass itself, from the jsonb codec's rows
    decoded = [
        RecordedEvent(**vars(content_of(r)), prev_hash=bytes(r["prev_hash"]), hash=bytes(r["hash"])) for r in rows
    ]
    every = await store.read_all(0, 100)
    assert every == decoded == appended
    assert [list(vars(e).items()) for e in every] == [list(vars(d).items()) for d in decoded]  # field by field
    assert await store.read_raw(0, 100) == decoded
    assert await store.read_stream("s-2") == decoded[2:4]
    only = await store.read_all(0, 100, only=frozenset({"Thing.Happened"}))
    assert [(e.payload, e.metadata) for e in only] == [(e.payload, e.metadata) for e in decoded[:2]] + [
        ({}, {}),
        (decoded[3].payload, decoded[3].metadata),
        (decoded[4].payload, decoded[4].metadata),
    ]
    assert all(type(e.hash) is bytes and type(e.prev_hash) is bytes for e in every)
    assert len({id(e.metadata) for e in every}) == len(every)
    every[0].metadata["principal_id"] = "changed"
    assert every[1].metadata == decoded[1].metadata
    for types in (None, frozenset({"Thing.Happened"})):
        bare = await store.read_all(0, 100, only=types, metadata=False)
        assert [replace(e, metadata={}) for e in (only if types else decoded)] == bare


async def test_a_read_bounded_in_bytes_ends_with_the_event_that_reaches_the_bound(store: PostgresEventStore) -> None:
    """`max_bytes` bounds a read by its payloads' stored sizes: large events come a few at a time
    (never none, however large the first), small ones up to `limit`, and with `only` the payloads
    not read do not count."""
    # Random text: stored as is (PostgreSQL keeps what it cannot compress by a quarter uncompressed).
    await store.append(one("s-1", 0, *(event(blob="".join(uuid4().hex for _ in range(500))) for _ in range(4))), SYSTEM)
    await store.append(one("s-2", 0, *(event("Small.One", n=n) for n in range(6))), SYSTEM)
    async with store.pool.acquire() as conn:
        sizes = [
            r[0]
            for r in await conn.fetch(f"SELECT pg_column_size(payload) FROM {SCHEMA}.events ORDER BY global_position")
        ]
    assert all(size > 16_000 for size in sizes[:4])
    assert all(size < 100 for size in sizes[4:])
    large = max(sizes[:4])
    assert [e.global_position for e in await store.read_all(0, 100, max_bytes=1)] == [1]
    assert [e.global_position for e in await store.read_all(0, 100, max_bytes=large + 1)] == [1, 2]
    assert [e.global_position for e in await store.read_all(2, 100, max_bytes=10 * large)] == list(range(3, 11))
    assert [e.global_position for e in await store.read_all(2, 3, max_bytes=10 * large)] == [3, 4, 5]
    skipping = await store.read_all(0, 100, only=frozenset({"Small.One"}), max_bytes=1)
    assert [e.global_position for e in skipping] == [1, 2, 3, 4, 5]  # the large ones unread, uncounted
    assert await store.read_all(10, 100, max_bytes=1) == []
    for nothing in (0, -1):  # would end every read before its first event: refused, not an idle follower
        with pytest.raises(ValueError, match="max_bytes must be at least 1"):
            await store.read_all(0, 100, max_bytes=nothing)
        with pytest.raises(ValueError, match="batch_bytes must be at least 1"):
            LogSubscription(store.pool, SCHEMA, batch_bytes=nothing)


async def test_a_log_declared_so_stores_payloads_uncompressed_also_when_made_before(pools: tuple[Pool, Pool]) -> None:
    """pglz, tried on every append under the append lock, cannot shrink lists of random serials:
    a service declaring so has its payloads stored as they are, in a log made by an earlier
    version too; a reader installing the log (as it may, empty) leaves the storage as it is."""
    admin, app = pools
    events = f"'{SCHEMA}.events'::regclass"
    storage = f"SELECT attstorage::text FROM pg_attribute WHERE attrelid = {events} AND attname = 'payload'"
    async with admin.acquire() as conn:
        await conn.execute(f"ALTER TABLE {SCHEMA}.events ALTER COLUMN payload SET STORAGE EXTENDED")  # as it was
        await install_log(conn, SCHEMA)  # as a reader of the log installs it: left as it is
        assert await conn.fetchval(storage) == "x"
        await install_log(conn, SCHEMA, uncompressed_payloads=True)  # as its service declares it
        assert await conn.fetchval(storage) == "e"
        await install_log(conn, SCHEMA)
        assert await conn.fetchval(storage) == "e"
    await PostgresEventStore(app, SCHEMA).append(one("s-big", 0, event(text="a" * 100_000)), SYSTEM)
    async with admin.acquire() as conn:
        compression = f"SELECT pg_column_compression(payload) FROM {SCHEMA}.events WHERE stream_id = 's-big'"
        method = await conn.fetchval(compression)
    assert method is None  # compressible as it is, yet not compressed


async def test_wrong_expected_version_is_a_concurrency_error(store: PostgresEventStore) -> None:
    await store.append(one("s", 0, event()), SYSTEM)
    with pytest.raises(ConcurrencyError) as error:
        await store.append(one("s", 0, event()), SYSTEM)
    assert (error.value.expected, error.value.actual) == (0, 1)
    with pytest.raises(ConcurrencyError):
        await store.append(one("s", 5, event()), SYSTEM)  # ahead of the stream: no gaps either
    assert await store.head() == 1


async def test_multi_stream_append_is_all_or_nothing(store: PostgresEventStore) -> None:
    await store.append(one("b", 0, event()), SYSTEM)
    appends = [
        StreamAppend(stream_id="a", expected_version=0, events=(event(),)),
        StreamAppend(stream_id="b", expected_version=0, events=(event(),)),
    ]
    with pytest.raises(ConcurrencyError):
        await store.append(appends, SYSTEM)
    assert await store.stream_version("a") == 0


async def test_each_stream_of_an_append_is_checked_at_its_own_version(store: PostgresEventStore) -> None:
    await store.append(one("a", 0, event(), event()) + one("b", 0, event()), SYSTEM)
    appended = await store.append(
        [
            StreamAppend(stream_id="a", expected_version=2, events=(event(),)),
            StreamAppend(stream_id="new", expected_version=0, events=(event(),)),
            StreamAppend(stream_id="b", expected_version=1, events=(event(), event())),
        ],
        SYSTEM,
    )
    assert [(e.stream_id, e.stream_version) for e in appended] == [("a", 3), ("new", 1), ("b", 2), ("b", 3)]
    with pytest.raises(ConcurrencyError) as error:
        await store.append(one("a", 3, event()) + one("b", 2, event()), SYSTEM)
    assert (error.value.stream_id, error.value.expected, error.value.actual) == ("b", 2, 3)


async def test_an_append_hashes_what_it_stores(store: PostgresEventStore) -> None:
    appended = await store.append(one("s-1", 0, event(n=1), event(n=2)) + one("s-2", 0, event(n=3)), SYSTEM)
    appended += await store.append(one("s-1", 2, event(nested={"b": [1, "x"], "a": None})), SYSTEM)
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {COLUMNS} FROM {SCHEMA}.events ORDER BY global_position")
    prev = GENESIS_HASH
    for row, recorded in zip(rows, appended, strict=True):
        assert bytes(row["prev_hash"]) == recorded.prev_hash == prev
        assert bytes(row["hash"]) == recorded.hash == chain_hash(prev, content_of(row))
        prev = recorded.hash


async def test_a_new_connection_looks_types_up_once_under_the_append_lock(pools: tuple[Pool, Pool]) -> None:
    """Every round trip under the append lock is time no other writer can use: asyncpg looks up
    the types it has no codec for on each new connection, once per statement that needs one."""
    pool = pools[1]  # the application's pool, fresh: no statement has run on its connection yet
    store = PostgresEventStore(pool, SCHEMA)
    queries: list[str] = []

    def logged(record: asyncpg.connection.LoggedQuery) -> None:
        queries.append(record.query)

    async with pool.acquire() as conn:
        conn.add_query_logger(logged)
        try:
            async with store.locked_on(conn) as log:
                await log.append(one("s", 0, event(n=1)) + one("t", 0, event(n=2)), SYSTEM)
        finally:
            conn.remove_query_logger(logged)
    assert any("INSERT" in query for query in queries)
    assert sum("typeinfo" in query for query in queries) <= 1


async def test_concurrent_writers_to_one_stream_exactly_one_wins(store: PostgresEventStore) -> None:
    results = await asyncio.gather(
        *(store.append(one("hot", 0, event(n=i)), SYSTEM) for i in range(10)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, ConcurrencyError) for r in results if isinstance(r, Exception))


async def test_global_position_is_gap_free_under_concurrency(store: PostgresEventStore) -> None:
    await asyncio.gather(*(store.append(one(f"s-{i}", 0, event(), event()), SYSTEM) for i in range(20)))
    events = await store.read_all(0, 1000)
    assert [e.global_position for e in events] == list(range(1, 41))
    assert (await verify_log(store.pool, SCHEMA)).ok


async def test_upcasting_on_read_never_rewrites_rows(pools: tuple[Pool, Pool]) -> None:
    upcasters = Upcasters()

    @upcasters.register("Thing.Happened", 1)
    def add_unit(payload: dict[str, object]) -> dict[str, object]:
        return {**payload, "unit": "each"}

    writer = PostgresEventStore(pools[1], SCHEMA)
    await writer.append(one("s", 0, event(n=1)), SYSTEM)
    reader = PostgresEventStore(pools[1], SCHEMA, upcasters)
    (read,) = await reader.read_stream("s")
    assert (read.event_version, read.payload) == (2, {"n": 1, "unit": "each"})
    (raw,) = await reader.read_raw(0, 10)
    assert (raw.event_version, raw.payload) == (1, {"n": 1})
    assert (await verify_log(pools[1], SCHEMA)).ok


async def test_floats_are_refused_because_jsonb_would_alter_them(store: PostgresEventStore) -> None:
    with pytest.raises(TypeError, match="floats"):
        await store.append(one("s", 0, event(value=1e16)), SYSTEM)


@pytest.mark.parametrize("statement", ["UPDATE {t} SET event_type = 'x'", "DELETE FROM {t}", "TRUNCATE {t}"])
async def test_database_refuses_changes_even_to_the_owner(pools: tuple[Pool, Pool], statement: str) -> None:
    store = PostgresEventStore(pools[1], SCHEMA)
    await store.append(one("s", 0, event()), SYSTEM)
    async with pools[0].acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(statement.format(t=f"{SCHEMA}.events"))
    async with pools[1].acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await conn.execute(statement.format(t=f"{SCHEMA}.events"))
    assert await store.head() == 1


async def test_verify_names_the_first_tampered_position(pools: tuple[Pool, Pool]) -> None:
    store = PostgresEventStore(pools[1], SCHEMA)
    for i in range(5):
        await store.append(one(f"s-{i}", 0, event(n=i)), SYSTEM)
    async with pools[0].acquire() as conn:  # a superuser disables the trigger and edits a row
        await conn.execute(f"ALTER TABLE {SCHEMA}.events DISABLE TRIGGER USER")
        await conn.execute(f"UPDATE {SCHEMA}.events SET payload = '{{\"n\": 99}}' WHERE global_position = 3")
    report = await verify_log(pools[1], SCHEMA)
    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.global_position == 3
    assert report.first_break.reason == "row content does not match its hash"
    assert report.checked == 5


async def test_verify_detects_a_deleted_row(pools: tuple[Pool, Pool]) -> None:
    store = PostgresEventStore(pools[1], SCHEMA)
    for i in range(4):
        await store.append(one(f"s-{i}", 0, event(n=i)), SYSTEM)
    async with pools[0].acquire() as conn:
        await conn.execute(f"ALTER TABLE {SCHEMA}.events DISABLE TRIGGER USER")
        await conn.execute(f"DELETE FROM {SCHEMA}.events WHERE global_position = 2")
    report = await verify_log(pools[1], SCHEMA)
    assert report.first_break is not None
    assert report.first_break.global_position == 2
    assert "missing" in report.first_break.reason


async def test_verify_rebuilds_the_canonical_bytes_from_the_stored_json(pools: tuple[Pool, Pool]) -> None:
    """verify reads payload and metadata as jsonb writes them (keys by length, then bytes) and hashes
    them in canonical order again: nested keys, unicode and escapes included, across chunks."""
    store = PostgresEventStore(pools[1], SCHEMA)
    awkward = {"zz": {"b": [1, {"yy": '\u00e9\n"', "x": None}], "a": True}, "a": "\u2028\t", "mm": -(2**62)}
    for i in range(7):
        await store.append(
            one(f"s-{i}", 0, NewEvent(event_type="T", event_version=1, payload={"n": i, **awkward})), SYSTEM
        )
    seen: list[tuple[int, int]] = []
    report = await verify_log(pools[1], SCHEMA, chunk=2, progress=lambda done, head: seen.append((done, head)))
    assert (report.ok, report.checked) == (True, 7)
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("metadata", """'{"principal_id": "someone else"}'"""),
        ("payload", "NULL"),
        ("event_type", "NULL"),
        ("recorded_at", "NULL"),
        ("recorded_at", "recorded_at + interval '1 microsecond'"),
    ],
)
async def test_verify_locates_a_tampered_row_within_a_later_chunk(
    pools: tuple[Pool, Pool], column: str, value: str
) -> None:
    """Any column, even one set to NULL once its constraint is dropped, is found at its position
    and the walk goes on to the end."""
    store = PostgresEventStore(pools[1], SCHEMA)
    for i in range(9):
        await store.append(one(f"s-{i}", 0, event(n=i)), SYSTEM)
    async with pools[0].acquire() as conn:
        await conn.execute(f"ALTER TABLE {SCHEMA}.events DISABLE TRIGGER USER")
        await conn.execute(f"ALTER TABLE {SCHEMA}.events ALTER COLUMN {column} DROP NOT NULL")
        await conn.execute(f"UPDATE {SCHEMA}.events SET {column} = {value} WHERE global_position = 6")
    report = await verify_log(pools[1], SCHEMA, chunk=4)
    assert report.first_break is not None
    assert report.first_break.global_position == 6
    assert report.first_break.reason == "row content does not match its hash"
    assert report.checked == 9


@pytest.mark.parametrize(
    "recorded_at",
    [
        datetime(2026, 12, 2, 20, 32, 7, 0, tzinfo=UTC),
        datetime(2028, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(1000, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(9999, 12, 31, 23, 59, 59, 123_456, tzinfo=UTC),
    ],
)
async def test_verify_reads_id_and_time_as_hashed(pools: tuple[Pool, Pool], recorded_at: datetime) -> None:
    """verify has PostgreSQL write the event id and recording time; they must be the bytes
    `canonical_row` hashed at append, whatever the session's time zone."""
    event_id = uuid4()
    async with pools[1].acquire() as conn:
        await conn.execute("SET TIME ZONE 'America/New_York'")
        row = await conn.fetchrow(
            f"SELECT event_id::text, {RECORDED_AT_TEXT} AS recorded "
            "FROM (SELECT $1::uuid AS event_id, $2::timestamptz AS recorded_at) r",
            event_id,
            recorded_at,
        )
        await conn.execute("RESET TIME ZONE")
    assert row is not None
    assert (row["event_id"], row["recorded"]) == (str(event_id), format_timestamp(recorded_at))


async def test_event_ids_are_unique(store: PostgresEventStore) -> None:
    duplicate = uuid4()
    await store.append(one("a", 0, NewEvent(event_type="X", event_version=1, payload={}, event_id=duplicate)), SYSTEM)
    with pytest.raises(DuplicateEventError):
        await store.append(
            one("b", 0, NewEvent(event_type="X", event_version=1, payload={}, event_id=duplicate)), SYSTEM
        )
