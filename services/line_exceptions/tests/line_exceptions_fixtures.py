from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from line_exceptions import bootstrap
from serialtrail_kit.testing.harness import Harness
from serialtrail_kit.testing.kafka import serve_alone

# The services whose events line exceptions reads (EPCIS reporting: the decommissioning,
# destroying and sampling it captures); the tests write their logs as they would.
PRODUCERS = ("serial_issuance", "aggregation", "epcis_reporting")


@pytest.fixture(params=["embedded", "kafka"])
async def exceptions(request: pytest.FixtureRequest, database_dsn: str) -> AsyncIterator[Harness]:
    """Line exceptions alone: what serial issuance and aggregation publish is written to their
    logs by the test, exactly as they would (`serve_alone`)."""
    servers = request.getfixturevalue("kafka_bootstrap") if request.param == "kafka" else ""
    async with serve_alone(request.param, database_dsn, bootstrap.SERVICE, PRODUCERS, servers) as harness:
        yield harness
