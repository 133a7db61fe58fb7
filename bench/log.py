"""Appending to the event log and verifying its hash chain."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from serialtrail_kit.db import APP_ROLE, create_pool
from serialtrail_kit.eventstore.model import NewEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.eventstore.verify import verify_log
from serialtrail_kit.pgserver import EmbeddedPostgres
from serialtrail_kit.testing.harness import SYSTEM

from bench.report import emit


async def _append_and_verify(dsn: str, schema: str, appends: int, per_append: int, writers: int) -> tuple[float, float]:
    admin = await create_pool(dsn)
    async with admin.acquire() as conn:
        await install_log(conn, schema)
    pool = await create_pool(dsn, role=APP_ROLE, max_size=writers + 2)
    store = PostgresEventStore(pool, schema)

    async def writer(w: int) -> None:
        for i in range(appends // writers):
            events = tuple(
                NewEvent(event_type="bench.Thing", event_version=1, payload={"w": w, "i": i, "n": n, "s": "x" * 40})
                for n in range(per_append)
            )
            await store.append([StreamAppend(stream_id=f"s-{w}-{i}", expected_version=0, events=events)], SYSTEM)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    append_rate = appends * per_append / (time.perf_counter() - started)
    started = time.perf_counter()
    report = await verify_log(pool, schema)
    verify_rate = report.checked / (time.perf_counter() - started)
    assert report.ok
    await pool.close()
    await admin.close()
    return append_rate, verify_rate


def log_throughput() -> None:
    with tempfile.TemporaryDirectory(prefix="serialtrail-bench-") as tmp:
        os.chmod(tmp, 0o755)
        with EmbeddedPostgres(Path(tmp), durable=True) as server:
            for label, appends, per_append, writers in (
                ("1 event per append, 8 writers", 5_000, 1, 8),
                ("100 events per append, 4 writers", 200, 100, 4),
            ):
                results = [
                    asyncio.run(
                        _append_and_verify(server.dsn, f"bench_{run}_{per_append}", appends, per_append, writers)
                    )
                    for run in range(3)
                ]
                emit(f"log append ({label})", [r[0] for r in results], "events/s", "report")
                emit(f"log verify ({label})", [r[1] for r in results], "events/s", ">= 300,000 events/s")
