"""Packing a hierarchy, querying it, closing parents, and the batch report."""

from __future__ import annotations

from aggregation_helpers import (
    GTIN,
    LOT,
    commissioned,
    master_data,
    pack,
    publish,
    sscc_uri,
    unit,
)
from serialtrail_kit.testing.harness import Harness

SERIALS = [f"A{i:011d}" for i in range(6)]


async def test_pack_close_and_query_a_pallet(aggregation: Harness) -> None:
    client = aggregation.client
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    case1, case2, pallet = sscc_uri(1), sscc_uri(2), sscc_uri(3)
    first = await pack(client, case1, [unit(s) for s in SERIALS[:3]])
    assert (first["children"], first["pending_children"], first["parent_pending"]) == (3, [], False)
    await pack(client, case2, [unit(s) for s in SERIALS[3:]])
    for case in (case1, case2):
        closed = await client.post(f"/v1/close/{case}", json={"expected_count": 3})
        assert closed.status_code == 200, closed.text
    await pack(client, pallet, [case1, case2], level="pallet")

    tree = (await client.get(f"/v1/hierarchy/{pallet}")).json()
    assert tree["level"] == "pallet"
    assert tree["closed"] is False
    assert tree["counts"] == {"objects": 8, "pending": 0, "errors": 0, "held": 0}
    cases = {c["id"]: c for c in tree["children"]}
    assert set(cases) == {case1, case2}
    assert cases[case1]["closed"] is True
    assert cases[case1]["level"] == "case"
    assert sorted(u["id"] for u in cases[case1]["children"]) == [unit(s) for s in SERIALS[:3]]
    assert {u["status"] for c in cases.values() for u in c["children"]} == {"confirmed"}

    # Any accepted form names the same object.
    element_string = f"(01){GTIN}(21){SERIALS[4]}"
    ancestors = (await client.get(f"/v1/ancestors/{element_string}")).json()
    assert [(a["id"], a["level"]) for a in ancestors["ancestors"]] == [(case2, "case"), (pallet, "pallet")]

    report = (await client.get(f"/v1/batches/{GTIN}/{LOT}/aggregation-report")).json()
    assert (report["commissioned"], report["aggregated"]) == (6, 6)
    assert report["open_parents"]["items"] == [{"id": pallet, "level": "pallet"}]
    assert report["complete"] is False
    await client.post(f"/v1/close/{pallet}", json={})
    report = (await client.get(f"/v1/batches/{GTIN}/{LOT}/aggregation-report")).json()
    assert report["complete"] is True, report
    mistyped = await client.get(f"/v1/batches/{GTIN[:-1]}{(int(GTIN[-1]) + 1) % 10}/{LOT}/aggregation-report")
    assert mistyped.status_code == 422, mistyped.text  # named as a wrong check digit, not as an unknown batch
    assert [(e["field"], e["rule"]) for e in mistyped.json()["errors"]] == [("gtin", "gtin")]


async def test_a_case_with_a_gtin_of_its_own_is_walked_like_an_sscc_case(aggregation: Harness) -> None:
    """Cases are often serialised with a case-level GTIN: the review found such a case, packed
    onto a pallet, shown as a leaf and its units missing from the pallet's counts."""
    client = aggregation.client
    case, units = unit(SERIALS[0]), [unit(s) for s in SERIALS[1:3]]
    await publish(aggregation, *master_data(), commissioned(SERIALS[:3]))
    await pack(client, case, units)
    await pack(client, sscc_uri(9), [case], level="pallet")
    tree = (await client.get(f"/v1/hierarchy/{sscc_uri(9)}")).json()
    assert tree["counts"] == {"objects": 3, "pending": 0, "errors": 0, "held": 0}
    (held,) = tree["children"]
    assert (held["id"], held["level"], sorted(u["id"] for u in held["children"])) == (case, "case", sorted(units))


async def test_a_parent_fills_over_several_calls_until_closed(aggregation: Harness) -> None:
    client = aggregation.client
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    case = sscc_uri(7)
    await pack(client, case, [unit(SERIALS[0])])
    await pack(client, case, [unit(SERIALS[1]), unit(SERIALS[2])])
    mismatch = await client.post(f"/v1/close/{case}", json={"expected_count": 4})
    assert mismatch.status_code == 409
    assert mismatch.json()["errors"][0]["rule"] == "matches-count"
    assert "holds 3 children, not 4" in mismatch.json()["errors"][0]["message"]
    assert (await client.post(f"/v1/close/{case}", json={"expected_count": 3})).status_code == 200


async def test_unpack_and_the_tree_as_it_was(aggregation: Harness) -> None:
    client = aggregation.client
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    case, other = sscc_uri(11), sscc_uri(12)
    await pack(client, case, [unit(s) for s in SERIALS[:3]], event_time="2026-11-22T08:00:00Z")
    await client.post(f"/v1/close/{case}", json={"event_time": "2026-11-22T08:10:00Z"})
    removed = await client.post(
        "/v1/unpack",
        json={
            "parent": case,
            "children": [unit(SERIALS[0])],
            "reason": "damaged",
            "line_id": "LINE-1",
            "event_time": "2026-11-22T09:00:00Z",
        },
    )
    assert removed.status_code == 200, removed.text
    await pack(client, other, [unit(SERIALS[0])], event_time="2026-11-22T10:00:00Z")
    await pack(client, case, [unit(SERIALS[3])], event_time="2026-11-22T10:00:00Z")  # unpacking reopened it

    def ids(tree: dict[str, object]) -> list[str]:
        return sorted(c["id"] for c in tree["children"])  # type: ignore[attr-defined]

    now = (await client.get(f"/v1/hierarchy/{case}")).json()
    assert ids(now) == sorted(unit(s) for s in SERIALS[1:4])
    then = (await client.get(f"/v1/hierarchy/{case}", params={"at": "2026-11-22T08:30:00Z"})).json()
    assert ids(then) == sorted(unit(s) for s in SERIALS[:3])
    before = await client.get(f"/v1/hierarchy/{case}", params={"at": "2026-11-22T07:00:00Z"})
    assert before.status_code == 404
    moved = (await client.get(f"/v1/ancestors/{unit(SERIALS[0])}", params={"at": "2026-11-22T08:30:00Z"})).json()
    assert [a["id"] for a in moved["ancestors"]] == [case]

    everything = await client.post(
        "/v1/unpack", json={"parent": case, "reason": "rework", "line_id": "LINE-1", "event_time": T_LATE}
    )
    assert sorted(everything.json()["children"]) == sorted(unit(s) for s in SERIALS[1:4])
    assert (await client.get(f"/v1/hierarchy/{case}")).status_code == 404


T_LATE = "2026-11-22T11:00:00Z"
