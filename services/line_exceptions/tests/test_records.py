"""Exception records on real PostgreSQL, on both transports: what a record takes out of the
supply chain, its history, and every refusal naming the field and the rule with nothing
recorded."""

from __future__ import annotations

from typing import Any

import pytest
from line_exceptions_helpers import GTIN, LOT, OTHER_LOT, log_of, record_body, scan, staged
from serialtrail_contracts.exceptions import SerialsDecommissioned
from serialtrail_kit.testing.harness import Harness

UNITS = ["A1", "A2", "A3", "A4", "A5", "A6"]


def unit(serial: str) -> str:
    return f"(01){GTIN}(21){serial}"


async def test_a_misprint_takes_its_units_out_and_is_read_back_with_its_history(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    client = exceptions.client
    answer = await client.post("/v1/exceptions", json=record_body("label-misprint", [scan("A1"), unit("A2")]))
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert (created["state"], created["units"], created["taken_out"]) == ("open", 2, 2)

    taken_out = [e for e in await log_of(exceptions) if e.event_type == SerialsDecommissioned.EVENT_TYPE]
    assert [(e.payload["serials"], e.payload["reason"]) for e in taken_out] == [(["A1", "A2"], "misprint")]

    record = (await client.get(created["record_url"])).json()
    assert (record["exception_type"], record["state"], record["serials"]) == ("label-misprint", "open", ["A1", "A2"])
    assert (record["lot"], record["line_id"], record["taken_out"]) == ("L2026A", "LINE-1", 2)
    assert record["event_time"].startswith("2026-11-22T07:00:00")  # the offset kept its instant
    assert [h["event"] for h in record["history"]] == ["ExceptionRecorded", "SerialsDecommissioned"]
    assert record["history"][0]["principal_id"] == record["recorded_by"]

    of_unit = (await client.get(f"/v1/serials/{GTIN}/A2/exceptions")).json()
    assert [(r["exception_id"], r["role"]) for r in of_unit["exceptions"]] == [(created["exception_id"], "named")]
    assert (await client.get(f"/v1/serials/{GTIN}/A3/exceptions")).json()["exceptions"] == []


async def test_an_unreadable_scan_is_recorded_without_taking_the_unit_out(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    answer = await exceptions.client.post("/v1/exceptions", json=record_body("unreadable", [unit("A1")]))
    assert answer.json()["taken_out"] == 0
    assert SerialsDecommissioned.EVENT_TYPE not in {e.event_type for e in await log_of(exceptions)}
    # …so it is still in the supply chain: a reject that follows takes it out.
    rejected = await exceptions.client.post("/v1/exceptions", json=record_body("destroyed", [unit("A1")]))
    assert rejected.json()["taken_out"] == 1


BAD_RECORDS: list[tuple[dict[str, Any], int, str, str]] = [
    (record_body("damaged", [unit("NEVER1")]), 422, "units[0]", "commissioned"),
    (record_body("damaged", [unit("OTHER1")]), 422, "units[0]", "unit-of-batch"),
    (record_body("damaged", ["(01)09506000134369(21)A1"]), 422, "units[0]", "unit-of-batch"),
    (record_body("damaged", [unit("A1"), unit("A1")]), 422, "units[1]", "unique-unit"),
    (record_body("damaged", ["(01)09506000134353(21)A1"]), 422, "units[0]", "gs1-check-digit"),
    (record_body("damaged", [unit("A1")], batch={"gtin": GTIN, "lot": "NOPE"}), 422, "batch.lot", "known-batch"),
    (record_body("damaged", [unit("A1")], line_id="LINE-9"), 422, "line_id", "registered-line"),
    (record_body("damaged", [unit("A1")], event_time="2099-01-01T00:00:00Z"), 422, "event_time", "not-in-future"),
    (record_body("damaged", [unit("A1")], replacement=unit("A2")), 422, "replacement", "replacement-for-rework"),
    (record_body("rework", [unit("A1")]), 422, "replacement", "replacement-for-rework"),
    (record_body("rework", [unit("A1")], replacement=unit("NEVER2")), 422, "replacement", "commissioned"),
    (record_body("rework", [unit("A1")], replacement=unit("OTHER2")), 422, "replacement", "unit-of-batch"),
    (record_body("rework", [unit("A1")], replacement=unit("A1")), 409, "replacement", "replacement-unused"),
    (record_body("damaged", []), 422, "units", "names-units"),
    (record_body("damaged", [unit("A1")], cascade="true"), 422, "body.cascade", "bool_type"),
    # A year-0 instant no reader can hold (it stopped every read model of it, for good), and one
    # before any event this system records.
    (
        record_body("damaged", [unit("A1")], event_time="0001-01-01T00:00:00+14:00"),
        422,
        "body.event_time",
        "value_error",
    ),
    (record_body("damaged", [unit("A1")], event_time="1969-12-31T23:59:59Z"), 422, "body.event_time", "value_error"),
    (record_body("damaged", [unit("A1")], event_time="2026-11-22T06:59:59Z"), 409, "event_time", "after-commissioning"),
    # A label of another batch (lot or expiry) on a unit recorded as anything but a wrong label.
    (record_body("damaged", [f"]d201{GTIN}1728063010{OTHER_LOT}\x1d21A1"]), 422, "units[0]", "label-matches-batch"),
    (record_body("damaged", [f"]d201{GTIN}1728053110{LOT}\x1d21A1"]), 422, "units[0]", "label-matches-batch"),
]


@pytest.mark.parametrize(("body", "status", "field", "rule"), BAD_RECORDS)
async def test_a_bad_record_is_refused_naming_field_and_rule_and_nothing_is_recorded(
    exceptions: Harness, body: dict[str, Any], status: int, field: str, rule: str
) -> None:
    await staged(exceptions, UNITS)
    before = len(await log_of(exceptions))
    answer = await exceptions.client.post("/v1/exceptions", json=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert {(e["field"], e["rule"]) for e in answer.json()["errors"]} >= {(field, rule)}, answer.text
    assert len(await log_of(exceptions)) == before


async def test_a_unit_is_taken_out_once(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    first = await exceptions.client.post("/v1/exceptions", json=record_body("damaged", [unit("A1")]))
    before = len(await log_of(exceptions))
    again = await exceptions.client.post("/v1/exceptions", json=record_body("stolen", [unit("A2"), unit("A1")]))
    assert again.status_code == 409, again.text
    assert again.json()["errors"] == [
        {
            "field": "units[1]",
            "rule": "in-supply-chain",
            "message": f"serial A1 was taken out of the supply chain by exception {first.json()['exception_id']}",
        }
    ]
    assert len(await log_of(exceptions)) == before


async def test_a_record_says_what_it_means_to_the_eu_hub_and_to_dscsa_partners(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    client = exceptions.client
    stolen = await client.post("/v1/exceptions", json=record_body("stolen", [unit("A1")]))
    unreadable = await client.post("/v1/exceptions", json=record_body("unreadable", [unit("A2")]))
    detail = (await client.get(f"/v1/exceptions/{stolen.json()['exception_id']}")).json()
    assert detail["meaning"] == {
        "takes_out": True,
        "decommission_reason": "stolen",
        "biz_step": "decommissioning",
        "disposition": "stolen",
        "eu_fmd_pack_state": "Stolen",
        "dscsa_reason": "stolen",
    }
    of_unit = (await client.get(f"/v1/serials/{GTIN}/A2/exceptions")).json()["exceptions"]
    assert [(r["exception_id"], r["meaning"]["takes_out"], r["meaning"]["eu_fmd_pack_state"]) for r in of_unit] == [
        (unreadable.json()["exception_id"], False, None)
    ]
    listed = (await client.get("/v1/exceptions", params={"type": "stolen"})).json()["exceptions"]
    assert [r["meaning"]["dscsa_reason"] for r in listed] == ["stolen"]


async def test_rework_links_old_and_new_serial_both_ways_and_uses_a_replacement_once(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    client = exceptions.client
    answer = await client.post("/v1/exceptions", json=record_body("rework", [unit("A1")], replacement=scan("A5")))
    assert answer.status_code == 201, answer.text
    reworked = answer.json()["exception_id"]
    old = (await client.get(f"/v1/serials/{GTIN}/A1/exceptions")).json()["exceptions"]
    new = (await client.get(f"/v1/serials/{GTIN}/A5/exceptions")).json()["exceptions"]
    assert [(r["exception_id"], r["role"], r["replacement_serial"]) for r in old] == [(reworked, "named", "A5")]
    assert [(r["exception_id"], r["role"]) for r in new] == [(reworked, "replacement")]

    again = await client.post("/v1/exceptions", json=record_body("rework", [unit("A2")], replacement=unit("A5")))
    assert again.status_code == 409
    assert again.json()["errors"][0]["rule"] == "replacement-unused"
    assert reworked in again.json()["errors"][0]["message"]
    # The reworked unit itself is out of the supply chain: it cannot be a replacement either.
    used_up = await client.post("/v1/exceptions", json=record_body("rework", [unit("A3")], replacement=unit("A1")))
    assert used_up.status_code == 409
    assert used_up.json()["errors"][0]["rule"] == "replacement-unused"


async def test_lists_filter_by_batch_line_state_and_type(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    client = exceptions.client
    for kind, serials, line_id in (
        ("damaged", ["A1"], "LINE-1"),
        ("lost", ["A2"], "LINE-2"),
        ("unreadable", ["A3"], "LINE-1"),
    ):
        body = record_body(kind, [unit(s) for s in serials], line_id=line_id)
        assert (await client.post("/v1/exceptions", json=body)).status_code == 201

    async def types(**query: str) -> list[str]:
        answer = await client.get("/v1/exceptions", params=query)
        assert answer.status_code == 200, answer.text
        return sorted(r["exception_type"] for r in answer.json()["exceptions"])

    assert await types() == ["damaged", "lost", "unreadable"]
    assert await types(gtin=GTIN, lot="L2026A", line="LINE-1") == ["damaged", "unreadable"]
    assert await types(line="urn:epc:id:sgln:9506000.00000.LINE-2") == ["lost"]  # a line by its read point
    assert await types(type="lost") == ["lost"]
    assert await types(state="open", lot=OTHER_LOT) == []
    page = (await client.get("/v1/exceptions", params={"limit": "2"})).json()
    rest = (await client.get("/v1/exceptions", params={"limit": "2", "after": page["next_after"]})).json()
    assert len(page["exceptions"]) == 2
    assert len(rest["exceptions"]) == 1
    assert rest["next_after"] is None
    bad = await client.get("/v1/exceptions", params={"state": "closed"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.state"


async def test_a_batch_summary_counts_by_type_and_state_with_the_ageing_of_open_records(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    client = exceptions.client
    made = []
    for kind, serial in (("damaged", "A1"), ("damaged", "A2"), ("unreadable", "A3"), ("qc-sample", "A4")):
        answer = await client.post("/v1/exceptions", json=record_body(kind, [unit(serial)]))
        made.append(answer.json()["exception_id"])
    cancelled = await client.post(f"/v1/exceptions/{made[2]}/cancellation", json={"reason": "read fine"})
    assert cancelled.status_code == 200
    summary = (await client.get(f"/v1/batches/{GTIN}/L2026A/exception-summary")).json()
    assert (summary["records"], summary["units_taken_out"]) == (4, 3)
    assert summary["by_type"] == {"damaged": {"open": 2}, "qc-sample": {"open": 1}, "unreadable": {"cancelled": 1}}
    assert summary["by_state"] == {"open": 3, "cancelled": 1}
    ageing = summary["open_ageing"]
    assert (ageing["under_1_day"], ageing["1_to_7_days"], ageing["over_7_days"]) == (3, 0, 0)
    assert ageing["oldest_open_since"] is not None
    other = (await client.get(f"/v1/batches/{GTIN}/{OTHER_LOT}/exception-summary")).json()
    assert (other["records"], other["by_type"], other["open_ageing"]["oldest_open_since"]) == (0, {}, None)
    unknown = await client.get(f"/v1/batches/{GTIN}/NOPE/exception-summary")
    assert (unknown.status_code, unknown.json()["errors"][0]["rule"]) == (404, "known-batch")


async def test_a_wrong_label_record_names_units_by_the_label_they_carry(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    other_label = f"]d201{GTIN}1728063010{OTHER_LOT}\x1d21A1"
    answer = await exceptions.client.post("/v1/exceptions", json=record_body("wrong-label", [other_label]))
    assert answer.status_code == 201, answer.text


async def test_a_mistyped_gtin_in_a_path_is_named_as_such(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    wrong = GTIN[:-1] + str((int(GTIN[-1]) + 1) % 10)
    for path in (f"/v1/serials/{wrong}/A1/exceptions", f"/v1/batches/{wrong}/{LOT}/exception-summary"):
        answer = await exceptions.client.get(path)
        assert answer.status_code == 422, answer.text
        [error] = answer.json()["errors"]
        assert (error["field"], error["rule"]) == ("gtin", "gtin")
        assert error["message"].startswith("check digit is wrong"), error
