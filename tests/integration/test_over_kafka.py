"""Distributed mode's transport in one process: serial issuance's relay publishes its log to
its topic, aggregation reads it through a consumer group, on a real Kafka-protocol broker.
Nothing in either service's code changes; only settings do."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from issuance_helpers import GTIN, LOT, batch, commission, product, serials
from serialtrail.services import BUILDERS
from serialtrail_contracts import topics
from serialtrail_kit.settings import Settings
from serialtrail_kit.testing.harness import make_settings, serve
from serialtrail_kit.transport.topics import MissingTopics, create_topics, with_dead_letters


async def until_known(client: httpx.AsyncClient, report_url: str, commissioned: int) -> None:
    """Aggregation learns of commissioning through the broker: poll its report until it has."""
    async with asyncio.timeout(60):
        while True:
            answer = await client.get(report_url)
            if answer.status_code == 200 and answer.json()["commissioned"] >= commissioned:
                return
            await asyncio.sleep(0.1)


def kafka_settings(bootstrap: str, prefix: str) -> Settings:
    return make_settings(
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_prefix=prefix,
        kafka_session_timeout_ms=3000,
        kafka_fetch_max_wait_ms=50,
    )


async def test_commissioned_serials_reach_aggregation_over_kafka(database_dsn: str, kafka_bootstrap: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(kafka_bootstrap, with_dead_letters(prefix + t for t in topics.ALL), partitions=3)
    async with serve(database_dsn, BUILDERS, kafka_settings(kafka_bootstrap, prefix)) as harness:
        client = harness.client
        await product(client)
        await batch(client)
        issued = await serials(client, 3)
        assert (await commission(client, issued)).status_code == 201
        report_url = f"/v1/batches/{GTIN}/{LOT}/aggregation-report"
        await until_known(client, report_url, 3)
        case = "https://id.gs1.org/00/095060000000000015"
        packed = await client.post(
            "/v1/pack",
            json={
                "parent": case,
                "packaging_level": "case",
                "children": [f"(01){GTIN}(21){s}" for s in issued],
                "line_id": "LINE-1",
                "event_time": "2026-11-22T09:00:00Z",
            },
        )
        assert packed.status_code == 201, packed.text
        assert packed.json()["pending_children"] == []

        # Aggregation's own relay published the pack on its topic, envelope and all.
        consumer = AIOKafkaConsumer(
            prefix + topics.AGGREGATION,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), 30)
        finally:
            await consumer.stop()
        body = orjson.loads(message.value)
        assert message.key == f"parent-{case}".encode()
        assert dict(message.headers)["event_type"] == b"aggregation.ChildrenPacked"
        assert (body["producer"], body["payload"]["parent_id"]) == ("aggregation", case)


async def test_a_missing_topic_stops_the_start_and_is_named(database_dsn: str, kafka_bootstrap: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(kafka_bootstrap, [prefix + topics.SERIALS], partitions=1)  # not the others
    with pytest.raises(MissingTopics) as refused:
        async with serve(database_dsn, BUILDERS, kafka_settings(kafka_bootstrap, prefix)):
            pass
    assert prefix + topics.AGGREGATION in refused.value.missing
    assert prefix + topics.SERIALS + ".dlq" in refused.value.missing
    assert prefix + topics.SERIALS not in refused.value.missing


async def test_readiness_shows_relay_and_consumer_lag(database_dsn: str, kafka_bootstrap: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(kafka_bootstrap, with_dead_letters(prefix + t for t in topics.ALL), partitions=3)
    async with serve(database_dsn, BUILDERS, kafka_settings(kafka_bootstrap, prefix)) as harness:
        await product(harness.client)
        answer = (await harness.client.get("/health/ready")).json()
        assert set(answer["relays"]) == {"serial_issuance", "aggregation"}
        assert all(isinstance(r["lag"], int) and r["lag"] >= 0 for r in answer["relays"].values())
        assert "aggregation.knowledge" in answer["projections"]
