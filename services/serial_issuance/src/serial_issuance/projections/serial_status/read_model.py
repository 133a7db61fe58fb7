"""The serial-status read model: serial requests, imports, commissioned serials and the
per-batch counts QA asks for. A pure fold of the serial issuance log."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

from serialtrail_contracts.serials import (
    SerialReplaced,
    SerialsAllocated,
    SerialsCommissioned,
    SerialsImported,
    SsccRangeAllocated,
)
from serialtrail_kit.db import Connection
from serialtrail_kit.eventstore.model import RecordedEvent

from serial_issuance.domain import counter_bitmap

SOURCE = "serial_issuance"


def _who(event: RecordedEvent) -> dict[str, Any]:
    """The Part 11 record of who did it, how they authenticated, from where, with what software."""
    return dict(event.metadata)


class SerialStatusProjection:
    name = "serial_status"
    source = SOURCE
    tables: tuple[str, ...] = (
        "serial_requests",
        "serial_imports",
        "imported_serials",
        "commissionings",
        "commissioned_chunks",
        "commissioned_unpooled",
        "batch_counts",
        "sscc_requests",
        "replacements",
    )

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.serial_requests (
            request_id uuid PRIMARY KEY, gtin text NOT NULL, lot text, quantity int NOT NULL,
            first_counter bigint NOT NULL, end_counter bigint NOT NULL, skipped_counters bigint[] NOT NULL,
            output_form text NOT NULL, requested_by jsonb NOT NULL, requested_at timestamptz NOT NULL,
            global_position bigint NOT NULL
        );
        CREATE INDEX ON {schema}.serial_requests (gtin, first_counter);
        CREATE TABLE {schema}.serial_imports (
            import_id uuid PRIMARY KEY, gtin text NOT NULL, lot text, source text NOT NULL, quantity int NOT NULL,
            imported_by jsonb NOT NULL, imported_at timestamptz NOT NULL, global_position bigint NOT NULL
        );
        CREATE TABLE {schema}.imported_serials (
            gtin text NOT NULL, serial text NOT NULL, import_id uuid NOT NULL, PRIMARY KEY (gtin, serial)
        );
        CREATE TABLE {schema}.commissionings (
            commissioning_id uuid PRIMARY KEY, gtin text NOT NULL, lot text NOT NULL, expiry date NOT NULL,
            line_id text NOT NULL, event_time timestamptz NOT NULL, quantity int NOT NULL,
            commissioned_by jsonb NOT NULL, recorded_at timestamptz NOT NULL, global_position bigint NOT NULL,
            -- as the line sent it (its offset is EPCIS eventTimeZoneOffset), and where it happened
            event_time_as_sent text NOT NULL, read_point text NOT NULL, biz_location text NOT NULL
        );
        -- Pool serials by counter: one bitmap row per commissioning and 8,192-counter chunk.
        CREATE TABLE {schema}.commissioned_chunks (
            gtin text NOT NULL, chunk bigint NOT NULL, commissioning_id uuid NOT NULL, bits bytea NOT NULL,
            PRIMARY KEY (gtin, chunk, commissioning_id)
        );
        CREATE TABLE {schema}.commissioned_unpooled (
            gtin text NOT NULL, serial text NOT NULL, commissioning_id uuid NOT NULL, PRIMARY KEY (gtin, serial)
        );
        CREATE TABLE {schema}.batch_counts (
            gtin text NOT NULL, lot text NOT NULL, issued bigint NOT NULL DEFAULT 0,
            imported bigint NOT NULL DEFAULT 0, commissioned bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (gtin, lot)
        );
        CREATE TABLE {schema}.sscc_requests (
            request_id uuid PRIMARY KEY, company_prefix text NOT NULL, extension_digit int NOT NULL,
            first_reference bigint NOT NULL, quantity int NOT NULL, requested_by jsonb NOT NULL,
            requested_at timestamptz NOT NULL, global_position bigint NOT NULL
        );
        -- Rework: the serial relabelled and the one that replaced it, each found from the other.
        CREATE TABLE {schema}.replacements (
            gtin text NOT NULL, serial text NOT NULL, replacement_serial text NOT NULL,
            exception_id uuid NOT NULL, line_id text NOT NULL, event_time timestamptz NOT NULL,
            recorded_at timestamptz NOT NULL, recorded_by jsonb NOT NULL,
            PRIMARY KEY (gtin, serial, exception_id)
        );
        CREATE INDEX ON {schema}.replacements (gtin, replacement_serial);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event_type, run in itertools.groupby(events, key=lambda e: e.event_type):
            if event_type == SerialsCommissioned.EVENT_TYPE:
                await _commissioned(conn, schema, list(run))  # in order: one run, one batch
                continue
            handler = _HANDLERS.get(event_type)
            if handler is not None:
                for event in run:
                    await handler(conn, schema, event)


async def _count(conn: Connection, schema: str, gtin: str, lot: str, column: str, amount: int) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.batch_counts (gtin, lot, {column}) VALUES ($1, $2, $3) "
        f"ON CONFLICT (gtin, lot) DO UPDATE SET {column} = batch_counts.{column} + EXCLUDED.{column}",
        gtin,
        lot,
        amount,
    )


async def _allocated(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    e = SerialsAllocated.model_validate(recorded.payload)
    await conn.execute(
        f"INSERT INTO {schema}.serial_requests VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        e.request_id,
        e.gtin,
        e.lot,
        e.quantity,
        e.first_counter,
        e.end_counter,
        list(e.skipped_counters),
        e.output_form.value,
        _who(recorded),
        recorded.recorded_at,
        recorded.global_position,
    )
    if e.lot is not None:
        await _count(conn, schema, e.gtin, e.lot, "issued", e.quantity)


async def _imported(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    e = SerialsImported.model_validate(recorded.payload)
    await conn.execute(
        f"INSERT INTO {schema}.serial_imports VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        e.import_id,
        e.gtin,
        e.lot,
        e.source,
        len(e.serials),
        _who(recorded),
        recorded.recorded_at,
        recorded.global_position,
    )
    await conn.execute(
        f"INSERT INTO {schema}.imported_serials SELECT $1, unnest($2::text[]), $3",
        e.gtin,
        list(e.serials),
        e.import_id,
    )
    if e.lot is not None:
        await _count(conn, schema, e.gtin, e.lot, "imported", len(e.serials))


async def _commissioned(conn: Connection, schema: str, run: Sequence[RecordedEvent]) -> None:
    """A run of commissionings, in a few statements whatever its length (a captured document's
    thousand commissionings were five thousand round trips)."""
    # validated on append: model_construct skips re-parsing thousands of serials
    done = [(r, SerialsCommissioned.model_construct(**r.payload)) for r in run]
    await conn.executemany(
        f"INSERT INTO {schema}.commissionings VALUES ($1, $2, $3, $4::text::date, $5, $6::text::timestamptz, "
        "$7, $8, $9, $10, $6, $11, $12)",
        [_commissioning_row(r, e) for r, e in done],
    )
    chunks = [
        (e.gtin, chunk, e.commissioning_id, bits)
        for _, e in done
        for chunk, bits in counter_bitmap.mark(
            {}, counter_bitmap.counters_of_ranges(list(e.counter_ranges))
        ).chunks.items()
    ]
    if chunks:
        await conn.execute(
            f"INSERT INTO {schema}.commissioned_chunks "
            "SELECT * FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::bytea[])",
            *(list(column) for column in zip(*chunks, strict=True)),
        )
    unpooled = [(e.gtin, serial, e.commissioning_id) for _, e in done for serial in e.unpooled_serials or ()]
    if unpooled:
        await conn.execute(
            f"INSERT INTO {schema}.commissioned_unpooled SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[])",
            *(list(column) for column in zip(*unpooled, strict=True)),
        )
    counts = Counter[tuple[str, str]]()
    for _, e in done:
        counts[(e.gtin, e.lot)] += len(e.serials)
    await conn.execute(
        f"INSERT INTO {schema}.batch_counts (gtin, lot, commissioned) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) "
        "ON CONFLICT (gtin, lot) DO UPDATE SET commissioned = batch_counts.commissioned + EXCLUDED.commissioned",
        [gtin for gtin, _ in counts],
        [lot for _, lot in counts],
        list(counts.values()),
    )


def _commissioning_row(recorded: RecordedEvent, e: SerialsCommissioned) -> tuple[Any, ...]:
    when = str(recorded.payload["event_time"])
    who, at, position = _who(recorded), recorded.recorded_at, recorded.global_position
    place = (e.read_point, e.biz_location)
    return (
        e.commissioning_id,
        e.gtin,
        e.lot,
        str(e.expiry),
        e.line_id,
        when,
        len(e.serials),
        who,
        at,
        position,
        *place,
    )


async def _sscc(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    e = SsccRangeAllocated.model_validate(recorded.payload)
    await conn.execute(
        f"INSERT INTO {schema}.sscc_requests VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        e.request_id,
        e.company_prefix,
        e.extension_digit,
        e.first_reference,
        e.quantity,
        _who(recorded),
        recorded.recorded_at,
        recorded.global_position,
    )


async def _replaced(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    e = SerialReplaced.model_validate(recorded.payload)
    await conn.execute(
        f"INSERT INTO {schema}.replacements VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        e.gtin,
        e.serial,
        e.replacement_serial,
        e.exception_id,
        e.line_id,
        e.event_time,
        recorded.recorded_at,
        _who(recorded),
    )


_HANDLERS = {
    SerialsAllocated.EVENT_TYPE: _allocated,
    SerialsImported.EVENT_TYPE: _imported,
    SsccRangeAllocated.EVENT_TYPE: _sscc,
    SerialReplaced.EVENT_TYPE: _replaced,
}
