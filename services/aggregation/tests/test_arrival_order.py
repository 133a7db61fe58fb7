"""Out-of-order arrival: lines and CMOs send aggregation before commissioning reaches this
service. Pending links are accepted, stay visible, and are confirmed when the facts arrive;
the final hierarchy does not depend on the order in which anything arrived."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from aggregation_helpers import (
    GTIN,
    PREFIX,
    commissioned,
    master_data,
    pack,
    publish,
    tree_shape,
    unit,
)
from serialtrail_contracts.serials import BatchRegistered, SsccRangeAllocated
from serialtrail_gs1.keys import sscc
from serialtrail_kit.testing.harness import Harness

Step = Callable[[], Awaitable[None]]


async def test_a_pending_units_scanned_lot_is_checked_when_its_commissioning_arrives(aggregation: Harness) -> None:
    """Packed before its commissioning arrived, a unit keeps the lot its scan said. Commissioned
    into that lot, the link is confirmed; into another lot (a label mix-up, or a unit claimed
    for someone else's batch) the link is an error in the tree and in that batch's report."""
    client = aggregation.client
    other = BatchRegistered(gtin=GTIN, lot="L2026B", expiry=date(2028, 6, 30), site_gln="9506000000008")
    await publish(aggregation, *master_data(), other)
    case = f"https://id.gs1.org/00/{sscc(0, PREFIX, 77)}"
    packed = await pack(
        client, case, [f"(01){GTIN}(21)LOTCHECK0001(10)L2026A", f"(01){GTIN}(21)LOTCHECK0002(10)L2026A"]
    )
    assert len(packed["pending_children"]) == 2
    b_report = (await client.get(f"/v1/batches/{GTIN}/L2026B/aggregation-report")).json()
    assert b_report["pending_links"]["count"] == 0  # they said lot L2026A: not this batch's to finish

    await publish(aggregation, commissioned(["LOTCHECK0001"]), commissioned(["LOTCHECK0002"], lot="L2026B"))
    tree = (await client.get(f"/v1/hierarchy/{case}")).json()
    assert {c["id"]: c["status"] for c in tree["children"]} == {
        unit("LOTCHECK0001"): "confirmed",
        unit("LOTCHECK0002"): "error",
    }
    assert tree["counts"]["errors"] == 1
    b_report = (await client.get(f"/v1/batches/{GTIN}/L2026B/aggregation-report")).json()
    assert b_report["errors"]["items"] == [
        {"child": unit("LOTCHECK0002"), "parent": case, "problem": "packed as lot L2026A, commissioned into lot L2026B"}
    ]
    assert b_report["complete"] is False


async def test_a_pending_unit_used_as_parent_is_checked_the_same_way(aggregation: Harness) -> None:
    """The fifth review: a bundle's parent, an SGTIN not commissioned yet and scanned with one
    lot, stayed 'confirmed' when its commissioning named another."""
    client = aggregation.client
    other = BatchRegistered(gtin=GTIN, lot="L2026B", expiry=date(2028, 6, 30), site_gln="9506000000008")
    await publish(aggregation, *master_data(), other, commissioned(["INBUNDLE0001"]))
    bundle = f"(01){GTIN}(21)BUNDLEPAR001(10)L2026A"
    await pack(client, bundle, [unit("INBUNDLE0001")], level="bundle")
    await publish(aggregation, commissioned(["BUNDLEPAR001"], lot="L2026B"))
    tree = (await client.get(f"/v1/hierarchy/{unit('BUNDLEPAR001')}")).json()
    assert tree["status"] == "error"
    report = (await client.get(f"/v1/batches/{GTIN}/L2026B/aggregation-report")).json()
    assert {
        "child": unit("BUNDLEPAR001"),
        "parent": unit("BUNDLEPAR001"),
        "problem": "packed as lot L2026A, commissioned into lot L2026B",
    } in report["errors"]["items"]


async def test_pending_links_are_visible_then_confirmed(aggregation: Harness) -> None:
    client = aggregation.client
    product, batch, _, line_1 = master_data()
    await publish(aggregation, product, batch, line_1)  # no SSCC range, nothing commissioned
    case = f"https://id.gs1.org/00/{sscc(0, PREFIX, 42)}"
    packed = await pack(client, case, [unit("P0000000000A"), unit("P0000000000B")])
    assert packed["pending_children"] == [unit("P0000000000A"), unit("P0000000000B")]
    assert packed["parent_pending"] is True

    tree = (await client.get(f"/v1/hierarchy/{case}")).json()
    assert tree["status"] == "pending"
    assert {c["status"] for c in tree["children"]} == {"pending"}
    report = (await client.get(f"/v1/batches/{GTIN}/L2026A/aggregation-report")).json()
    assert report["pending_links"]["count"] == 2
    assert report["pending_links"]["items"][0] == {"child": unit("P0000000000A"), "parent": case}
    assert report["complete"] is False

    await publish(aggregation, commissioned(["P0000000000A"]))
    tree = (await client.get(f"/v1/hierarchy/{case}")).json()
    assert {c["id"]: c["status"] for c in tree["children"]} == {
        unit("P0000000000A"): "confirmed",
        unit("P0000000000B"): "pending",
    }
    await publish(
        aggregation,
        commissioned(["P0000000000B"]),
        SsccRangeAllocated(
            request_id=uuid.uuid4(), company_prefix=PREFIX, extension_digit=0, first_reference=40, quantity=5
        ),
    )
    tree = (await client.get(f"/v1/hierarchy/{case}")).json()
    assert tree["status"] == "confirmed"
    assert tree["counts"]["pending"] == 0
    report = (await client.get(f"/v1/batches/{GTIN}/L2026A/aggregation-report")).json()
    assert (report["pending_links"]["count"], report["pending_parents"]["count"], report["aggregated"]) == (0, 0, 2)


class Scenario:
    """One pallet of two cases of three units, under identifiers unique to one run."""

    def __init__(self, h: Harness, run: int) -> None:
        self.h, self.run, self.lot = h, run, f"SHUF{run}"
        self.units = [f"S{run:03d}U{i:07d}" for i in range(6)]
        base = 1000 + run * 10
        self.case1, self.case2, self.pallet = (f"https://id.gs1.org/00/{sscc(0, PREFIX, base + i)}" for i in range(3))
        self.range = SsccRangeAllocated(
            request_id=uuid.uuid4(), company_prefix=PREFIX, extension_digit=0, first_reference=base, quantity=3
        )
        self.roles = {self.case1: "case1", self.case2: "case2", self.pallet: "pallet"}
        self.roles |= {unit(s): f"unit{i}" for i, s in enumerate(self.units)}

    def steps(self) -> dict[str, Step]:
        client, u = self.h.client, [unit(s) for s in self.units]

        async def close_case1() -> None:
            assert (await client.post(f"/v1/close/{self.case1}", json={"expected_count": 3})).status_code == 200

        async def pack_(parent: str, children: list[str], level: str) -> None:
            await pack(client, parent, children, level)

        return {
            "commission-first": lambda: publish(self.h, commissioned(self.units[:3], lot=self.lot)),
            "commission-second": lambda: publish(self.h, commissioned(self.units[3:], lot=self.lot)),
            "allocate-ssccs": lambda: publish(self.h, self.range),
            "pack-case1": lambda: pack_(self.case1, u[:3], "case"),
            "pack-case2": lambda: pack_(self.case2, u[3:], "case"),
            "pack-pallet": lambda: pack_(self.pallet, [self.case1, self.case2], "pallet"),
            "close-case1": close_case1,
        }

    async def outcome(self) -> dict[str, Any]:
        client = self.h.client
        tree = (await client.get(f"/v1/hierarchy/{self.pallet}")).json()
        report = (await client.get(f"/v1/batches/{GTIN}/{self.lot}/aggregation-report")).json()
        ancestors = (await client.get(f"/v1/ancestors/{unit(self.units[4])}")).json()
        return {
            "tree": self._named(tree_shape(tree)),
            "closed": {self.roles[c["id"]]: c["closed"] for c in tree["children"]},
            "ancestors": [self.roles[a["id"]] for a in ancestors["ancestors"]],
            "report": {k: v["count"] if isinstance(v, dict) else v for k, v in report.items() if k not in ("lot",)},
        }

    def _named(self, shape: dict[str, Any]) -> dict[str, Any]:
        children = sorted((self._named(c) for c in shape["children"]), key=lambda c: c["id"])
        return {"id": self.roles[shape["id"]], "status": shape["status"], "children": children}


def _orders(count: int, seed: int) -> list[list[str]]:
    names = ["commission-first", "commission-second", "allocate-ssccs"]  # facts from serial issuance
    names += ["pack-case1", "pack-case2", "pack-pallet", "close-case1"]  # requests to aggregation
    rng = random.Random(seed)
    orders = [names, names[3:] + names[:3]]  # every fact first; every fact last
    while len(orders) < count:
        order = rng.sample(names, len(names))
        if order.index("close-case1") > order.index("pack-case1"):  # closing needs something packed
            orders.append(order)
    return orders


async def test_the_same_events_in_any_order_give_the_same_hierarchy(aggregation: Harness) -> None:
    await publish(aggregation, master_data()[0], master_data()[-1])  # the product and the line
    outcomes = []
    for run, order in enumerate(_orders(8, seed=20261122)):
        await publish(
            aggregation,
            BatchRegistered(gtin=GTIN, lot=f"SHUF{run}", expiry=date(2028, 6, 30), site_gln="9506000000008"),
        )
        scenario = Scenario(aggregation, run)
        steps = scenario.steps()
        for name in order:
            await steps[name]()
        outcomes.append((order, await scenario.outcome()))
    first_order, expected = outcomes[0]
    assert expected["tree"]["status"] == "confirmed"
    assert expected["ancestors"] == ["case2", "pallet"]
    assert expected["report"]["aggregated"] == 6
    for order, outcome in outcomes[1:]:
        assert outcome == expected, f"{order} differs from {first_order}"


async def test_a_unit_packed_before_its_commissioning_is_an_error_whichever_arrived_first(
    aggregation: Harness,
) -> None:
    """Packed while pending at 08:00Z, a unit whose commissioning then arrives dated 09:00Z was
    packed before it existed: the link is an error in the tree and the report, as the pack would
    have been refused had the commissioning come first. One dated 08:04Z (within the 5 minutes
    line clocks may differ) is confirmed."""
    client = aggregation.client
    await publish(aggregation, *master_data())
    case = f"https://id.gs1.org/00/{sscc(0, PREFIX, 78)}"
    await pack(client, case, [unit("EARLYPACK001"), unit("EARLYPACK002")])  # at T0, 08:00Z
    late = commissioned(["EARLYPACK001"]).model_copy(update={"event_time": datetime(2026, 11, 22, 9, tzinfo=UTC)})
    skewed = commissioned(["EARLYPACK002"]).model_copy(update={"event_time": datetime(2026, 11, 22, 8, 4, tzinfo=UTC)})
    await publish(aggregation, late, skewed)
    tree = (await client.get(f"/v1/hierarchy/{case}")).json()
    assert {c["id"]: c["status"] for c in tree["children"]} == {
        unit("EARLYPACK001"): "error",
        unit("EARLYPACK002"): "confirmed",
    }
    report = (await client.get(f"/v1/batches/{GTIN}/L2026A/aggregation-report")).json()
    assert {
        "child": unit("EARLYPACK001"),
        "parent": case,
        "problem": "packed at 2026-11-22T08:00:00Z, before its commissioning at 2026-11-22T09:00:00Z",
    } in report["errors"]["items"]
    assert unit("EARLYPACK002") not in str(report["errors"])
