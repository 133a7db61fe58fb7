from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aggregation import bootstrap
from serialtrail_kit.testing.harness import Harness
from serialtrail_kit.testing.kafka import serve_alone

# The services whose events aggregation reads (EPCIS reporting: the packing it captures); the
# tests write their logs as they would.
PRODUCERS = ("serial_issuance", "line_exceptions", "epcis_reporting")


@pytest.fixture(params=["embedded", "kafka"])
async def aggregation(request: pytest.FixtureRequest, database_dsn: str) -> AsyncIterator[Harness]:
    """Aggregation alone: what serial issuance (and line exceptions) publish is written to their
    logs by the test, exactly as the producers would (`serve_alone`)."""
    servers = request.getfixturevalue("kafka_bootstrap") if request.param == "kafka" else ""
    async with serve_alone(request.param, database_dsn, bootstrap.SERVICE, PRODUCERS, servers) as harness:
        yield harness
