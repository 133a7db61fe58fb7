"""Batch uploads in chunks: the rules in the hub's order, all-or-nothing chunks, the batch as the
hub holds it, a full 250,000-serial chunk, and recalls and withdrawals."""

from __future__ import annotations

import httpx
import orjson
import pytest
from eu_hub_helpers import (
    LATER,
    change,
    chunk,
    get_batch,
    gtin,
    key,
    new_batch,
    new_product,
    refused,
    serials,
    set_batch,
    upload,
)
from eu_hub_simulator.testing import RunningSimulator


async def test_a_chunk_is_accepted_and_the_batch_counts_it(client: httpx.AsyncClient) -> None:
    code = await new_product(client)
    upload_id = key()
    answer = await upload(client, code, "L/2026_A.1", chunk(serials(3), upload_id=upload_id, index=1, count=2))
    assert answer.json() == {"accepted": 3, "upload_id": upload_id, "chunk": 1, "batch_packs": 3}
    answer = await upload(client, code, "L/2026_A.1", chunk(serials(2), upload_id=upload_id, index=0, count=2))
    assert answer.json()["batch_packs"] == 5
    batch = (await get_batch(client, code, "L/2026_A.1")).json()
    assert batch["batch_id"] == "L/2026_A.1"
    assert (batch["expiry"], batch["state"], batch["packs"]) == (LATER, "Active", 5)
    assert batch["by_state"]["Active"] == 5
    assert sum(batch["by_state"].values()) == 5
    assert batch["uploads"] == {upload_id: {"chunks": [0, 1], "packs": 5}}


async def test_an_unknown_batch_is_not_found(client: httpx.AsyncClient) -> None:
    code = await new_product(client)
    refused(await get_batch(client, code, "NOPE"), 404, "NMVS_FE_LOT_05")
    refused(await get_batch(client, "00000000000000", "NOPE"), 404, "NMVS_FE_LOT_05")


async def test_a_chunk_of_an_unknown_product_is_refused(client: httpx.AsyncClient) -> None:
    refused(await upload(client, gtin(), "L1", chunk(serials(1))), 404, "NMVS_NC_PC_02")


@pytest.mark.parametrize(
    ("batch", "ok"),
    [("A", True), ("a-B.c/d_9", True), ("X" * 20, True), ("X" * 21, False), ("L 1", False), ("L\u00e41", False)],
)
async def test_batch_ids_have_an_alphabet_and_a_length(client: httpx.AsyncClient, batch: str, ok: bool) -> None:
    code = await new_product(client)
    answer = await upload(client, code, batch, chunk(serials(1)))
    if ok:
        assert answer.status_code == 200, answer.text
    else:
        refused(answer, 422, "NMVS_FE_LOT_01")


@pytest.mark.parametrize(
    ("expiry", "ok"),
    [("281231", True), ("280200", True), ("280229", True), ("270229", False), ("281301", False),
     ("280132", False), ("2812", False), ("28-12-01", False), ("", False)],
)  # fmt: skip
async def test_expiry_is_a_yymmdd_date_dd_00_meaning_the_months_end(
    client: httpx.AsyncClient, expiry: str, ok: bool
) -> None:
    code = await new_product(client)
    answer = await upload(client, code, "L1", chunk(serials(1), expiry=expiry))
    if ok:
        assert answer.status_code == 200, answer.text
    else:
        refused(answer, 422, "NMVS_FE_LOT_02")


async def test_markets_must_be_some_of_the_versions(client: httpx.AsyncClient) -> None:
    code = await new_product(client, markets=("DE", "AT"))
    refused(await upload(client, code, "L1", chunk(serials(1), markets=())), 422, "NMVS_FE_MD_02")
    refused(await upload(client, code, "L1", chunk(serials(1), markets=("DE", "FR"))), 422, "NMVS_FE_MD_02")
    assert (await upload(client, code, "L1", chunk(serials(1), markets=("AT",)))).status_code == 200


async def test_a_batch_known_with_another_expiry_is_a_mismatch(client: httpx.AsyncClient) -> None:
    code, batch, _ = await new_batch(client)
    body = refused(await upload(client, code, batch, chunk(serials(1), expiry="300100")), 422, "NMVS_FE_LOT_03")
    assert LATER in body["message"]


@pytest.mark.parametrize(
    ("codes", "wanted"),
    [
        ([], "NMVS_NC_PCK_03"),
        (["ABC", "A" * 21], "NMVS_NC_PCK_03"),
        (["ABC", "A-1"], "NMVS_NC_PCK_03"),
        (["ABC", ""], "NMVS_NC_PCK_03"),
        (["ABC", 123], "NMVS_NC_PCK_03"),
        (["ABC", "DEF", "ABC"], "NMVS_NC_PCK_04"),
    ],
)
async def test_serials_have_an_alphabet_and_come_once(
    client: httpx.AsyncClient, codes: list[object], wanted: str
) -> None:
    code = await new_product(client)  # serials are unique per product: a new one, so fixed serials will do
    body = refused(await upload(client, code, "L1", chunk(codes)), 422, wanted)
    if codes:
        assert body["details"]
    refused(await get_batch(client, code, "L1"), 404, "NMVS_FE_LOT_05")  # nothing stored


async def test_bad_serials_are_named_ten_at_most(client: httpx.AsyncClient) -> None:
    code = await new_product(client)
    body = refused(await upload(client, code, "L1", chunk([f"BAD-{i}" for i in range(30)])), 422, "NMVS_NC_PCK_03")
    assert body["details"] == [f"BAD-{i}" for i in range(10)]


async def test_more_than_250000_serials_are_refused(client: httpx.AsyncClient) -> None:
    code = await new_product(client)
    too_many = [f"{i:X}" for i in range(250_001)]
    refused(await upload(client, code, "L1", chunk(too_many)), 422, "NMVS_NC_PCK_03")


@pytest.mark.parametrize(("index", "count"), [(1, 1), (-1, 2), (0, 0)])
async def test_a_chunk_index_lies_within_its_count(client: httpx.AsyncClient, index: int, count: int) -> None:
    code = await new_product(client)
    refused(await upload(client, code, "L1", chunk(serials(1), index=index, count=count)), 422, "NMVS_FE_CHUNK_01")


async def test_a_chunk_accepted_under_one_key_is_refused_under_another(client: httpx.AsyncClient) -> None:
    code, upload_id = await new_product(client), key()
    first = chunk(serials(2), upload_id=upload_id, index=0, count=2)
    assert (await upload(client, code, "L1", first)).status_code == 200
    again = chunk(serials(2), upload_id=upload_id, index=0, count=2)  # other serials, same chunk
    refused(await upload(client, code, "L1", again), 409, "NMVS_FE_CHUNK_02")
    assert (await get_batch(client, code, "L1")).json()["packs"] == 2


async def test_a_chunk_with_a_pack_already_on_the_hub_stores_nothing(client: httpx.AsyncClient) -> None:
    code, upload_id = await new_product(client), key()
    first, second = serials(4), serials(3)
    assert (await upload(client, code, "L1", chunk(first, upload_id=upload_id, count=3))).status_code == 200
    clash = chunk([*second, first[2]], upload_id=upload_id, index=1, count=3)
    body = refused(await upload(client, code, "L1", clash), 409, "NMVS_NC_PCK_05")
    assert body["details"] == [first[2]]
    # Even into another batch of the product: a serial is unique per product.
    body = refused(await upload(client, code, "L2", chunk([first[0], first[1]])), 409, "NMVS_NC_PCK_05")
    assert sorted(body["details"]) == sorted(first[:2])
    batch = (await get_batch(client, code, "L1")).json()
    assert batch["packs"] == 4
    assert batch["uploads"] == {upload_id: {"chunks": [0], "packs": 4}}
    refused(await get_batch(client, code, "L2"), 404, "NMVS_FE_LOT_05")  # the refused chunk made no batch
    # The second chunk, corrected, goes through: none of its serials were kept by the refusal.
    fixed = chunk(second, upload_id=upload_id, index=1, count=3)
    assert (await upload(client, code, "L1", fixed)).json()["batch_packs"] == 7


async def test_the_same_serial_may_exist_for_another_product(client: httpx.AsyncClient) -> None:
    shared = serials(2)
    for _ in range(2):
        code = await new_product(client)
        assert (await upload(client, code, "L1", chunk(shared))).status_code == 200


async def test_a_full_chunk_of_250000_serials_is_accepted(client: httpx.AsyncClient, hub: RunningSimulator) -> None:
    code = await new_product(client)
    before = (await hub.stats())["packs"]
    full = serials(250_000)
    answer = await upload(client, code, "BIG", orjson.dumps(chunk(full)))
    assert answer.json()["accepted"] == 250_000
    assert (await get_batch(client, code, "BIG")).json()["by_state"]["Active"] == 250_000
    assert (await hub.stats())["packs"] == before + 250_000


async def test_a_recall_is_for_good_and_stops_uploads_and_changes(client: httpx.AsyncClient) -> None:
    code, batch, packs = await new_batch(client)
    answer = await set_batch(client, code, batch, "Recalled")
    assert answer.json() == {"product_code": code, "batch_id": batch, "state": "Recalled"}
    assert (await set_batch(client, code, batch, "Recalled")).status_code == 200  # a repeat
    refused(await set_batch(client, code, batch, "Withdrawn"), 409, "NMVS_FE_LOT_06")
    assert (await get_batch(client, code, batch)).json()["state"] == "Recalled"
    refused(await upload(client, code, batch, chunk(serials(1))), 409, "NMVS_FE_LOT_04")
    refused(await change(client, code, packs[0], "Supplied", batch), 409, "NMVS_FE_LOT_04")


async def test_a_withdrawal_is_for_good_too(client: httpx.AsyncClient) -> None:
    code, batch, _ = await new_batch(client)
    assert (await set_batch(client, code, batch, "Withdrawn")).status_code == 200
    refused(await set_batch(client, code, batch, "Recalled"), 409, "NMVS_FE_LOT_06")
    refused(await set_batch(client, code, "UNKNOWN", "Recalled"), 404, "NMVS_FE_LOT_05")
    answer = await client.post(
        f"/v1/batches/{code}/{batch}/state", json={"state": "Active", "reason": "x"}, headers={"Idempotency-Key": key()}
    )
    refused(answer, 422, "NMVS_FE_REQ_02")


async def test_a_malformed_chunk_names_its_field(client: httpx.AsyncClient) -> None:
    code = await new_product(client)
    for field, value in [("master_data_version", "1"), ("chunk", {"index": 0}), ("serials", "A1"), ("extra", 1)]:
        body = {**chunk(serials(1)), field: value}
        assert field in refused(await upload(client, code, "L1", body), 422, "NMVS_FE_REQ_02")["message"]
