from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aggregation import bootstrap
from serialtrail_contracts import topics
from serialtrail_kit.db import APP_ROLE
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.testing.harness import Harness, make_settings, serve
from serialtrail_kit.transport.relay import Relay
from serialtrail_kit.transport.topics import create_topics, with_dead_letters

# The services whose events aggregation reads; the tests write their logs as they would.
PRODUCERS = {"serial_issuance": topics.SERIALS, "line_exceptions": topics.EXCEPTIONS}


@pytest.fixture(params=["embedded", "kafka"])
async def aggregation(request: pytest.FixtureRequest, database_dsn: str) -> AsyncIterator[Harness]:
    """Aggregation alone: what serial issuance (and line exceptions) publish is written to their
    logs by the test, exactly as the producers would, so every arrival order can be staged.
    Embedded: aggregation reads those logs directly. Kafka: the producers' relays publish them
    to their topics (one partition, so the order staged is the order delivered) and aggregation
    reads them through its consumer groups, as in distributed mode."""
    if request.param == "embedded":
        async with serve(database_dsn, {bootstrap.NAME: bootstrap.build}) as harness:
            yield harness
        return
    bootstrap_servers: str = request.getfixturevalue("kafka_bootstrap")
    prefix = f"a{uuid.uuid4().hex[:8]}."
    await create_topics(bootstrap_servers, with_dead_letters(prefix + t for t in topics.ALL), partitions=1)
    settings = make_settings(
        kafka_bootstrap_servers=bootstrap_servers,
        kafka_topic_prefix=prefix,
        kafka_session_timeout_ms=3000,
        kafka_fetch_max_wait_ms=50,
    )
    async with serve(database_dsn, {bootstrap.NAME: bootstrap.build}, settings) as harness:
        async with harness.composition.admin_pool.acquire() as conn:
            for producer in PRODUCERS:
                await install_log(conn, producer, APP_ROLE)
        relays = [
            Relay(harness.composition.app_pool, producer, prefix + topic, bootstrap_servers, poll_interval=0.1)
            for producer, topic in PRODUCERS.items()
        ]
        tasks = [asyncio.create_task(relay.run()) for relay in relays]
        try:
            yield harness
        finally:
            for relay in relays:
                relay.stop()
            await asyncio.wait(tasks, timeout=10)
