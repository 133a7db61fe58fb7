"""Distributed mode's transport in one process: serial issuance's relay publishes its log to
its topic, aggregation reads it through a consumer group, on a real Kafka-protocol broker.
Nothing in either service's code changes; only settings do."""

from __future__ import annotations

import uuid

import orjson
import pytest
from aggregation_helpers import once_line_known, pack_body, until_known
from issuance_helpers import GTIN, LOT, batch, commission, product, serials, site
from serialtrail.services import SERVICES
from serialtrail_contracts import topics
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import serve
from serialtrail_kit.testing.kafka import first_message, fresh_topics, kafka_settings
from serialtrail_kit.testing.waiting import until
from serialtrail_kit.transport.topics import MissingTopics, create_topics


async def test_commissioned_serials_reach_aggregation_over_kafka(database_dsn: str, kafka_bootstrap: str) -> None:
    prefix = await fresh_topics(kafka_bootstrap)
    async with serve(database_dsn, SERVICES, kafka_settings(kafka_bootstrap, prefix)) as harness:
        client = harness.client
        await product(client)
        await batch(client)
        await site(client)
        issued = await serials(client, 3)
        assert (await commission(client, issued)).status_code == 201
        report_url = f"/v1/batches/{GTIN}/{LOT}/aggregation-report"
        await until_known(client, report_url, 3)
        case = "https://id.gs1.org/00/095060000000000015"
        # The line's registration travels on its own partition: it may arrive after the units.
        packed = await once_line_known(
            client, "/v1/pack", pack_body(case, [f"(01){GTIN}(21){s}" for s in issued], event_time=moment())
        )
        assert packed.status_code == 201, packed.text
        assert packed.json()["pending_children"] == []

        # Aggregation's own relay published the pack on its topic, envelope and all.
        message = await first_message(kafka_bootstrap, prefix + topics.AGGREGATION)
        body = orjson.loads(message.value)
        assert message.key == f"parent-{case}".encode()
        assert dict(message.headers)["event_type"] == b"aggregation.ChildrenPacked"
        assert (body["producer"], body["payload"]["parent_id"]) == ("aggregation", case)


async def test_a_missing_topic_stops_the_start_and_is_named(database_dsn: str, kafka_bootstrap: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(kafka_bootstrap, [prefix + topics.SERIALS], partitions=1)  # not the others
    with pytest.raises(MissingTopics) as refused:
        async with serve(database_dsn, SERVICES, kafka_settings(kafka_bootstrap, prefix)):
            pass
    assert prefix + topics.AGGREGATION in refused.value.missing
    assert prefix + topics.SERIALS + ".dlq" in refused.value.missing
    assert prefix + topics.SERIALS not in refused.value.missing


async def test_readiness_shows_relay_and_consumer_lag(database_dsn: str, kafka_bootstrap: str) -> None:
    prefix = await fresh_topics(kafka_bootstrap)
    async with serve(database_dsn, SERVICES, kafka_settings(kafka_bootstrap, prefix)) as harness:
        await product(harness.client)
        answer = (await harness.client.get("/health/ready")).json()
        assert set(answer["relays"]) == {service.name for service in SERVICES}
        assert all(isinstance(r["lag"], int) and r["lag"] >= 0 for r in answer["relays"].values())
        assert "aggregation.knowledge" in answer["projections"]


async def test_keys_and_revocations_reach_every_services_own_copy(database_dsn: str, kafka_bootstrap: str) -> None:
    """Each service authenticates against its own read model of identity's events, fed from
    identity's topic in distributed mode: a key and then its revocation arrive in each copy."""
    prefix = await fresh_topics(kafka_bootstrap)
    async with serve(database_dsn, SERVICES, kafka_settings(kafka_bootstrap, prefix)) as harness:
        created = await harness.client.post("/v1/api-keys", json={"name": "travelling", "role": "auditor"})
        key_id = created.json()["key_id"]
        revoked = await harness.client.post(f"/v1/api-keys/{key_id}/revoke", json={"reason": "left the company"})
        assert revoked.status_code == 200

        async def revoked_everywhere() -> bool:
            async with harness.composition.app_pool.acquire() as conn:
                copies = [
                    await conn.fetchval(
                        f"SELECT revoked_at FROM {service}_rm.api_key_revocations WHERE key_id = $1", key_id
                    )
                    for service in ("identity", "serial_issuance", "aggregation")
                ]
            return all(c is not None for c in copies)

        await until(revoked_everywhere)
