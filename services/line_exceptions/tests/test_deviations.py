"""Deviations: QA groups a batch's records and holds, records the root cause and CAPA actions,
and closes with an e-signature once the root cause is known; from a serial, its record leads to
the deviation. Each refusal names the rule and records nothing."""

from __future__ import annotations

from typing import Any

from line_exceptions_helpers import GTIN, LOT, OTHER_LOT, T0, log_of, record_body, staged
from serialtrail_contracts.identity import Role, Scope
from serialtrail_kit.testing.harness import Harness

UNITS = ["V1", "V2", "V3", "V4"]
CAUSE = {"category": "machine", "method": "5-why", "findings": "print head worn past its service interval"}
CAPA = {
    "kind": "corrective",
    "action": "print head in the PM plan every 500 h",
    "owner": "Engineering",
    "due_date": "2026-12-15",
    "effectiveness_check": "no print rejects over the next 3 batches",
}


def deviation_body(**extra: Any) -> dict[str, Any]:
    return {"batch": {"gtin": GTIN, "lot": LOT}, "title": "Blurred expiry", "description": "see records", **extra}


async def _record(client: Any, serial: str, lot: str = LOT) -> str:
    body = record_body("label-misprint", [f"(01){GTIN}(21){serial}"], batch={"gtin": GTIN, "lot": lot})
    answer = await client.post("/v1/exceptions", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["exception_id"])


async def test_a_deviation_groups_records_and_is_closed_with_root_cause_capa_and_signature(
    exceptions: Harness,
) -> None:
    await staged(exceptions, UNITS)
    client = exceptions.client
    first, second = await _record(client, "V1"), await _record(client, "V2")
    hold = await client.post(
        "/v1/holds",
        json={"batch": {"gtin": GTIN, "lot": LOT}, "whole_batch": True, "reason": "print fault", "event_time": T0},
    )
    opened = await client.post(
        "/v1/deviations", json=deviation_body(exception_ids=[first], qms_reference="DEV-2026-031")
    )
    assert opened.status_code == 201, opened.text
    url = opened.json()["deviation_url"]
    linked = await client.post(f"{url}/links", json={"exception_ids": [second], "hold_ids": [hold.json()["hold_id"]]})
    assert linked.status_code == 200, linked.text

    early = await client.post(f"{url}/closure", json={"reason": "done"})
    assert (early.status_code, early.json()["errors"][0]["rule"]) == (409, "root-cause-first")
    assert (await client.post(f"{url}/root-cause", json=CAUSE)).status_code == 200
    planned = await client.post(f"{url}/capas", json=CAPA)
    assert planned.status_code == 201, planned.text
    capa_url = f"{url}/capas/{planned.json()['capa_id']}/completion"
    done = await client.post(capa_url, json={"effective": True, "evidence": "3 batches, 0 rejects"})
    assert done.status_code == 200, done.text
    twice = await client.post(capa_url, json={"effective": True, "evidence": "again"})
    assert (twice.status_code, twice.json()["errors"][0]["rule"]) == (409, "capa-open")

    summary = (await client.get(f"/v1/batches/{GTIN}/{LOT}/exception-summary")).json()
    assert summary["deviations"] == {"open_deviations": 1, "open_capas": 0, "overdue_capas": 0}
    assert summary["holds"]["active"] == 1
    later_capa = (await client.post(f"{url}/capas", json={**CAPA, "kind": "preventive"})).json()["capa_id"]
    qa_token = await exceptions.token(Role.qa)
    async with exceptions.client_with(qa_token) as qa:
        unsigned = await qa.post(f"{url}/closure", json={"reason": "effective"})
        assert unsigned.json()["errors"][0]["rule"] == "qa-signature"
        signature = {"meaning": "approved", "credential": qa_token}
        closed = await qa.post(f"{url}/closure", json={"reason": "effective", "signature": signature})
        assert closed.status_code == 200, closed.text
        assert closed.json()["signature"]["signer_role"] == "qa"
        after = await qa.post(f"{url}/root-cause", json=CAUSE)
        assert (after.status_code, after.json()["errors"][0]["rule"]) == (409, "deviation-open")
        assert (await qa.post(f"{url}/capas", json=CAPA)).json()["errors"][0]["rule"] == "deviation-open"
        # A CAPA planned before closure is still completed after it (its effectiveness check comes later).
        late = await qa.post(f"{url}/capas/{later_capa}/completion", json={"effective": True, "evidence": "audit"})
        assert (late.status_code, late.json()["state"]) == (200, "closed"), late.text  # the deviation's state

    shown = (await client.get(url)).json()
    assert (shown["state"], shown["qms_reference"], shown["root_cause_category"]) == (
        "closed",
        "DEV-2026-031",
        "machine",
    )
    assert sorted(shown["exception_ids"]) == sorted([first, second])
    assert shown["hold_ids"] == [hold.json()["hold_id"]]
    assert sorted((c["kind"], c["state"]) for c in shown["capas"]) == [
        ("corrective", "completed"),
        ("preventive", "completed"),
    ]
    assert [h["event"] for h in shown["history"]] == [
        "DeviationOpened",
        "DeviationLinked",
        "RootCauseRecorded",
        "CapaPlanned",
        "CapaCompleted",
        "CapaPlanned",
        "DeviationClosed",
        "CapaCompleted",
    ]
    # From the serial to its record, and from the record to the deviation.
    history = (await client.get(f"/v1/serials/{GTIN}/V2/exceptions")).json()["exceptions"]
    assert [h["deviations"] for h in history] == [[opened.json()["deviation_id"]]]
    listed = (await client.get("/v1/deviations", params={"gtin": GTIN, "lot": LOT, "state": "closed"})).json()
    assert [d["deviation_id"] for d in listed["deviations"]] == [opened.json()["deviation_id"]]


async def test_a_deviation_groups_only_its_batchs_records_each_once(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    client = exceptions.client
    mine, other_lot = await _record(client, "V1"), await _record(client, "OTHER1", OTHER_LOT)
    url = (await client.post("/v1/deviations", json=deviation_body(exception_ids=[mine]))).json()["deviation_url"]
    before = len(await log_of(exceptions))
    unknown = "00000000-0000-4000-8000-000000000000"
    for path, body, status, field, rule in (
        ("/v1/deviations", deviation_body(exception_ids=[other_lot]), 422, "exception_ids[0]", "linked-of-batch"),
        ("/v1/deviations", deviation_body(hold_ids=[unknown]), 422, "hold_ids[0]", "linked-of-batch"),
        ("/v1/deviations", deviation_body(exception_ids=[mine, mine]), 422, "exception_ids[1]", "linked-once"),
        (f"{url}/links", {"exception_ids": [mine]}, 422, "exception_ids[0]", "linked-once"),
        (f"{url}/links", {}, 422, "exception_ids", "links-something"),
        (f"{url}/root-cause", {**CAUSE, "category": "money"}, 422, "body.category", "enum"),
        (f"{url}/capas", {**CAPA, "due_date": "soon"}, 422, "body.due_date", "date_from_datetime_parsing"),
        (f"{url}/capas/{unknown}/completion", {"effective": True, "evidence": "x"}, 404, "capa_id", "exists"),
        (
            f"{url}/capas/{unknown}/completion",
            {"effective": "yes", "evidence": "x"},
            422,
            "body.effective",
            "bool_type",
        ),
    ):
        answer = await client.post(path, json=body)
        assert answer.status_code == status, answer.text
        assert (field, rule) in {(e["field"], e["rule"]) for e in answer.json()["errors"]}, answer.text
    assert len(await log_of(exceptions)) == before


async def test_another_cmos_deviation_is_not_theirs_to_see_or_change(exceptions: Harness) -> None:
    await staged(exceptions, UNITS, cmo_id="ACME")
    url = (await exceptions.client.post("/v1/deviations", json=deviation_body())).json()["deviation_url"]
    other = Scope(company_prefixes=frozenset({"9506000"}), cmos=frozenset({"OTHERCO"}))
    async with exceptions.client_with(await exceptions.token(Role.qa, other)) as stranger:
        assert (await stranger.get(url)).status_code == 404
        assert (await stranger.post(f"{url}/root-cause", json=CAUSE)).status_code == 404
        assert (await stranger.get("/v1/deviations")).json()["deviations"] == []
        refused = await stranger.post("/v1/deviations", json=deviation_body())
        assert (refused.status_code, refused.json()["errors"][0]["rule"]) == (422, "known-batch")
    async with exceptions.client_with(await exceptions.token(Role.line)) as line:
        assert (await line.post(f"{url}/root-cause", json=CAUSE)).status_code == 403


async def test_a_deviation_groups_only_records_the_caller_may_see(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    other_line = record_body("label-misprint", [f"(01){GTIN}(21)V3"], line_id="LINE-2")
    theirs = (await exceptions.client.post("/v1/exceptions", json=other_line)).json()["exception_id"]
    scope = Scope(company_prefixes=frozenset({"9506000"}), lines=frozenset({"LINE-1"}))
    async with exceptions.client_with(await exceptions.token(Role.qa, scope)) as qa_line_one:
        # Another line's record reads as an unknown one: grouping only it, the deviation would
        # be the whole batch's, which a principal narrowed to a line does not open.
        refused = await qa_line_one.post("/v1/deviations", json=deviation_body(exception_ids=[theirs]))
        unknown = await qa_line_one.post(
            "/v1/deviations", json=deviation_body(exception_ids=["00000000-0000-4000-8000-000000000000"])
        )
        assert refused.status_code == unknown.status_code == 403, refused.text
        assert refused.json()["detail"] == unknown.json()["detail"]
        # Beside one of its own line's records, another line's reads exactly as an unknown one.
        own = record_body("label-misprint", [f"(01){GTIN}(21)V4"], line_id="LINE-1")
        mine = (await exceptions.client.post("/v1/exceptions", json=own)).json()["exception_id"]
        answers = [
            await qa_line_one.post("/v1/deviations", json=deviation_body(exception_ids=[mine, other]))
            for other in (theirs, "00000000-0000-4000-8000-000000000000")
        ]
        assert [(a.status_code, a.json()["errors"][0]["rule"]) for a in answers] == [(422, "linked-of-batch")] * 2
        messages = [a.json()["errors"][0]["message"].split(" is ")[1] for a in answers]
        assert messages[0] == messages[1], messages
