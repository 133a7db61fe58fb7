"""Replay of a read model (issue 16): `serialtrail replay <service>.<read model>` rebuilds a read model
from its source log into a new generation; figure: events folded per second.

The read model: aggregation's knowledge of serial issuance (`aggregation.knowledge`), the read model
packing consults for every child it is sent, fed by serial issuance's log. Staged (untimed), on an
embedded PostgreSQL (durable, as `make run` starts it): a product, a batch and a line, then `EVENTS`
`SerialsCommissioned` events of one serial each, each on its own stream (what an EPCIS capture of
one-EPC commissioning ObjectEvents records, the most events per serial a line can send), appended to
serial issuance's log in appends of `PER_APPEND` as the service would (hash chain and all). Timed, per
run: `ProjectionAdmin.replay` (what `serialtrail replay aggregation.knowledge` runs) from the creation
of the new generation until its views are switched and the previous generation dropped. Then checked:
the new generation holds one commissioned row per event.

BENCH_REPLAY_EVENTS (default 500,000) scales it down to check the script; `python -m bench.replay`
runs it alone (also `python -m bench replay`)."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from aggregation.projections.knowledge.read_model import KnowledgeProjection
from serialtrail_contracts.serials import BatchRegistered, LineRegistered, ProductRegistered, SerialsCommissioned
from serialtrail_kit.db import APP_ROLE, Pool, create_pool, ident
from serialtrail_kit.eventstore.codec import append_of, to_new
from serialtrail_kit.eventstore.metadata import local_metadata
from serialtrail_kit.eventstore.model import NewEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.pgserver import EmbeddedPostgres
from serialtrail_kit.readers.projection import ProjectionAdmin

from bench.report import emit

EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "500000"))
RUNS = 3
PER_APPEND = 5_000  # events per append while staging
SOURCE, OWNER = "serial_issuance", "aggregation"
TARGET = ">= 100,000 events/s"

GTIN = "09506000134352"
LOT = "R1"
SITE_GLN = "9506000000008"
READ_POINT = "urn:epc:id:sgln:9506000.00000.L1"
BIZ_LOCATION = "urn:epc:id:sgln:9506000.00000.0"
META = local_metadata(
    principal_id="bench:replay",
    role="system",
    auth_method="local",
    software_version="bench",
    config_digest="sha256:bench-replay",
    reason="bench replay: what serial issuance records",
)


def _master_data() -> list[StreamAppend]:
    product = ProductRegistered(
        gtin=GTIN, company_prefix_length=7, name="bench", serial_length=12, serial_alphabet="alphanumeric"
    )
    batch = BatchRegistered(gtin=GTIN, lot=LOT, expiry=date(2030, 12, 31), site_gln=SITE_GLN)
    line = LineRegistered(
        line_id="L1", name="bench line", site_gln=SITE_GLN, read_point=READ_POINT, biz_location=BIZ_LOCATION
    )
    return [append_of(f"bench-master-{n}", 0, [event]) for n, event in enumerate((product, batch, line))]


def _commissioning(n: int) -> StreamAppend:
    """One serial commissioned: the payload as the contract dumps it (built once, the serial and
    the commissioning varied)."""
    commissioning_id = uuid.UUID(int=n + 1)
    payload = dict(_TEMPLATE, commissioning_id=str(commissioning_id), serials=[f"S{n:011d}"])
    event = NewEvent(
        event_type=SerialsCommissioned.EVENT_TYPE, event_version=SerialsCommissioned.EVENT_VERSION, payload=payload
    )
    return StreamAppend(stream_id=f"commissioning-{commissioning_id}", expected_version=0, events=(event,))


_TEMPLATE = to_new(
    SerialsCommissioned(
        commissioning_id=uuid.UUID(int=0),
        gtin=GTIN,
        lot=LOT,
        expiry=date(2030, 12, 31),
        line_id="L1",
        read_point=READ_POINT,
        biz_location=BIZ_LOCATION,
        event_time=datetime(2026, 11, 22, 7, 0, tzinfo=UTC),
        serials=("S00000000000",),
    )
).payload


async def _stage(admin: Pool, dsn: str, events: int) -> None:
    async with admin.acquire() as conn:
        for schema in (SOURCE, OWNER):
            await install_log(conn, schema, APP_ROLE)
    pool = await create_pool(dsn, role=APP_ROLE, max_size=2)
    try:
        store = PostgresEventStore(pool, SOURCE)
        await store.append(_master_data(), META)
        for first in range(0, events, PER_APPEND):
            await store.append([_commissioning(n) for n in range(first, min(events, first + PER_APPEND))], META)
    finally:
        await pool.close()
    async with admin.acquire() as conn:
        await conn.execute(f"VACUUM ANALYZE {ident(SOURCE)}.events")


async def _replays(dsn: str, events: int) -> list[float]:
    admin = await create_pool(dsn, max_size=2)
    try:
        await _stage(admin, dsn, events)
        projection = KnowledgeProjection()
        projections = ProjectionAdmin(admin, OWNER)
        await projections.ensure(projection)
        runs = []
        for _ in range(RUNS):
            started = time.perf_counter()
            result = await projections.replay(projection)
            runs.append(result.events / (time.perf_counter() - started))
            async with admin.acquire() as conn:
                rows = await conn.fetchval(f"SELECT count(*) FROM {ident(result.active_schema)}.commissioned")
            assert rows == events, (rows, events)
        return runs
    finally:
        await admin.close()


def replay_throughput() -> None:
    with tempfile.TemporaryDirectory(prefix="serialtrail-bench-") as tmp:
        os.chmod(tmp, 0o755)
        with EmbeddedPostgres(Path(tmp), durable=True) as server:
            runs = asyncio.run(_replays(server.dsn, EVENTS))
    emit(
        f"replay aggregation.knowledge from serial issuance's log ({EVENTS:,} one-serial commissionings)",
        runs,
        "events/s",
        TARGET,
        events=EVENTS,
    )


if __name__ == "__main__":
    replay_throughput()
