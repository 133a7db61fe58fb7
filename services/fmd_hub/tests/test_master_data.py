"""A product's master data for the hub: versioned (an identical submission records nothing),
its markets those of the product that use the hub, each with its national code."""

from __future__ import annotations

from fmd_hub_helpers import GTIN, log_of, master_data, product, publish
from serialtrail_contracts.fmd import MasterDataVersioned
from serialtrail_kit.testing.harness import Harness


async def test_a_change_is_a_new_version_and_the_same_data_is_none(fmd: Harness) -> None:
    await publish(fmd, product())
    url = f"/v1/fmd/products/{GTIN}/master-data"
    first = await fmd.client.post(url, json=master_data())
    assert (first.status_code, first.json()["version"], first.json()["changed"]) == (201, 1, True), first.text
    again = await fmd.client.post(url, json=master_data())
    assert (again.status_code, again.json()["version"], again.json()["changed"]) == (200, 1, False), again.text
    changed = await fmd.client.post(url, json=master_data(pack_size=30))
    assert (changed.status_code, changed.json()["version"]) == (201, 2), changed.text

    versions = [e.payload for e in await log_of(fmd, MasterDataVersioned.EVENT_TYPE)]
    assert [(v["version"], v["pack_size"]) for v in versions] == [(1, 20), (2, 30)]
    shown = (await fmd.client.get(url)).json()
    assert [(v["version"], v["status"]) for v in shown["versions"]] == [(1, "sending"), (2, "sending")]
    assert shown["in_force"] is None  # the hub acknowledged none yet


async def test_markets_must_use_the_hub_and_be_the_products(fmd: Harness) -> None:
    await publish(fmd, product(markets=("DE", "US")))
    url = f"/v1/fmd/products/{GTIN}/master-data"
    for markets, field, said in (
        ([{"market": "US", "national_code": "1"}], "markets[0].market", "does not use the European Hub"),
        ([{"market": "FR", "national_code": "1"}], "markets[0].market", "not one of the product's target markets"),
        (
            [{"market": "DE", "national_code": "1"}, {"market": "DE", "national_code": "2"}],
            "markets[1].market",
            "named twice",
        ),
    ):
        answer = await fmd.client.post(url, json=master_data(markets=markets))
        error = answer.json()["errors"][0]
        assert (answer.status_code, error["field"], error["rule"]) == (422, field, "eu-market"), answer.text
        assert said in error["message"]
    no_code = await fmd.client.post(url, json=master_data(markets=[{"market": "DE", "national_code": ""}]))
    assert no_code.status_code == 422
    assert no_code.json()["errors"][0]["field"] == "body.markets.0.national_code", no_code.text
    assert await log_of(fmd) == []


async def test_an_unknown_product_is_404(fmd: Harness) -> None:
    answer = await fmd.client.post(f"/v1/fmd/products/{GTIN}/master-data", json=master_data())
    assert (answer.status_code, answer.json()["errors"][0]["rule"]) == (404, "known-product"), answer.text
