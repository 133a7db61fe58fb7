"""Containment holds (from the line exceptions service's log): a held unit, a unit of a held
batch and a held parent are refused by packing, naming the hold, until it is lifted."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from aggregation_helpers import GTIN, LOT, T0, commissioned, master_data, pack, pack_body, publish, sscc_uri, unit
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.exceptions import HoldLifted, HoldPlaced
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import SYSTEM, Harness

SERIALS = [f"H{i:011d}" for i in range(6)]


async def staged(harness: Harness, event: EventContract) -> None:
    """Append to the line exceptions log as that service does, then let aggregation catch up."""
    store = PostgresEventStore(harness.composition.app_pool, "line_exceptions")
    await store.append([append_of(f"test-{uuid.uuid4()}", 0, [event])], SYSTEM)
    await harness.runner("aggregation", "holds").caught_up(timeout=30)


def hold(**held: Any) -> HoldPlaced:
    fields: dict[str, Any] = {"whole_batch": False, "reason": "printer fault", "event_time": datetime.fromisoformat(T0)}
    return HoldPlaced(hold_id=uuid.uuid4(), gtin=GTIN, lot=LOT, **(fields | held))


async def test_held_units_and_parents_are_refused_until_lifted(aggregation: Harness) -> None:
    client = aggregation.client
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    units = hold(serials=(SERIALS[1],), parents=(sscc_uri(7),))
    await staged(aggregation, units)

    refused = await client.post("/v1/pack", json=pack_body(sscc_uri(1), [unit(s) for s in SERIALS[:3]]))
    assert refused.status_code == 409, refused.text
    message = f"{unit(SERIALS[1])} is held (hold {units.hold_id}): lift the hold first"
    assert refused.json()["errors"] == [{"field": "children[1]", "rule": "not-held", "message": message}]
    into_held = await client.post("/v1/pack", json=pack_body(sscc_uri(7), [unit(SERIALS[0])]))
    assert [(e["field"], e["rule"]) for e in into_held.json()["errors"]] == [("parent", "not-held")]

    await staged(aggregation, HoldLifted(hold_id=units.hold_id, reason="reviewed"))
    await pack(client, sscc_uri(7), [unit(s) for s in SERIALS[:3]])


async def test_a_held_batch_holds_every_unit_of_it(aggregation: Harness) -> None:
    client = aggregation.client
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    batch = hold(whole_batch=True)
    await staged(aggregation, batch)
    refused = await client.post("/v1/pack", json=pack_body(sscc_uri(2), [unit(s) for s in SERIALS[3:]]))
    assert refused.status_code == 409
    assert {e["rule"] for e in refused.json()["errors"]} == {"not-held"}
    assert len(refused.json()["errors"]) == 3
    await staged(aggregation, HoldLifted(hold_id=batch.hold_id, reason="released"))
    await pack(client, sscc_uri(2), [unit(s) for s in SERIALS[3:]])


async def test_what_is_on_a_held_parent_stays_where_it_is(aggregation: Harness) -> None:
    client = aggregation.client
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    case, pallet, other = sscc_uri(11), sscc_uri(12), sscc_uri(13)
    await pack(client, case, [unit(s) for s in SERIALS[:2]])
    await pack(client, pallet, [case], level="pallet")
    await aggregation.runner("aggregation", "hierarchy").caught_up(timeout=30)
    on_pallet = hold(parents=(pallet,))
    await staged(aggregation, on_pallet)

    unpack = {"parent": case, "children": [unit(SERIALS[0])], "reason": "damaged", "line_id": "LINE-1"}
    unpack["event_time"] = T0
    refused = await client.post("/v1/unpack", json=unpack)
    assert refused.status_code == 409, refused.text
    message = f"{case} is held (hold {on_pallet.hold_id}): lift the hold first"
    assert refused.json()["errors"] == [{"field": "parent", "rule": "not-held", "message": message}]
    into_case = await client.post("/v1/pack", json=pack_body(case, [unit(SERIALS[2])]))
    assert [(e["field"], e["rule"]) for e in into_case.json()["errors"]] == [("parent", "not-held")]
    assert (await client.post("/v1/pack", json=pack_body(other, [unit(SERIALS[3])]))).status_code == 201

    await staged(aggregation, HoldLifted(hold_id=on_pallet.hold_id, reason="released"))
    assert (await client.post("/v1/unpack", json=unpack)).status_code == 200


async def tree_of(aggregation: Harness, root: str) -> dict[str, Any]:
    answer = await aggregation.client.get(f"/v1/hierarchy/{root}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def flagged(node: dict[str, Any]) -> set[str]:
    """The ids flagged held in a tree, at any depth."""
    below = set().union(*(flagged(child) for child in node.get("children", [])))
    return below | ({node["id"]} if node.get("held") else set())


async def test_the_tree_flags_what_is_held_after_it_was_packed(aggregation: Harness) -> None:
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    case, pallet = sscc_uri(21), sscc_uri(22)
    await pack(aggregation.client, case, [unit(s) for s in SERIALS[:3]])
    await pack(aggregation.client, pallet, [case], level="pallet")
    await aggregation.runner("aggregation", "hierarchy").caught_up(timeout=30)
    assert flagged(await tree_of(aggregation, pallet)) == set()

    units = hold(serials=(SERIALS[1],))
    await staged(aggregation, units)
    tree = await tree_of(aggregation, pallet)
    assert flagged(tree) == {unit(SERIALS[1])}
    assert tree["counts"] == {"objects": 4, "pending": 0, "errors": 0, "held": 1}

    on_case = hold(parents=(case,))
    await staged(aggregation, on_case)
    tree = await tree_of(aggregation, pallet)
    assert flagged(tree) == {case, *(unit(s) for s in SERIALS[:3])}  # what is on a held case is held
    assert tree["counts"]["held"] == 4
    assert (await tree_of(aggregation, case))["held"] is True  # the case itself, read as the root

    await staged(aggregation, HoldLifted(hold_id=units.hold_id, reason="reviewed"))
    await staged(aggregation, HoldLifted(hold_id=on_case.hold_id, reason="reviewed"))
    whole = hold(whole_batch=True)
    await staged(aggregation, whole)
    assert flagged(await tree_of(aggregation, pallet)) == {unit(s) for s in SERIALS[:3]}

    await staged(aggregation, HoldLifted(hold_id=whole.hold_id, reason="released"))
    on_pallet = hold(parents=(pallet,))
    await staged(aggregation, on_pallet)
    assert (await tree_of(aggregation, case))["held"] is True  # through the held pallet it is on
    tree = await tree_of(aggregation, pallet)
    assert flagged(tree) == {pallet, case, *(unit(s) for s in SERIALS[:3])}
    assert tree["counts"]["held"] == 4  # below the root


async def test_a_window_hold_holds_what_its_line_sends_for_the_window_after_it_was_placed(
    aggregation: Harness,
) -> None:
    """New-user finding: a hold of a line's output in a time window held only the units known
    when it was placed; a line sending its commissioning later escaped it. Aggregation holds
    by line and time: units commissioned on the line in the window are held whenever they arrive."""
    at = datetime.fromisoformat(T0)
    window = hold(line_id="LINE-1", window_start=at - timedelta(minutes=30), window_end=at + timedelta(minutes=30))
    await staged(aggregation, window)  # before anything of the window is known
    late = commissioned(SERIALS[:2])  # LINE-1, at T0: in the window
    elsewhere = commissioned(SERIALS[2:4]).model_copy(update={"commissioning_id": uuid.uuid4(), "line_id": "LINE-2"})
    after = commissioned(SERIALS[4:]).model_copy(
        update={"commissioning_id": uuid.uuid4(), "event_time": at - timedelta(hours=1)}
    )
    await publish(aggregation, *master_data(), late, elsewhere, after)

    refused = await aggregation.client.post("/v1/pack", json=pack_body(sscc_uri(31), [unit(s) for s in SERIALS]))
    assert refused.status_code == 409, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["children[0]", "children[1]"]
    assert {e["rule"] for e in refused.json()["errors"]} == {"not-held"}
    assert str(window.hold_id) in refused.json()["errors"][0]["message"]
    await pack(aggregation.client, sscc_uri(31), [unit(s) for s in SERIALS[2:]])  # another line, or before it

    await staged(aggregation, HoldLifted(hold_id=window.hold_id, reason="reviewed"))
    await pack(aggregation.client, sscc_uri(32), [unit(s) for s in SERIALS[:2]])
    tree = await tree_of(aggregation, sscc_uri(32))
    assert flagged(tree) == set()
