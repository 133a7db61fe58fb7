"""How soon a revoked key is refused by another service, in distributed mode: identity and
aggregation as separate processes (`serialtrail serve`) on PostgreSQL and a Kafka-protocol
broker. A key is revoked at identity; aggregation, which authenticates against its own copy of
the keys fed by identity's topic, is asked with that key every 5 ms until it answers 401."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from serialtrail.served import distributed_env, stopped
from serialtrail_kit.pgserver import EmbeddedPostgres, free_port
from serialtrail_kit.testing.broker import TansuBroker
from serialtrail_kit.testing.kafka import fresh_topics
from serialtrail_kit.testing.waiting import Check, until

from bench.report import emit, peak_rss, watching

SAMPLES = 30
PROBE = (
    "/v1/batches/09506000134352/L1/aggregation-report"  # an aggregation read: 404 (no such batch) while the key holds
)
HELD = {200, 404}


def _serve(service: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "serialtrail", "serve", service, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


async def _seconds_until(check: Check, interval: float = 0.005) -> float:
    started = time.perf_counter()
    await until(check, timeout=120, interval=interval)
    return time.perf_counter() - started


async def _measure(identity: str, aggregation: str, admin: str) -> list[float]:
    async with httpx.AsyncClient(timeout=10) as client:

        async def status(base: str, path: str, token: str) -> int:
            try:
                return (await client.get(base + path, headers={"Authorization": f"Bearer {token}"})).status_code
            except httpx.HTTPError:
                return 0

        async def admin_works() -> bool:
            return await status(aggregation, PROBE, admin) in HELD

        await _seconds_until(admin_works, interval=0.2)
        delays = []
        for sample in range(SAMPLES):
            created = await client.post(
                identity + "/v1/api-keys",
                json={"name": f"revocation {sample}", "role": "auditor"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            created.raise_for_status()
            key_id, token = created.json()["key_id"], created.json()["token"]

            async def accepted(token: str = token) -> bool:
                return await status(aggregation, PROBE, token) in HELD

            await _seconds_until(accepted)
            revoked = await client.post(
                f"{identity}/v1/api-keys/{key_id}/revoke",
                json={"reason": "revocation benchmark"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            revoked.raise_for_status()

            async def refused(token: str = token) -> bool:
                return await status(aggregation, PROBE, token) == 401

            delays.append(await _seconds_until(refused) * 1000)
        return delays


def revocation_benchmark() -> None:
    with tempfile.TemporaryDirectory(prefix="serialtrail-bench-") as tmp:
        os.chmod(tmp, 0o755)
        with EmbeddedPostgres(Path(tmp), durable=True) as server, TansuBroker(Path(tmp) / "tansu.log") as broker:
            prefix = asyncio.run(fresh_topics(broker.bootstrap_servers))
            env = distributed_env(server.dsn, broker.bootstrap_servers, prefix)
            created = subprocess.run(
                [sys.executable, "-m", "serialtrail", "keys", "create", "--name", "bench admin", "--role", "admin"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            admin = created.stdout.split("token (shown once): ")[1].strip()
            processes = [_serve(name, env, Path(tmp) / f"{name}.log") for name in ("identity", "aggregation")]
            try:
                with watching(processes[1][0].pid, "the aggregation service that refuses (serialtrail serve)"):
                    delays = asyncio.run(_measure(processes[0][1], processes[1][1], admin))
                    memory = peak_rss()
            finally:
                for process, _ in processes:
                    stopped(process, 30)
    emit(
        "revocation at identity -> refused by another service (aggregation) over Kafka",
        delays,
        "ms",
        "report (stated bound: every sample <= 1,000 ms)",
        max_ms=round(max(delays), 1),
        samples=len(delays),
        **memory,
    )
