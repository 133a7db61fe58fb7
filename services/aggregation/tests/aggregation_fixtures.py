from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aggregation import bootstrap
from serialtrail_kit.db import APP_ROLE
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.testing.harness import Harness, serve
from serialtrail_kit.testing.kafka import fresh_topics, kafka_settings
from serialtrail_kit.transport.wiring import KafkaTransport

# The services whose events aggregation reads; the tests write their logs as they would.
PRODUCERS = ("serial_issuance", "line_exceptions")


@pytest.fixture(params=["embedded", "kafka"])
async def aggregation(request: pytest.FixtureRequest, database_dsn: str) -> AsyncIterator[Harness]:
    """Aggregation alone: what serial issuance (and line exceptions) publish is written to their
    logs by the test, exactly as the producers would, so every arrival order can be staged.
    Embedded: aggregation reads those logs directly. Kafka: the producers' relays publish them
    to their topics (one partition, so the order staged is the order delivered) and aggregation
    reads them through its consumer groups, as in distributed mode."""
    if request.param == "embedded":
        async with serve(database_dsn, [bootstrap.SERVICE]) as harness:
            yield harness
        return
    bootstrap_servers: str = request.getfixturevalue("kafka_bootstrap")
    prefix = await fresh_topics(bootstrap_servers, partitions=1)
    settings = kafka_settings(bootstrap_servers, prefix)
    async with serve(database_dsn, [bootstrap.SERVICE], settings) as harness:
        async with harness.composition.admin_pool.acquire() as conn:
            for producer in PRODUCERS:
                await install_log(conn, producer, APP_ROLE)
        transport = KafkaTransport(bootstrap_servers, prefix=prefix)  # as the producers' processes would
        relays = [transport.relay(harness.composition.app_pool, producer, 0.1) for producer in PRODUCERS]
        tasks = [asyncio.create_task(relay.run()) for relay in relays]
        try:
            yield harness
        finally:
            for relay in relays:
                relay.stop()
            await asyncio.wait(tasks, timeout=10)
