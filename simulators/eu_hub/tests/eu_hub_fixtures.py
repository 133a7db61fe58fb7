"""One simulator per test module (a real subprocess), a client for it, and fixtures that put the
module's shared simulator back as they found it (clock, scripted faults)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from eu_hub_simulator.testing import RunningSimulator, running_simulator


@pytest.fixture(scope="module")
async def hub(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSimulator]:
    data_dir: Path = tmp_path_factory.mktemp("eu-hub")
    async with running_simulator(data_dir) as running:
        yield running


@pytest.fixture
async def client(hub: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    # Per test: a restart or kill in one test leaves no stale pooled connection to the next.
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers, timeout=30.0) as client:
        yield client


@pytest.fixture
async def clock(hub: RunningSimulator) -> AsyncIterator[RunningSimulator]:
    """The simulator, its clock put back to now after the test."""
    yield hub
    await hub.clock(0)


@pytest.fixture
async def faults(hub: RunningSimulator) -> AsyncIterator[RunningSimulator]:
    """The simulator, every scripted answer the test left unused cleared after it."""
    yield hub
    await hub.clear_faults()
