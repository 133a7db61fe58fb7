"""The event store on PostgreSQL.

Appends lock the log's single `append_lock` row for the rest of the transaction.
That serialises writers, which is what makes `global_position` gap-free *in commit
order*: a reader that has seen position N can never later find a smaller position
appear. The stream version check is exact under the lock; the primary key on
(stream_id, stream_version) stays as the last line of defence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from serialtrail_kit import canonical
from serialtrail_kit.db import Connection, Pool, ident
from serialtrail_kit.eventstore.hashchain import GENESIS_HASH, RowContent, fields_hash
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import (
    ConcurrencyError,
    DuplicateEventError,
    RecordedEvent,
    StreamAppend,
)
from serialtrail_kit.eventstore.upcasting import NO_UPCASTERS, Upcasters
from serialtrail_kit.telemetry import TRACER

COLUMNS = (
    "global_position, stream_id, stream_version, event_id, event_type, event_version, "
    "payload, metadata, recorded_at, prev_hash, hash"
)

# What reads give back: the same columns, payload and metadata as text, parsed by `_read` (through
# the jsonb codec asyncpg spends several times what the parse costs, value by value). The same text
# either way: jsonb's.
READ_COLUMNS = COLUMNS.replace("payload, metadata,", "payload::text, metadata::text,")
assert READ_COLUMNS != COLUMNS

# The same, payload and metadata only for the event types in $3 (`{}` for the others).
ONLY_COLUMNS = COLUMNS.replace(
    "payload, metadata,",
    "CASE WHEN event_type = ANY($3::text[]) THEN payload::text ELSE '{}' END AS payload, "
    "CASE WHEN event_type = ANY($3::text[]) THEN metadata::text ELSE '{}' END AS metadata,",
)
assert ONLY_COLUMNS != COLUMNS

# For a reader that never reads metadata: every event's is `{}` (PostgreSQL need not write it out).
NO_METADATA = "'{}' AS metadata,"
WITHOUT_METADATA = {
    READ_COLUMNS: READ_COLUMNS.replace("metadata::text,", NO_METADATA),
    ONLY_COLUMNS: ONLY_COLUMNS.replace(
        "CASE WHEN event_type = ANY($3::text[]) THEN metadata::text ELSE '{}' END AS metadata,", NO_METADATA
    ),
}
assert all(NO_METADATA in columns for columns in WITHOUT_METADATA.values())


# What a bulk fold of a log (a replay, a write side rebuilt at start) reads at a time: so many
# events, ending early at so many bytes of stored payload. One event can name tens of thousands
# of ids (~150 KB stored for 10,000): 5,000 of those in one read would be gigabytes once parsed,
# twice over where the next read is under way while one is folded.
FOLD_BATCH = 5000
FOLD_BYTES = 4 << 20


def notify_channel(schema: str) -> str:
    return f"serialtrail_log_{ident(schema)}"


class PostgresEventStore:
    def __init__(self, pool: Pool, schema: str, upcasters: Upcasters = NO_UPCASTERS) -> None:
        self.pool = pool
        self.schema = ident(schema)
        self.upcasters = upcasters
        self._table = f"{self.schema}.events"

    async def append(self, appends: Sequence[StreamAppend], metadata: RecordMetadata) -> list[RecordedEvent]:
        """Append to one or more streams atomically (services record through the write model,
        `writes.WriteModel`, which also folds their write side in the same transaction)."""
        async with self.locked() as log:
            return await log.append(appends, metadata)

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[LockedLog]:
        """A transaction holding the append lock: what is read through `conn` cannot change
        until commit, so a decision spanning many streams (or write-side tables kept with
        the log) can be loaded, decided and appended without another writer interleaving."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SELECT FROM {self.schema}.append_lock FOR UPDATE")
            yield LockedLog(self, conn)

    @asynccontextmanager
    async def locked_on(self, conn: Connection) -> AsyncIterator[LockedLog]:
        """As `locked`, inside a transaction the caller already holds on `conn` (a reader
        recording its position with the events it appends)."""
        async with conn.transaction():
            await conn.execute(f"SELECT FROM {self.schema}.append_lock FOR UPDATE")
            yield LockedLog(self, conn)

    async def _append_locked(
        self, conn: Connection, appends: Sequence[StreamAppend], metadata: dict[str, Any]
    ) -> list[RecordedEvent]:
        now, position, prev_hash = await self._head_checked(conn, appends)
        # Every other writer waits while this runs (the lock is held): what all of an append's
        # events share is worked out once (the recording time's text, `canonical_row`'s), and each
        # event's hashed bytes are `canonical_row`'s, from its fields without a RowContent each.
        at = canonical.format_timestamp(now)
        recorded: list[RecordedEvent] = []
        for append in appends:
            stream_id, expected = append.stream_id, append.expected_version
            for offset, event in enumerate(append.events, start=1):
                canonical.reject_floats(event.payload)
                position += 1
                version = expected + offset
                digest = fields_hash(
                    prev_hash,
                    (
                        position,
                        stream_id,
                        version,
                        event.event_id,
                        event.event_type,
                        event.event_version,
                        event.payload,
                        metadata,
                        at,
                    ),
                )
                recorded.append(
                    _made(
                        {
                            "global_position": position,
                            "stream_id": stream_id,
                            "stream_version": version,
                            "event_id": event.event_id,
                            "event_type": event.event_type,
                            "event_version": event.event_version,
                            "payload": event.payload,
                            "metadata": metadata,
                            "recorded_at": now,
                            "prev_hash": prev_hash,
                            "hash": digest,
                        }
                    )
                )
                prev_hash = digest
        await self._insert(conn, recorded)
        return recorded

    async def _head_checked(self, conn: Connection, appends: Sequence[StreamAppend]) -> tuple[datetime, int, bytes]:
        """The time, position and hash to append after, once every stream is at the version its
        append expects. One round trip: the append lock is held meanwhile, so every round trip
        under it is time no other writer can use. The versions come as one jsonb object (decoded
        by the connection's jsonb codec): an int[] column would have asyncpg look its type up on
        each new connection, one more round trip under the lock."""
        ids = [a.stream_id for a in appends]
        if len(set(ids)) != len(ids):
            raise ValueError("each stream may appear only once in an append")
        row = await conn.fetchrow(
            f"SELECT clock_timestamp() AS now, last.global_position, last.hash, versions.at "
            f"FROM (SELECT 1) AS one "
            f"LEFT JOIN LATERAL (SELECT global_position, hash FROM {self._table} "
            "ORDER BY global_position DESC LIMIT 1) AS last ON true "
            "CROSS JOIN LATERAL (SELECT jsonb_object_agg(stream_id, v) AS at FROM ("
            f"SELECT stream_id, max(stream_version) AS v FROM {self._table} "
            "WHERE stream_id = ANY($1::text[]) GROUP BY stream_id) AS s) AS versions",
            ids,
        )
        assert row is not None
        current: dict[str, int] = row["at"] or {}
        for append in appends:
            actual = current.get(append.stream_id, 0)
            if actual != append.expected_version:
                raise ConcurrencyError(append.stream_id, append.expected_version, actual)
        # Round to microseconds the way PostgreSQL stores them, so the hash we compute now
        # is the hash verify will recompute from the stored value.
        return row["now"], row["global_position"] or 0, bytes(row["hash"] or GENESIS_HASH)

    async def _insert(self, conn: Connection, rows: list[RecordedEvent]) -> None:
        if not rows:
            return
        try:
            # Readers are told of the new head in the same statement (delivered at commit).
            await conn.execute(
                f"WITH appended AS (INSERT INTO {self._table} ({COLUMNS}) "
                "SELECT p, s, v, i, t, tv, pl::jsonb, md::jsonb, ra, ph, h "
                "FROM unnest($1::bigint[], $2::text[], $3::int[], $4::uuid[], $5::text[], $6::int[], "
                "$7::text[], $8::text[], $9::timestamptz[], $10::bytea[], $11::bytea[]) "
                "AS u(p, s, v, i, t, tv, pl, md, ra, ph, h)) "
                "SELECT pg_notify($12, $13)",
                [r.global_position for r in rows],
                [r.stream_id for r in rows],
                [r.stream_version for r in rows],
                [r.event_id for r in rows],
                [r.event_type for r in rows],
                [r.event_version for r in rows],
                [canonical.dumps(r.payload).decode() for r in rows],
                _metadata_texts(rows),
                [r.recorded_at for r in rows],
                [r.prev_hash for r in rows],
                [r.hash for r in rows],
                notify_channel(self.schema),
                str(rows[-1].global_position),
            )
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == "events_event_id_key":
                raise DuplicateEventError(str(error.detail)) from error
            # The version check above runs under the lock, so this is only reachable if
            # something appended without taking it: still never a silent overwrite.
            raise ConcurrencyError(rows[0].stream_id, rows[0].stream_version - 1, -1) from error

    async def read_stream(self, stream_id: str, *, conn: Connection | None = None) -> list[RecordedEvent]:
        sql = f"SELECT {READ_COLUMNS} FROM {self._table} WHERE stream_id = $1 ORDER BY stream_version"
        return self.upcasters.events(_read(await self._fetch(conn, sql, stream_id)))

    async def read_all(
        self,
        after: int,
        limit: int,
        *,
        conn: Connection | None = None,
        only: frozenset[str] | None = None,
        metadata: bool = True,
        max_bytes: int | None = None,
    ) -> list[RecordedEvent]:
        """Events in global order, upcast. With `only`, events of other types come without their
        payload and metadata (`{}`): a reader tracks past them without paying for what it ignores.
        Without `metadata`, every event comes without its metadata (for a reader that never reads it).
        With `max_bytes`, the events end with the first whose payload (as stored, of the types read)
        brings the read to that size: fewer than `limit` where payloads are large, never none."""
        if max_bytes is not None and max_bytes < 1:  # a bound of 0 would end every read before its first event
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        columns = READ_COLUMNS if only is None else ONLY_COLUMNS
        if not metadata:
            columns = WITHOUT_METADATA[columns]
        args: tuple[object, ...] = (after, limit) if only is None else (after, limit, sorted(only))
        within = ""
        if max_bytes is not None:
            # The last position of the read is found from the payloads' stored sizes (a TOASTed
            # value's size is known without reading it), so the rows read are only those returned.
            size = "pg_column_size(payload)"
            if only is not None:
                size = f"CASE WHEN event_type = ANY($3::text[]) THEN {size} ELSE 0 END"
            args = (*args, max_bytes)
            within = (
                f" AND global_position <= (SELECT max(global_position) FROM (SELECT global_position, "
                f"sum({size}) OVER (ORDER BY global_position) - {size} AS before FROM {self._table} "
                f"WHERE global_position > $1 ORDER BY global_position LIMIT $2) AS sized WHERE before < ${len(args)})"
            )
        sql = (
            f"SELECT {columns} FROM {self._table} WHERE global_position > $1{within} ORDER BY global_position LIMIT $2"
        )
        return self.upcasters.events(_read(await self._fetch(conn, sql, *args)))

    async def _fetch(self, conn: Connection | None, sql: str, *args: object) -> list[Any]:
        if conn is not None:
            return list(await conn.fetch(sql, *args))
        async with self.pool.acquire() as own:
            return list(await own.fetch(sql, *args))

    async def read_raw(self, after: int, limit: int, *, conn: Connection | None = None) -> list[RecordedEvent]:
        """Rows exactly as stored (no upcasting): what the hash chain covers."""
        sql = f"SELECT {READ_COLUMNS} FROM {self._table} WHERE global_position > $1 ORDER BY global_position LIMIT $2"
        return _read(await self._fetch(conn, sql, after, limit))

    async def head(self) -> int:
        async with self.pool.acquire() as conn:
            value = await conn.fetchval(f"SELECT coalesce(max(global_position), 0) FROM {self._table}")
        return int(value)

    async def stream_version(self, stream_id: str, *, conn: Connection | None = None) -> int:
        sql = f"SELECT coalesce(max(stream_version), 0) FROM {self._table} WHERE stream_id = $1"
        if conn is not None:
            return int(await conn.fetchval(sql, stream_id))
        async with self.pool.acquire() as own:
            return int(await own.fetchval(sql, stream_id))


class LockedLog:
    """The log inside a `locked()` transaction."""

    def __init__(self, store: PostgresEventStore, conn: Connection) -> None:
        self.store = store
        self.conn = conn

    async def append(self, appends: Sequence[StreamAppend], metadata: RecordMetadata) -> list[RecordedEvent]:
        with TRACER.start_as_current_span("log.append", attributes={"serialtrail.log": self.store.schema}) as span:
            recorded = await self.store._append_locked(self.conn, appends, metadata.as_json())
            span.set_attribute("serialtrail.events", len(recorded))
        return recorded


def _made(fields: dict[str, Any]) -> RecordedEvent:
    """A RecordedEvent of these fields (every one, in the dataclass's order), as its dataclass
    would make it, its attribute dict given whole rather than filled by a frozen dataclass's
    field-by-field `__init__`: appends and reads make them by the thousand."""
    event: RecordedEvent = object.__new__(RecordedEvent)
    object.__setattr__(event, "__dict__", fields)
    return event


def _metadata_texts(rows: Sequence[RecordedEvent]) -> list[str]:
    """Each row's metadata as stored text, written once per run of rows sharing one metadata
    object (an append's events share theirs)."""
    texts: list[str] = []
    last: object = None
    text = ""
    for row in rows:
        if row.metadata is not last:
            last, text = row.metadata, canonical.dumps(row.metadata).decode()
        texts.append(text)
    return texts


def content_of(row: Any) -> RowContent:
    """The hashed content of a stored row (every column but the two hashes)."""
    return RowContent(
        global_position=row["global_position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        event_version=row["event_version"],
        payload=row["payload"],
        metadata=row["metadata"],
        recorded_at=row["recorded_at"],
    )


def _read(rows: Sequence[Any]) -> list[RecordedEvent]:
    """Events from rows of `READ_COLUMNS` (payload and metadata as text), made by `_made` with the
    same fields and values the dataclass gets from `COLUMNS` (`content_of`'s). The events of one
    append share their metadata's text: parsed once per run of equal text, each event given a dict of its
    own (a shallow copy where every value is a string, as record metadata's are)."""
    events: list[RecordedEvent] = []
    add, loads = events.append, orjson.loads
    last_text: str | None = None
    last: dict[str, Any] = {}
    flat = False
    for position, stream, version, event_id, event_type, event_version, payload, metadata, at, prev, digest in rows:
        if metadata != last_text:
            last_text, last = metadata, loads(metadata)
            flat = type(last) is dict and all(value is None or type(value) is str for value in last.values())
        add(
            _made(
                {
                    "global_position": position,
                    "stream_id": stream,
                    "stream_version": version,
                    "event_id": event_id,
                    "event_type": event_type,
                    "event_version": event_version,
                    "payload": loads(payload),
                    "metadata": last.copy() if flat else loads(metadata),
                    "recorded_at": at,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
        )
    return events
