"""Line exceptions composed with serial issuance and aggregation: a unit a record takes out of
the supply chain is refused by packing, learnt only from the line exceptions log; a unit only
flagged (an unreadable scan) is still packable; a cascade over a closed case takes out
each unit in it, and aggregation flags them in the tree."""

from __future__ import annotations

from aggregation_helpers import pack_body
from issuance_helpers import GTIN, LOT, batch, commission, product, serials, site
from serialtrail.services import SERVICES
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import Harness, serve


async def commissioned_units_and_a_case(harness: Harness, count: int) -> tuple[list[str], str]:
    """A batch with `count` units commissioned on a registered line (known to line exceptions),
    and an SSCC to pack them into."""
    client = harness.client
    await product(client)
    await batch(client)
    await site(client)
    issued = await serials(client, count)
    assert (await commission(client, issued)).status_code == 201
    ssccs = await client.post(
        "/v1/sscc-requests", json={"company_prefix": "9506000", "extension_digit": 0, "quantity": 1}
    )
    case = (await client.get(f"/v1/sscc-requests/{ssccs.json()['request_id']}/ssccs")).text.split()[0]
    await harness.runner("line_exceptions", "knowledge").caught_up()
    return [f"(01){GTIN}(21){s}" for s in issued], case


async def test_a_unit_taken_out_on_the_line_is_refused_by_packing(database_dsn: str) -> None:
    async with serve(database_dsn, SERVICES) as harness:
        client = harness.client
        units, case = await commissioned_units_and_a_case(harness, 3)
        record = {
            "batch": {"gtin": GTIN, "lot": LOT},
            "line_id": "LINE-1",
            "event_time": moment(),
            "description": "carton crushed at the case packer",
            "observed_by": "line operator",
        }
        damaged = await client.post("/v1/exceptions", json={**record, "type": "damaged", "units": [units[0]]})
        assert damaged.status_code == 201, damaged.text
        flagged = await client.post("/v1/exceptions", json={**record, "type": "unreadable", "units": [units[1]]})
        assert flagged.status_code == 201, flagged.text
        await harness.runner("aggregation", "decommissions").caught_up()
        await harness.runner("aggregation", "knowledge").caught_up()

        refused = await client.post("/v1/pack", json=pack_body(case, units, event_time=moment()))
        assert refused.status_code == 409, refused.text
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("children[0]", "not-decommissioned")]
        # Serial issuance tells it too: the serial's status and history name the record.
        await harness.runner("serial_issuance", "decommissions").caught_up()
        serial = units[0].rsplit("(21)", 1)[1]
        status = (await client.get(f"/v1/serials/{GTIN}/{serial}")).json()
        assert (status["status"], status["history"][-1]["exception_id"]) == (
            "decommissioned",
            damaged.json()["exception_id"],
        )
        packed = await client.post("/v1/pack", json=pack_body(case, units[1:], event_time=moment()))
        assert packed.status_code == 201, packed.text


async def test_a_hold_placed_on_the_line_is_refused_by_packing_until_qa_lifts_it(database_dsn: str) -> None:
    async with serve(database_dsn, SERVICES) as harness:
        client = harness.client
        units, case = await commissioned_units_and_a_case(harness, 2)
        body = {"batch": {"gtin": GTIN, "lot": LOT}, "whole_batch": True, "reason": "deviation", "event_time": moment()}
        placed = await client.post("/v1/holds", json=body)
        assert placed.status_code == 201, placed.text
        await harness.runner("aggregation", "holds").caught_up()
        await harness.runner("aggregation", "knowledge").caught_up()

        refused = await client.post("/v1/pack", json=pack_body(case, units, event_time=moment()))
        assert refused.status_code == 409, refused.text
        assert {e["rule"] for e in refused.json()["errors"]} == {"not-held"}
        admin_key = harness.client.headers["Authorization"].removeprefix("Bearer ")
        signature = {"meaning": "approved", "credential": admin_key}
        lift = {"reason": "deviation closed", "signature": signature}
        lifted = await client.post(f"{placed.json()['hold_url']}/lift", json=lift)
        assert lifted.status_code == 200, lifted.text
        await harness.runner("aggregation", "holds").caught_up()
        packed = await client.post("/v1/pack", json=pack_body(case, units, event_time=moment()))
        assert packed.status_code == 201, packed.text


async def test_a_cascade_over_a_closed_case_takes_out_each_unit_in_it_and_aggregation_flags_them(
    database_dsn: str,
) -> None:
    async with serve(database_dsn, SERVICES) as harness:
        client = harness.client
        units, case = await commissioned_units_and_a_case(harness, 3)
        assert (await client.post("/v1/pack", json=pack_body(case, units, event_time=moment()))).status_code == 201
        assert (await client.post(f"/v1/close/{case}", json={"expected_count": 3})).status_code == 200
        await harness.runner("line_exceptions", "hierarchy").caught_up()
        record = {
            "type": "destroyed",
            "batch": {"gtin": GTIN, "lot": LOT},
            "parents": [case],
            "cascade": True,
            "line_id": "LINE-1",
            "event_time": moment(),
            "description": "case crushed by the palletiser",
            "observed_by": "line operator",
        }
        destroyed = await client.post("/v1/exceptions", json=record)
        assert destroyed.status_code == 201, destroyed.text
        assert destroyed.json()["taken_out"] == 3
        await harness.runner("aggregation", "decommissions").caught_up()

        tree = (await client.get(f"/v1/hierarchy/{case}")).json()
        assert sorted(c["status"] for c in tree["children"]) == ["error"] * 3, tree
        for serial in (u.rsplit("(21)", 1)[1] for u in units):
            history = (await client.get(f"/v1/serials/{GTIN}/{serial}/exceptions")).json()["exceptions"]
            assert [(h["role"], h["via"]) for h in history] == [("cascaded", tree["id"])]


async def test_a_rework_recorded_on_the_line_shows_in_both_serials_histories_in_serial_issuance(
    database_dsn: str,
) -> None:
    async with serve(database_dsn, SERVICES) as harness:
        client = harness.client
        (old, new), _ = await commissioned_units_and_a_case(harness, 2)
        record = {
            "type": "rework",
            "batch": {"gtin": GTIN, "lot": LOT},
            "units": [old],
            "replacement": new,
            "line_id": "LINE-1",
            "event_time": moment(),
            "description": "label smudged, relabelled with a spare serial",
            "observed_by": "line operator",
        }
        reworked = await client.post("/v1/exceptions", json=record)
        assert reworked.status_code == 201, reworked.text
        for reader in ("reactor_rework", "serial_status", "decommissions"):
            await harness.runner("serial_issuance", reader).caught_up()

        old_serial, new_serial = (u.rsplit("(21)", 1)[1] for u in (old, new))
        was = (await client.get(f"/v1/serials/{GTIN}/{old_serial}")).json()
        now = (await client.get(f"/v1/serials/{GTIN}/{new_serial}")).json()
        exception_id = reworked.json()["exception_id"]
        assert (was["status"], was["history"][-1]["event"], was["history"][-1]["serial"]) == (
            "decommissioned",
            "replaced",
            new_serial,
        )
        assert (now["status"], now["history"][-1]["event"], now["history"][-1]["serial"]) == (
            "commissioned",
            "replaces",
            old_serial,
        )
        assert was["history"][-1]["exception_id"] == now["history"][-1]["exception_id"] == exception_id
