from __future__ import annotations

from issuance_helpers import EXPIRY, GTIN, LOT, batch, commission, product, serials, site
from serialtrail_kit.testing.harness import Harness


async def test_issue_stream_commission_and_query(service: Harness) -> None:
    client = service.client
    await product(client)
    await batch(client)
    await site(client)
    issued = await serials(client, 500)
    assert len(issued) == len(set(issued)) == 500
    assert all(len(s) == 12 and s.isalnum() and s.upper() == s for s in issued)

    response = await commission(client, issued[:300])
    assert response.status_code == 201, response.text
    assert response.json()["commissioned"] == 300

    status = (await client.get(f"/v1/serials/{GTIN}/{issued[0]}")).json()
    assert status["status"] == "commissioned"
    assert [h["event"] for h in status["history"]] == ["issued", "commissioned"]
    assert status["history"][1]["line_id"] == "LINE-1"
    assert (await client.get(f"/v1/serials/{GTIN}/{issued[400]}")).json()["status"] == "issued"

    summary = (await client.get(f"/v1/batches/{GTIN}/{LOT}/serial-summary")).json()
    assert summary == {"gtin": GTIN, "lot": LOT, "issued": 500, "imported": 0, "commissioned": 300}
    assert (await client.get(f"/v1/batches/{GTIN}/{LOT}")).json()["expiry"] == EXPIRY


async def test_the_audit_trail_shows_part_11_metadata_for_every_event(service: Harness) -> None:
    client = service.client
    await product(client)
    await batch(client)
    await serials(client, 5)
    trail = (await client.get("/v1/audit-trail/serial_issuance")).json()
    events = trail["events"]
    assert [e["event_type"] for e in events] == [
        "serials.ProductRegistered",
        "serials.BatchRegistered",
        "serials.SerialPoolOpened",
        "serials.SerialsAllocated",
    ]
    for event in events:
        record = event["record"]
        assert record["principal_role"] == "admin"
        assert record["auth_method"] == "api-key"
        assert record["client_address"]
        assert record["software_version"]
        assert record["config_digest"]
        assert record["correlation_id"]
    assert events[1]["prev_hash"] == events[0]["hash"]
    one = (await client.get("/v1/audit-trail/serial_issuance", params={"stream_id": f"product-{GTIN}"})).json()
    assert [e["stream_id"] for e in one["events"]] == [f"product-{GTIN}"]
