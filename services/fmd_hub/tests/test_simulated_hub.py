"""`make run` brings the EU hub simulator: the service's worker runs it on the hub URL with the
service's token, keeps its data where it is told, and stops it with the service."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
from fmd_hub.entrypoints.simulator import SimulatedHub, refuse_a_taken_port
from fmd_hub.settings import FmdHubSettings
from pydantic import SecretStr
from serialtrail_kit.testing.waiting import until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_the_simulator_runs_beside_the_service_and_stops_with_it(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = FmdHubSettings(
        hub_url=url, hub_token=SecretStr("a-token-of-this-run"), simulator=True, simulator_data=tmp_path / "hub.sqlite"
    )
    worker = SimulatedHub(settings)
    running = asyncio.create_task(worker.run())
    async with httpx.AsyncClient(base_url=url) as client:

        async def healthy() -> bool:
            try:
                return (await client.get("/health")).status_code == 200
            except httpx.TransportError:
                return False

        await until(healthy, timeout=30)
        refused = await client.get("/v1/alerts", headers={"Authorization": "Bearer another"})
        taken = await client.get("/v1/alerts", headers={"Authorization": "Bearer a-token-of-this-run"})
        assert (refused.status_code, taken.status_code) == (401, 200)
        worker.stop()
        await asyncio.wait_for(running, 15)
        with pytest.raises(httpx.TransportError):
            await client.get("/health")
    assert (tmp_path / "hub.sqlite").exists()


async def test_off_it_runs_nothing_and_production_refuses_it() -> None:
    worker = SimulatedHub(FmdHubSettings(simulator=False))
    running = asyncio.create_task(worker.run())
    worker.stop()
    await asyncio.wait_for(running, 5)
    token = SecretStr("f3a9c1d7e5b2a8c4")
    problems = FmdHubSettings(simulator=True, hub_token=token, hub_url="https://hub.example").production_problems()
    assert problems == ["SERIALTRAIL_FMD_HUB_SIMULATOR must be off in production"]
    plain = FmdHubSettings(hub_token=token).production_problems()  # the default, a local plain-http URL
    assert [p.split(" ")[0] for p in plain] == ["SERIALTRAIL_FMD_HUB_HUB_URL"]


async def test_a_port_taken_by_another_process_is_said_and_nothing_started(tmp_path: Path) -> None:
    other = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = other.sockets[0].getsockname()[1]
    settings = FmdHubSettings(
        hub_url=f"http://127.0.0.1:{port}", simulator=True, simulator_data=tmp_path / "hub.sqlite"
    )
    try:
        with pytest.raises(RuntimeError, match="served by another process"):
            await SimulatedHub(settings).run()
        with pytest.raises(RuntimeError, match="the hub token sent to it"):  # the service does not start
            refuse_a_taken_port(settings)
    finally:
        other.close()
        await other.wait_closed()
    assert not (tmp_path / "hub.sqlite").exists()
