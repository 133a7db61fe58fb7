from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from line_exceptions import bootstrap
from serialtrail_kit.testing.harness import Harness
from serialtrail_kit.testing.kafka import serve_alone

# The service whose events line exceptions reads; the tests write its log as it would.
PRODUCERS = ("serial_issuance",)


@pytest.fixture(params=["embedded", "kafka"])
async def exceptions(request: pytest.FixtureRequest, database_dsn: str) -> AsyncIterator[Harness]:
    """Line exceptions alone: what serial issuance publishes is written to its log by the test,
    exactly as serial issuance would (`serve_alone`)."""
    servers = request.getfixturevalue("kafka_bootstrap") if request.param == "kafka" else ""
    async with serve_alone(request.param, database_dsn, bootstrap.SERVICE, PRODUCERS, servers) as harness:
        yield harness
