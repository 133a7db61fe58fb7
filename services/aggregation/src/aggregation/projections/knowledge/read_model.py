"""What aggregation knows of serial issuance, learnt only from its `serials` events:
products, batches (with their CMO), registered lines, commissioned SGTINs and allocated
SSCC ranges.
Packing consults it to tell confirmed links from pending ones; queries join it to
derive each link's status, so the outcome never depends on which arrived first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from serialtrail_contracts import serials
from serialtrail_contracts.serials import (
    BatchRegistered,
    LineRegistered,
    ProductRegistered,
    SerialsCommissioned,
    SsccRangeAllocated,
)
from serialtrail_gs1.identity import sgtin_digital_link
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.readers.copying import copied_or_inserted, copy_text, grouped_lines

SOURCE = "serial_issuance"


class KnowledgeProjection:
    name = "knowledge"
    source = SOURCE
    tables: tuple[str, ...] = (
        "known_products",
        "known_batches",
        "known_lines",
        "commissioned",
        "commissionings",
        "sscc_ranges",
    )
    # Read from the log, the rest of serial issuance's events come without their payload.
    event_types = tuple(
        e.EVENT_TYPE
        for e in (ProductRegistered, BatchRegistered, LineRegistered, SerialsCommissioned, SsccRangeAllocated)
    )
    reads_metadata = False  # what it keeps comes from payloads and positions alone

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.known_products (
            gtin text PRIMARY KEY, company_prefix_length int NOT NULL, name text NOT NULL
        );
        CREATE TABLE {schema}.known_batches (
            gtin text NOT NULL, lot text NOT NULL, expiry date NOT NULL, cmo_id text, PRIMARY KEY (gtin, lot)
        );
        CREATE TABLE {schema}.known_lines (
            line_id text PRIMARY KEY, read_point text NOT NULL UNIQUE, biz_location text NOT NULL,
            site_gln text NOT NULL, cmo_id text
        );
        CREATE TABLE {schema}.commissioned (
            object_id text PRIMARY KEY, gtin text NOT NULL, lot text NOT NULL, cmo_id text,
            global_position bigint NOT NULL, commissioned_at timestamptz NOT NULL
        );
        CREATE INDEX ON {schema}.commissioned (gtin, lot);
        -- The line of each commissioning event (one row per event, not per serial): a hold of a
        -- line's output in a time window holds the units commissioned on it then, whenever the
        -- line's data arrives.
        CREATE TABLE {schema}.commissionings (global_position bigint PRIMARY KEY, line_id text NOT NULL);
        CREATE TABLE {schema}.sscc_ranges (
            extension_digit int NOT NULL, company_prefix text NOT NULL, first_reference bigint NOT NULL,
            quantity int NOT NULL, PRIMARY KEY (extension_digit, company_prefix, first_reference)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        commissionings: list[_Commissioning] = []
        for recorded in events:
            if recorded.event_type == _COMMISSIONED[0] and recorded.event_version == _COMMISSIONED[1]:
                commissionings.append(_commissioning(recorded))
                continue
            event = codec.decode(serials.EVENTS, recorded)
            if event is not None:
                await _apply_master_data(conn, schema, event)
        if commissionings:
            await _commissioned(conn, schema, commissionings)


_COMMISSIONED = (SerialsCommissioned.EVENT_TYPE, SerialsCommissioned.EVENT_VERSION)
assert serials.EVENTS[_COMMISSIONED] is SerialsCommissioned


class _Commissioning(NamedTuple):
    """What the read model keeps of a `SerialsCommissioned`, read from its payload as recorded
    (validated when it was appended; the thousands of serials of one are not parsed again)."""

    gtin: str
    lot: str
    position: int
    line_id: str
    at: str  # event_time as recorded (ISO 8601)
    objects: list[str]


def _commissioning(recorded: RecordedEvent) -> _Commissioning:
    p = recorded.payload
    gtin = p["gtin"]
    objects = [sgtin_digital_link(gtin, s) for s in p["serials"]]
    return _Commissioning(gtin, p["lot"], recorded.global_position, p["line_id"], p["event_time"], objects)


async def _commissioned(conn: Connection, schema: str, commissionings: list[_Commissioning]) -> None:
    """Commissioning is recorded at most once per serial upstream: the rows are copied in, or
    inserted with ON CONFLICT DO NOTHING where one is there already (see `copying`)."""
    await copied_or_inserted(
        conn, lambda: _copied(conn, schema, commissionings), lambda: _inserted(conn, schema, commissionings)
    )


async def _copied(conn: Connection, schema: str, commissionings: list[_Commissioning]) -> None:
    """The batch's CMO copied in (and filled in when the batch arrives later, as it can over
    Kafka) so scope checks need no join."""
    cmo = {
        (row["gtin"], row["lot"]): row["cmo_id"]
        for row in await conn.fetch(
            f"SELECT b.gtin, b.lot, b.cmo_id FROM {schema}.known_batches b "
            "JOIN unnest($1::text[], $2::text[]) AS k(gtin, lot) ON b.gtin = k.gtin AND b.lot = k.lot",
            *(list(column) for column in zip(*{c[:2] for c in commissionings}, strict=True)),
        )
    }
    commissioned, events = _lines(commissionings, cmo)
    columns = ("object_id", "gtin", "lot", "cmo_id", "global_position", "commissioned_at")
    await copy_text(conn, schema, "commissioned", columns, commissioned)
    await copy_text(conn, schema, "commissionings", ("global_position", "line_id"), events)


def _lines(commissionings: list[_Commissioning], cmo: dict[tuple[str, str], str | None]) -> tuple[str, str]:
    """The batch's rows of `commissioned` and of `commissionings` in COPY's text form (each
    commissioning unpacked once: a replay makes one per event)."""
    groups, events = [], []
    for gtin, lot, position, line_id, at, objects in commissionings:
        text_position = str(position)
        groups.append((objects, (gtin, lot, cmo.get((gtin, lot)), text_position, at)))
        events.append(([text_position], (line_id,)))
    return grouped_lines(groups), grouped_lines(events)


async def _inserted(conn: Connection, schema: str, commissionings: list[_Commissioning]) -> None:
    """One JSON record per event, its objects expanded by PostgreSQL: what the serials of an
    event share is sent and parsed once, not once per serial. ON CONFLICT keeps a replay of the
    same events idempotent; the rows go in in log order, so that of a serial commissioned twice
    the first commissioning stays, as it does when the two come in separate batches (in join
    order, a replay could keep the second)."""
    await conn.execute(
        f"INSERT INTO {schema}.commissioned (object_id, gtin, lot, cmo_id, global_position, commissioned_at) "
        "SELECT o.object_id, e.gtin, e.lot, b.cmo_id, e.position, e.at "
        "FROM json_to_recordset($1::json) "
        "AS e(gtin text, lot text, position bigint, at timestamptz, objects json) "
        "CROSS JOIN LATERAL json_array_elements_text(e.objects) WITH ORDINALITY AS o(object_id, n) "
        f"LEFT JOIN {schema}.known_batches b ON b.gtin = e.gtin AND b.lot = e.lot "
        "ORDER BY e.position, o.n ON CONFLICT DO NOTHING",
        json_list(
            [
                {"gtin": c.gtin, "lot": c.lot, "position": c.position, "at": c.at, "objects": c.objects}
                for c in commissionings
            ]
        ),
    )
    await conn.execute(
        f"INSERT INTO {schema}.commissionings SELECT position, line_id "
        "FROM json_to_recordset($1::json) AS e(position bigint, line_id text) ON CONFLICT DO NOTHING",
        json_list([{"position": c.position, "line_id": c.line_id} for c in commissionings]),
    )


async def _apply_master_data(conn: Connection, schema: str, event: object) -> None:
    if isinstance(event, ProductRegistered):
        await conn.execute(
            f"INSERT INTO {schema}.known_products VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            event.gtin,
            event.company_prefix_length,
            event.name,
        )
    elif isinstance(event, BatchRegistered):
        await conn.execute(
            f"INSERT INTO {schema}.known_batches VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            event.gtin,
            event.lot,
            event.expiry,
            event.cmo_id,
        )
        # Over a partitioned topic a batch's commissionings may arrive before the batch itself.
        await conn.execute(
            f"UPDATE {schema}.commissioned SET cmo_id = $3 WHERE gtin = $1 AND lot = $2 AND cmo_id IS DISTINCT FROM $3",
            event.gtin,
            event.lot,
            event.cmo_id,
        )
    elif isinstance(event, LineRegistered):
        await conn.execute(
            f"INSERT INTO {schema}.known_lines VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            event.line_id,
            event.read_point,
            event.biz_location,
            event.site_gln,
            event.cmo_id,
        )
    elif isinstance(event, SsccRangeAllocated):
        await conn.execute(
            f"INSERT INTO {schema}.sscc_ranges VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            event.extension_digit,
            event.company_prefix,
            event.first_reference,
            event.quantity,
        )
