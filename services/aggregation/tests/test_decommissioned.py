"""Decommissioned packs (from the line exceptions service's log): never packed, and a link
to one that was packed before becomes an error QA sees."""

from __future__ import annotations

from aggregation_helpers import (
    GTIN,
    LOT,
    commissioned,
    decommission,
    master_data,
    pack,
    pack_body,
    publish,
    sscc_uri,
    unit,
)
from serialtrail_kit.testing.harness import Harness

SERIALS = [f"E{i:011d}" for i in range(4)]


async def test_a_decommissioned_pack_cannot_be_packed(aggregation: Harness) -> None:
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    await decommission(aggregation, [SERIALS[1]], reason="destroyed")
    refused = await aggregation.client.post("/v1/pack", json=pack_body(sscc_uri(1), [unit(s) for s in SERIALS]))
    assert refused.status_code == 409
    assert refused.json()["errors"] == [
        {
            "field": "children[1]",
            "rule": "not-decommissioned",
            "message": f"{unit(SERIALS[1])} was decommissioned (destroyed)",
        }
    ]


async def test_a_pack_whose_decommission_was_undone_is_packed_again(aggregation: Harness) -> None:
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    await decommission(aggregation, [SERIALS[1]], undone=True)
    await pack(aggregation.client, sscc_uri(3), [unit(s) for s in SERIALS])


async def test_a_pack_decommissioned_after_packing_is_an_error_in_tree_and_report(aggregation: Harness) -> None:
    client = aggregation.client
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    case = sscc_uri(2)
    await pack(client, case, [unit(s) for s in SERIALS])
    await client.post(f"/v1/close/{case}", json={"event_time": "2026-11-22T09:00:00Z"})
    report = (await client.get(f"/v1/batches/{GTIN}/{LOT}/aggregation-report")).json()
    assert report["complete"] is True

    await decommission(aggregation, [SERIALS[2]])
    tree = (await client.get(f"/v1/hierarchy/{case}")).json()
    assert {c["id"]: c["status"] for c in tree["children"]}[unit(SERIALS[2])] == "error"
    assert tree["counts"] == {"objects": 4, "pending": 0, "errors": 1, "held": 0}
    report = (await client.get(f"/v1/batches/{GTIN}/{LOT}/aggregation-report")).json()
    assert report["errors"]["items"] == [
        {"child": unit(SERIALS[2]), "parent": case, "problem": "decommissioned (damaged)"}
    ]
    assert report["complete"] is False

    # Rework: take the damaged pack out; the case is consistent again once re-closed.
    removed = await client.post(
        "/v1/unpack",
        json={
            "parent": case,
            "children": [unit(SERIALS[2])],
            "reason": "damaged",
            "line_id": "LINE-1",
            "event_time": "2026-11-22T10:00:00Z",
        },
    )
    assert removed.status_code == 200, removed.text
    await client.post(f"/v1/close/{case}", json={"expected_count": 3})
    report = (await client.get(f"/v1/batches/{GTIN}/{LOT}/aggregation-report")).json()
    # The destroyed pack is out of the hierarchy and needs no parent: the batch is complete again.
    assert (report["errors"]["count"], report["not_aggregated"]["count"], report["complete"]) == (0, 0, True)
    assert (report["commissioned"], report["aggregated"]) == (4, 3)
