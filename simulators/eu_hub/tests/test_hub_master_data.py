"""The bearer token, idempotency keys, and product master data: codes, markets, versions."""

from __future__ import annotations

import httpx
import orjson
import pytest
from eu_hub_helpers import chunk, get_batch, gtin, key, put_product, refused, serials, upload
from eu_hub_helpers import product as product_body
from eu_hub_simulator.testing import RunningSimulator

# An IFA example: PZN 03752864 as PPN, its check "14" (ASCII codes weighted 2, 3, … mod 97).
PPN = "110375286414"


async def test_health_needs_no_token_and_everything_else_does(hub: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        assert (await anonymous.get("/health")).json() == {"status": "ok"}
        for method, path in [("GET", "/v1/alerts"), ("PUT", f"/v1/products/{gtin()}"), ("GET", "/_sim/stats")]:
            answer = await anonymous.request(method, path, headers={"Idempotency-Key": key()}, json=product_body())
            refused(answer, 401, "NMVS_FE_AUTH_01")
            assert answer.headers["www-authenticate"] == "Bearer"
        wrong = {"Authorization": "Bearer not-the-token"}
        refused(await anonymous.get("/v1/alerts", headers=wrong), 401, "NMVS_FE_AUTH_01")
        refused(await anonymous.get("/v1/alerts", headers={"Authorization": hub.token}), 401, "NMVS_FE_AUTH_01")


async def test_a_write_without_an_idempotency_key_is_refused_and_not_processed(client: httpx.AsyncClient) -> None:
    code = gtin()
    refused(await client.put(f"/v1/products/{code}", json=product_body()), 400, "NMVS_FE_IDEMPOTENCY_01")
    too_long = await client.put(f"/v1/products/{code}", json=product_body(), headers={"Idempotency-Key": "k" * 256})
    refused(too_long, 400, "NMVS_FE_IDEMPOTENCY_01")
    # Nothing was stored: a chunk for the product finds no product.
    refused(await upload(client, code, "L1", chunk(serials(1))), 404, "NMVS_NC_PC_02")


async def test_a_repeat_with_its_key_gets_the_stored_answer_and_is_not_processed_again(
    client: httpx.AsyncClient, hub: RunningSimulator
) -> None:
    code, idem = gtin(), key()
    body = orjson.dumps(product_body())
    first = await put_product(client, code, body, idem)
    again = await put_product(client, code, body, idem)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert "idempotent-replay" not in first.headers
    assert again.headers["idempotent-replay"] == "true"
    assert (await hub.stats())["processed_keys"][idem] == 1


async def test_a_refusal_is_stored_and_repeated_too(client: httpx.AsyncClient, hub: RunningSimulator) -> None:
    code, idem = gtin(), key()
    body = orjson.dumps(chunk(serials(2)))
    first = await upload(client, code, "L1", body, idem)
    refused(first, 404, "NMVS_NC_PC_02")
    assert (await put_product(client, code, product_body())).status_code == 200
    # The product now exists, but the key already has its answer: the same refusal, not a new try.
    again = await upload(client, code, "L1", body, idem)
    assert (again.status_code, again.content) == (404, first.content)
    assert again.headers["idempotent-replay"] == "true"
    assert (await hub.stats())["processed_keys"][idem] == 1


async def test_a_key_reused_for_another_request_is_refused(client: httpx.AsyncClient) -> None:
    code, idem = gtin(), key()
    assert (await put_product(client, code, product_body(), idem)).status_code == 200
    other_body = await put_product(client, code, product_body(version=2), idem)
    refused(other_body, 422, "NMVS_FE_IDEMPOTENCY_02")
    other_path = await put_product(client, gtin(), product_body(), idem)
    refused(other_path, 422, "NMVS_FE_IDEMPOTENCY_02")
    # The same JSON spelled with other bytes is another request too: keys guard bytes, not meaning.
    spaced = orjson.dumps(product_body()).replace(b",", b", ")
    refused(await put_product(client, code, spaced, idem), 422, "NMVS_FE_IDEMPOTENCY_02")
    # And nothing of the refused requests was processed: version 2 is still free.
    assert (await put_product(client, code, product_body(version=2))).status_code == 200


@pytest.mark.parametrize(
    ("scheme", "code", "ok"),
    [
        ("GTIN", "09506000134352", True),
        ("GTIN", "09506000134353", False),  # check digit
        ("GTIN", "9506000134352", False),  # 13 digits
        ("GTIN", "0950600013435A", False),
        ("NTIN", "04150123456782", True),
        ("NTIN", "04150123456781", False),
        ("PPN", PPN, True),
        ("PPN", "110375286413", False),  # check characters
        ("PPN", "11037528641", False),
        ("PPN", "1103752864ab", False),  # lower case is not the PPN alphabet
        ("PPN", "0A00", True),  # the shortest: two characters and their check (48*2 + 65*3 = 291 = 3*97)
        ("PPN", "0A", False),
        ("PPN", "1" * 23, False),
    ],
)
async def test_product_codes_are_checked_against_their_scheme(
    client: httpx.AsyncClient, scheme: str, code: str, ok: bool
) -> None:
    answer = await put_product(client, code, product_body(scheme=scheme))  # each code once per simulator
    if ok:
        assert answer.status_code == 200, answer.text
    else:
        refused(answer, 422, "NMVS_NC_PC_01")


@pytest.mark.parametrize(
    ("markets", "code"),
    [
        ([{"market": "GB", "national_code": "1"}], "NMVS_FE_MD_02"),
        ([{"market": "de", "national_code": "1"}], "NMVS_FE_MD_02"),
        ([{"market": "DE", "national_code": "1"}, {"market": "DE", "national_code": "2"}], "NMVS_FE_MD_02"),
        ([{"market": "DE"}], "NMVS_FE_MD_03"),
        ([{"market": "DE", "national_code": ""}], "NMVS_FE_MD_03"),
        ([{"market": "DE", "national_code": "  "}], "NMVS_FE_MD_03"),
        ([{"market": "DE", "national_code": "1" * 21}], "NMVS_FE_MD_03"),
        ([{"market": "DE", "national_code": "PZN\t1"}], "NMVS_FE_MD_03"),
        ([], "NMVS_FE_MD_01"),
    ],
)
async def test_markets_are_the_fmd_markets_each_with_a_national_code(
    client: httpx.AsyncClient, markets: list[dict[str, str]], code: str
) -> None:
    refused(await put_product(client, gtin(), {**product_body(), "markets": markets}), 422, code)


async def test_every_fmd_market_and_northern_ireland_are_accepted(client: httpx.AsyncClient) -> None:
    # fmt: off
    fmd = ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IS", "IE", "IT",
           "LV", "LI", "LT", "LU", "MT", "NL", "NO", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "XI"]
    # fmt: on
    assert (await put_product(client, gtin(), product_body(markets=fmd))).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strength": ""}, "strength"),
        ({"name": None}, "name"),
        ({"version": 0}, "version"),
        ({"version": "1"}, "version"),
        ({"version": True}, "version"),
        ({"pack_size": 0}, "pack_size"),
        ({"coding_scheme": "EAN"}, "coding_scheme"),
        ({"mah": {"name": "M"}}, "mah.id"),
        ({"wholesalers": [{"name": "W", "id": str(i)} for i in range(51)]}, "wholesalers"),
        ({"gtin": "09506000134352"}, "gtin"),
    ],
)
async def test_a_missing_or_wrong_field_is_named(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    body = refused(await put_product(client, gtin(), {**product_body(), **change}), 422, "NMVS_FE_MD_01")
    assert field in body["message"]


async def test_a_missing_field_is_named(client: httpx.AsyncClient) -> None:
    body = product_body()
    del body["common_name"]
    assert "common_name" in refused(await put_product(client, gtin(), body), 422, "NMVS_FE_MD_01")["message"]


async def test_a_body_that_is_not_json_is_refused(client: httpx.AsyncClient) -> None:
    refused(await put_product(client, gtin(), b"{not json"), 400, "NMVS_FE_REQ_01")


async def test_versions_only_go_up_and_a_repeat_is_accepted(client: httpx.AsyncClient) -> None:
    code = gtin()
    v1, v2 = product_body(version=1), product_body(version=2, markets=("DE", "FR"))
    assert (await put_product(client, code, v1)).json() == {"product_code": code, "version": 1, "accepted": True}
    # The same version and content under a new key (a resend): accepted, as a repeat.
    reordered = dict(reversed(list(v1.items())))
    assert (await put_product(client, code, reordered)).status_code == 200
    refused(await put_product(client, code, {**v1, "pack_size": 30}), 409, "NMVS_FE_MD_04")
    assert (await put_product(client, code, v2)).status_code == 200
    assert (await put_product(client, code, v1)).status_code == 200  # an older version, unchanged: a repeat
    refused(await put_product(client, code, {**v1, "name": "Other"}), 409, "NMVS_FE_MD_04")
    assert (await put_product(client, code, product_body(version=5))).status_code == 200
    refused(await put_product(client, code, product_body(version=4)), 409, "NMVS_FE_MD_04")  # below the latest
    # Every version is kept: chunks may name any of them, and get its markets.
    assert (await upload(client, code, "L1", chunk(serials(1), version=1))).status_code == 200
    refused(await upload(client, code, "L2", chunk(serials(1), markets=("FR",), version=1)), 422, "NMVS_FE_MD_02")
    assert (await upload(client, code, "L2", chunk(serials(1), markets=("FR",), version=2))).status_code == 200
    refused(await upload(client, code, "L3", chunk(serials(1), version=3)), 422, "NMVS_FE_MD_05")
    assert (await get_batch(client, code, "L2")).json()["packs"] == 1
