from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from eu_hub_simulator.testing import RunningSimulator as Simulator
from eu_hub_simulator.testing import running_simulator
from fmd_hub import bootstrap
from fmd_hub.settings import FmdHubSettings
from pydantic import SecretStr
from serialtrail_kit.testing.harness import Harness
from serialtrail_kit.testing.kafka import serve_alone
from serialtrail_kit.testing.outbound import fast_settings

# The services whose events the hub service reads; the tests write their logs as they would.
PRODUCERS = ("serial_issuance", "line_exceptions")
NOWHERE = "http://127.0.0.1:9"  # no hub answers here: what is sent waits, retried


@pytest.fixture(params=["embedded", "kafka"])
async def fmd(request: pytest.FixtureRequest, database_dsn: str) -> AsyncIterator[Harness]:
    """The hub service alone, its hub unreachable: what it decides and records, before any answer."""
    servers = request.getfixturevalue("kafka_bootstrap") if request.param == "kafka" else ""
    own = FmdHubSettings.for_tests().model_copy(update={"hub_url": NOWHERE, "hub": fast_settings(max_attempts=1000)})
    async with serve_alone(request.param, database_dsn, bootstrap.SERVICE, PRODUCERS, servers, own) as harness:
        yield harness


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Simulator]:
    """The EU hub simulator, its own process, its data under the test's directory."""
    async with running_simulator(tmp_path / "hub") as simulator:
        yield simulator


def hub_settings(simulator: Simulator, **changes: Any) -> FmdHubSettings:
    """Chunks of 10 serials, retries in milliseconds: a test sees every path quickly."""
    return FmdHubSettings(
        hub_url=simulator.url,
        hub_token=SecretStr(simulator.token),
        chunk_size=10,
        hub=fast_settings(**changes),
        alerts_every_seconds=0.2,
    )


@pytest.fixture(params=["embedded", "kafka"])
async def fmd_and_hub(
    request: pytest.FixtureRequest, database_dsn: str, hub: Simulator
) -> AsyncIterator[tuple[Harness, Simulator]]:
    servers = request.getfixturevalue("kafka_bootstrap") if request.param == "kafka" else ""
    own = hub_settings(hub)
    async with serve_alone(request.param, database_dsn, bootstrap.SERVICE, PRODUCERS, servers, own) as harness:
        yield harness, hub
