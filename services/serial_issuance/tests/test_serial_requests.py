from __future__ import annotations

import asyncio
import json

from issuance_helpers import GTIN, LOT, batch, product, serials
from serial_issuance import bootstrap
from serialtrail_kit.testing.harness import Harness, serve


async def test_concurrent_requests_for_one_gtin_never_overlap(service: Harness) -> None:
    await product(service.client)
    await batch(service.client)
    results = await asyncio.gather(*(serials(service.client, 2_000) for _ in range(8)))
    everything = [s for result in results for s in result]
    assert len(everything) == len(set(everything)) == 16_000


async def test_eu_fmd_guessing_odds_are_enforced(service: Harness) -> None:
    # 7 numeric digits: 10^7 possible serials, so fewer than 1,000 may ever be issued.
    await product(service.client, serial_length=7, serial_alphabet="numeric")
    ok = await service.client.post("/v1/serial-requests", json={"gtin": GTIN, "quantity": 999})
    assert ok.status_code == 201, ok.text
    refused = await service.client.post("/v1/serial-requests", json={"gtin": GTIN, "quantity": 1})
    assert refused.status_code == 422
    error = refused.json()["errors"][0]
    assert (error["field"], error["rule"]) == ("quantity", "eu-fmd-guess-probability")
    assert "at most 0 more" in error["message"]


async def test_streams_every_output_form_as_text_and_ndjson(service: Harness) -> None:
    await product(service.client)
    created = await service.client.post("/v1/serial-requests", json={"gtin": GTIN, "quantity": 40_000})
    url = created.json()["serials_url"]
    plain = (await service.client.get(url)).text.splitlines()
    assert len(plain) == 40_000
    ndjson = await service.client.get(url, params={"format": "ndjson", "form": "sgtin-uri"})
    assert ndjson.headers["content-type"] == "application/x-ndjson"
    assert ndjson.headers["x-serial-count"] == "40000"
    rows = [json.loads(line) for line in ndjson.text.splitlines()]
    assert [r["serial"] for r in rows] == plain
    assert rows[0]["sgtin-uri"] == f"urn:epc:id:sgtin:9506000.013435.{plain[0]}"
    element = (await service.client.get(url, params={"form": "element-string"})).text.splitlines()
    assert element[-1] == f"(01){GTIN}(21){plain[-1]}"


async def test_a_different_serial_key_cannot_issue_from_an_existing_pool(database_dsn: str) -> None:
    services = [bootstrap.SERVICE]
    async with serve(database_dsn, services) as first:
        await product(first.client)
        assert len(await serials(first.client, 10, lot=None)) == 10
    async with serve(database_dsn, services) as second:  # test settings: a new random key
        response = await second.client.post("/v1/serial-requests", json={"gtin": GTIN, "quantity": 10})
        assert response.status_code == 409
        assert response.json()["errors"][0]["rule"] == "serial-key"


async def test_issued_but_not_commissioned_serial_shows_its_request(service: Harness) -> None:
    await product(service.client)
    await batch(service.client)
    (serial,) = await serials(service.client, 1)
    status = (await service.client.get(f"/v1/serials/{GTIN}/{serial}")).json()
    assert status["status"] == "issued"
    assert status["history"][0]["lot"] == LOT
    record = status["history"][0]["record"]
    assert status["history"][0]["by"] == record["principal_id"]
    assert record["principal_role"] == "admin"
    assert record["auth_method"] == "api-key"
    assert record["software_version"] == "0.0.0-test"
    assert {"correlation_id", "client_address", "config_digest"} <= set(record)
