"""kill -9 at an arbitrary moment: no acknowledged write lost, no half-applied batch."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import sys
from pathlib import Path

import pytest
from serial_issuance.settings import SerialIssuanceSettings
from serialtrail.services import SERVICES
from serialtrail_kit.db import connect, create_pool
from serialtrail_kit.eventstore.verify import verify_log
from serialtrail_kit.testing.harness import serve

WORKER = Path(__file__).with_name("crash_worker.py")


async def run_until_killed(dsn: str, key: str, acks_before_kill: int) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKER.parent), *sys.path])}
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), dsn, key, stdout=asyncio.subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    acknowledged: list[str] = []
    try:
        while len(acknowledged) < acks_before_kill:
            line = await asyncio.wait_for(child.stdout.readline(), 120)
            assert line, "worker ended before it was killed"
            acknowledged.append(line.decode().strip())
        await asyncio.sleep(random.uniform(0, 0.08))  # land somewhere inside the next append
    finally:
        child.send_signal(signal.SIGKILL)
        rest, _ = await child.communicate()
    # Anything printed before death was acknowledged too.
    acknowledged += [line for line in rest.decode().split() if line]
    return acknowledged


@pytest.mark.parametrize("acks_before_kill", [3, 7, 11])
async def test_kill_9_loses_nothing_acknowledged_and_applies_nothing_by_halves(
    database_dsn: str, acks_before_kill: int
) -> None:
    key = secrets.token_hex(32)
    acknowledged = await run_until_killed(database_dsn, key, acks_before_kill)
    conn = await connect(database_dsn)
    try:
        recorded = await conn.fetch(
            "SELECT payload FROM serial_issuance.events WHERE event_type = 'serials.SerialsCommissioned'"
        )
        recorded_ids = {r["payload"]["commissioning_id"] for r in recorded} if recorded else set()
        assert set(acknowledged) <= recorded_ids
        in_events = sum(len(r["payload"]["serials"]) for r in recorded)
        in_registry = await conn.fetchval(
            "SELECT coalesce(sum(bit_count(bits)), 0) FROM serial_issuance.commissioned_counters"
        )
        assert in_registry == in_events == 500 * len(recorded_ids)
    finally:
        await conn.close()
    pool = await create_pool(database_dsn, max_size=2)
    try:
        assert (await verify_log(pool, "serial_issuance")).ok
    finally:
        await pool.close()
    async with serve(
        database_dsn, SERVICES, own_settings={"serial_issuance": SerialIssuanceSettings(serial_key=key)}
    ) as restarted:
        runner = restarted.runner("serial_issuance", "serial_status")
        await runner.caught_up(timeout=60)
        summary = (await restarted.client.get("/v1/batches/09506000134352/L2026A/serial-summary")).json()
        assert summary["commissioned"] == in_events
