"""Bad input: precise problems naming each offending id and rule; nothing recorded."""

from __future__ import annotations

from typing import Any

import pytest
from aggregation_helpers import GTIN, LOT, commissioned, master_data, pack, pack_body, publish, sscc_uri, unit
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import Harness

SERIALS = [f"B{i:011d}" for i in range(8)]


async def _head(h: Harness) -> int:
    return await PostgresEventStore(h.composition.app_pool, "aggregation").head()


async def _refused(h: Harness, path: str, body: dict[str, Any], status: int) -> list[dict[str, str]]:
    before = await _head(h)
    response = await h.client.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await _head(h) == before, "a refused request recorded something"
    return list(response.json()["errors"])


@pytest.fixture
async def packed(aggregation: Harness) -> Harness:
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    await pack(aggregation.client, sscc_uri(1), [unit(s) for s in SERIALS[:2]])
    await pack(aggregation.client, sscc_uri(9), [sscc_uri(1)], level="pallet")
    return aggregation


async def test_double_packing_names_the_child_and_where_it_is(packed: Harness) -> None:
    body = pack_body(sscc_uri(2), [unit(SERIALS[2]), unit(SERIALS[0])])
    errors = await _refused(packed, "/v1/pack", body, 409)
    assert errors == [
        {
            "field": "children[1]",
            "rule": "not-already-packed",
            "message": f"{unit(SERIALS[0])} is already in {sscc_uri(1)}; unpack it from there first",
        }
    ]


async def test_a_parent_inside_its_own_child_is_a_cycle(packed: Harness) -> None:
    errors = await _refused(packed, "/v1/pack", pack_body(sscc_uri(1), [sscc_uri(9)]), 409)
    assert [(e["field"], e["rule"]) for e in errors] == [("children[0]", "no-cycle")]
    assert sscc_uri(9) in errors[0]["message"]
    itself = await _refused(packed, "/v1/pack", pack_body(sscc_uri(3), [sscc_uri(3)]), 409)
    assert itself[0]["rule"] == "no-cycle"


@pytest.mark.parametrize(
    ("child", "rule", "complaint"),
    [
        ("urn:epc:id:sscc:9506000.00000001", "epc-uri", "17 digits"),
        ("095060000000000016", "gs1-check-digit", "check digit"),
        (f"(01){GTIN[:-1]}3(21)X1", "gs1-check-digit", "check digit"),
        ("(01)09506000134352(21)has space", "gs1-format", "not a valid value of AI (21)"),
        ("(01)09506000134352(21)A(B", "gs1-ambiguous", "could be read as another AI"),
        ("pallet-7", "gs1-syntax", "expected scanner data"),
        ("(01)04000001000005(21)X1", "registered-product", "GTIN 04000001000005 is not registered"),
    ],
)
async def test_malformed_or_unknown_ids_are_named(packed: Harness, child: str, rule: str, complaint: str) -> None:
    errors = await _refused(packed, "/v1/pack", pack_body(sscc_uri(4), [unit(SERIALS[3]), child]), 422)
    assert [(e["field"], e["rule"]) for e in errors] == [("children[1]", rule)]
    assert complaint in errors[0]["message"]


async def test_every_problem_of_a_request_is_named_at_once(packed: Harness) -> None:
    body = pack_body("12345", [unit(SERIALS[3]), "nope", "(00)095060000000000016"])
    errors = await _refused(packed, "/v1/pack", body, 422)
    assert [e["field"] for e in errors] == ["parent", "children[1]", "children[2]"]


async def test_packing_after_close_is_refused(packed: Harness) -> None:
    assert (await packed.client.post(f"/v1/close/{sscc_uri(1)}", json={})).status_code == 200
    errors = await _refused(packed, "/v1/pack", pack_body(sscc_uri(1), [unit(SERIALS[4])]), 409)
    assert [(e["field"], e["rule"]) for e in errors] == [("parent", "open-parent")]
    again = await _refused(packed, f"/v1/close/{sscc_uri(1)}", {}, 409)
    assert again[0]["rule"] == "open-parent"


async def test_unpacking_a_child_that_is_not_in_that_parent(packed: Harness) -> None:
    body = {
        "parent": sscc_uri(1),
        "children": [unit(SERIALS[0]), unit(SERIALS[5])],
        "reason": "sampling",
        "line_id": "LINE-1",
        "event_time": "2026-11-22T09:00:00Z",
    }
    errors = await _refused(packed, "/v1/unpack", body, 409)
    assert errors == [
        {"field": "children[1]", "rule": "in-parent", "message": f"{unit(SERIALS[5])} is not in {sscc_uri(1)}"}
    ]
    unknown = await _refused(packed, "/v1/unpack", {**body, "parent": sscc_uri(5)}, 409)
    assert unknown[0]["rule"] == "known-parent"
    reason = await _refused(packed, "/v1/unpack", {**body, "reason": "bored"}, 422)
    assert reason[0]["field"].endswith("reason")


async def test_packing_level_stays_what_it_was(packed: Harness) -> None:
    errors = await _refused(packed, "/v1/pack", pack_body(sscc_uri(1), [unit(SERIALS[6])], level="pallet"), 409)
    assert [(e["field"], e["rule"]) for e in errors] == [("packaging_level", "same-level")]


async def test_a_multi_pack_request_is_all_or_nothing(packed: Harness) -> None:
    body = {
        "packs": [
            {"parent": sscc_uri(20), "packaging_level": "case", "children": [unit(SERIALS[6])]},
            {"parent": sscc_uri(21), "packaging_level": "case", "children": [unit(SERIALS[7]), unit(SERIALS[1])]},
            {"parent": sscc_uri(22), "packaging_level": "pallet", "children": [sscc_uri(20), sscc_uri(20)]},
        ],
        "line_id": "LINE-1",
        "event_time": "2026-11-22T09:00:00Z",
    }
    errors = await _refused(packed, "/v1/packings", body, 422)
    assert [(e["field"], e["rule"]) for e in errors] == [("packs[2].children[1]", "unique-child")]
    body["packs"][2]["children"] = [sscc_uri(20)]  # type: ignore[index]
    errors = await _refused(packed, "/v1/packings", body, 409)
    assert [(e["field"], e["rule"]) for e in errors] == [("packs[1].children[1]", "not-already-packed")]
    assert (await packed.client.get(f"/v1/hierarchy/{sscc_uri(20)}")).status_code == 404


async def test_an_ai_after_the_serial_in_hri_is_not_read_into_the_serial(packed: Harness) -> None:
    """The mis-read a line integrator found: `(21)12345(17)271231` was recorded as a pending
    child with serial `12345(17)271231`. It names serial 12345 (expiry 2027-12-31)."""
    answer = await packed.client.post("/v1/pack", json=pack_body(sscc_uri(5), [f"(01){GTIN}(21)12345(17)271231"]))
    assert answer.status_code == 201, answer.text
    assert answer.json()["pending_children"] == [unit("12345")]


async def test_a_scanned_label_must_agree_with_the_units_batch(packed: Harness) -> None:
    """A unit scanned with another lot or expiry than its batch's is a label mix-up: refused,
    naming both values. The right lot and expiry (GS1 DataMatrix as the line reads it) pack."""
    gs = "\x1d"
    wrong_lot = f"]d201{GTIN}17280630" + f"10OTHERLOT{gs}21{SERIALS[2]}"
    wrong_expiry = f"(01){GTIN}(17)280629(10){LOT}(21){SERIALS[3]}"
    errors = await _refused(packed, "/v1/pack", pack_body(sscc_uri(6), [wrong_lot, wrong_expiry]), 409)
    assert [(e["field"], e["rule"]) for e in errors] == [
        ("children[0]", "label-matches-batch"),
        ("children[1]", "label-matches-batch"),
    ]
    assert f"lot OTHERLOT, but its batch is lot {LOT}" in errors[0]["message"]
    assert f"expiry 2028-06-29, but its batch {LOT} expires 2028-06-30" in errors[1]["message"]
    right = f"]d201{GTIN}17280630" + f"10{LOT}{gs}21{SERIALS[2]}"
    answer = await packed.client.post("/v1/pack", json=pack_body(sscc_uri(6), [right]))
    assert answer.status_code == 201, answer.text
    assert (answer.json()["children"], answer.json()["pending_children"]) == (1, [])


async def test_a_pack_dated_in_the_future_is_refused(packed: Harness) -> None:
    """A line whose clock runs ahead (beyond MAX_CLOCK_SKEW_SECONDS) sends no packs from the future."""
    body = pack_body(sscc_uri(7), [unit(SERIALS[4])], event_time="2099-01-01T00:00:00+02:00")
    errors = await _refused(packed, "/v1/pack", body, 422)
    assert [(e["field"], e["rule"]) for e in errors] == [("event_time", "not-in-future")]


async def test_a_pack_cannot_be_dated_before_its_units_commissioning(packed: Harness) -> None:
    """Commissioned at T0 (08:00Z): a pack at 07:50Z is refused naming the unit; one at 07:56Z
    (within the 5 minutes line clocks may differ) is recorded."""
    early = pack_body(sscc_uri(4), [unit(SERIALS[3]), unit(SERIALS[4])], event_time="2026-11-22T08:50:00+01:00")
    errors = await _refused(packed, "/v1/pack", early, 409)
    assert [(e["field"], e["rule"]) for e in errors] == [
        ("children[0]", "after-commissioning"),
        ("children[1]", "after-commissioning"),
    ]
    assert "commissioned at 2026-11-22T08:00:00+00:00" in errors[0]["message"]
    skewed = pack_body(sscc_uri(4), [unit(SERIALS[3])], event_time="2026-11-22T07:56:00Z")
    assert (await packed.client.post("/v1/pack", json=skewed)).status_code == 201


async def test_an_unpack_or_close_cannot_be_dated_before_the_parents_last_change(packed: Harness) -> None:
    """Attacker review: an unpack and a close dated 1990 on a case packed today were recorded, and
    the tree "as it was" between then and now changed after the fact."""
    for path, body in (
        ("/v1/unpack", {"parent": sscc_uri(1), "reason": "damaged", "line_id": "LINE-1"}),
        (f"/v1/close/{sscc_uri(1)}", {"line_id": "LINE-1"}),
    ):
        errors = await _refused(packed, path, {**body, "event_time": "1990-01-01T00:00:00Z"}, 409)
        assert [(e["field"], e["rule"]) for e in errors] == [("event_time", "after-last-change")]
    within_skew = {
        "parent": sscc_uri(1),
        "reason": "damaged",
        "line_id": "LINE-1",
        "event_time": "2026-11-22T07:56:00Z",
    }
    assert (await packed.client.post("/v1/unpack", json=within_skew)).status_code == 200
