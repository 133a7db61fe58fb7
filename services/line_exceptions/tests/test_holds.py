"""Containment holds: placed on a batch or on units and parents of it, listed by batch, lifted
once and only with a QA e-signature; each refusal names the rule and records nothing."""

from __future__ import annotations

from typing import Any

from line_exceptions_helpers import (
    GTIN,
    LOT,
    OTHER_LOT,
    T0,
    aggregated,
    commissioned,
    log_of,
    packed,
    publish,
    sscc,
    staged,
    unit_uri,
)
from serialtrail_contracts.identity import Role, Scope
from serialtrail_kit.testing.harness import Harness

UNITS = ["D1", "D2", "D3"]
CASE = sscc(1)


def hold_body(**extra: Any) -> dict[str, Any]:
    return {"batch": {"gtin": GTIN, "lot": LOT}, "reason": "printer fault 08:00-08:40", "event_time": T0, **extra}


async def test_a_hold_is_placed_listed_and_lifted_once_with_a_qa_signature(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    await aggregated(exceptions, *packed(CASE, [unit_uri("D2"), unit_uri("D3")]))
    client = exceptions.client
    body = hold_body(units=[f"(01){GTIN}(21)D1"], parents=["00095060000000000015"])
    placed = await client.post("/v1/holds", json=body)
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    shown = (await client.get(hold["hold_url"])).json()
    assert (shown["state"], shown["serials"], shown["parents"]) == ("active", ["D1"], [CASE])
    listed = (await client.get("/v1/holds", params={"gtin": GTIN, "lot": LOT})).json()["holds"]
    assert [h["hold_id"] for h in listed] == [hold["hold_id"]]
    assert (await client.get("/v1/holds", params={"lot": OTHER_LOT})).json()["holds"] == []

    before = len(await log_of(exceptions))
    unsigned = await client.post(f"{hold['hold_url']}/lift", json={"reason": "reviewed"})
    assert [(e["field"], e["rule"]) for e in unsigned.json()["errors"]] == [("signature", "qa-signature")]
    assert len(await log_of(exceptions)) == before
    qa_token = await exceptions.token(Role.qa)
    async with exceptions.client_with(qa_token) as qa:
        signature = {"meaning": "approved", "credential": qa_token}
        lifted = await qa.post(f"{hold['hold_url']}/lift", json={"reason": "reviewed", "signature": signature})
        assert lifted.status_code == 200, lifted.text
        assert lifted.json()["signature"]["signer_role"] == "qa"
        again = await qa.post(f"{hold['hold_url']}/lift", json={"reason": "twice", "signature": signature})
        assert (again.status_code, again.json()["errors"][0]["rule"]) == (409, "hold-active")
    shown = (await client.get(hold["hold_url"])).json()
    assert (shown["state"], shown["lift_reason"]) == ("lifted", "reviewed")
    assert [h["state"] for h in (await client.get("/v1/holds", params={"state": "active"})).json()["holds"]] == []


async def test_a_hold_names_the_whole_batch_or_what_it_holds(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    await aggregated(exceptions, *packed(sscc(2), [unit_uri("OTHER1")]))
    client = exceptions.client
    before = len(await log_of(exceptions))
    for body, field, rule in (
        (hold_body(), "whole_batch", "hold-names-units"),
        (hold_body(whole_batch=True, units=[f"(01){GTIN}(21)D1"]), "whole_batch", "hold-names-units"),
        (hold_body(units=[f"(01){GTIN}(21)OTHER1"]), "units[0]", "unit-of-batch"),
        (hold_body(units=[f"(01){GTIN}(21)NEVER"]), "units[0]", "commissioned"),
        (hold_body(parents=["00095060000000000016"]), "parents[0]", "gs1-check-digit"),
        # A parent is known to hold units of the batch: not unknown, not a plain unit, not another lot's.
        (hold_body(parents=[sscc(9)]), "parents[0]", "parent-of-batch"),
        (hold_body(parents=[f"(01){GTIN}(21)D1"]), "parents[0]", "parent-of-batch"),
        (hold_body(parents=[sscc(2)]), "parents[0]", "parent-of-batch"),
        (hold_body(whole_batch="true"), "body.whole_batch", "bool_type"),
        (hold_body(units=[f"(01){GTIN}(21)D1", f"(01){GTIN}(21)D1"]), "units[1]", "unique-unit"),
        (hold_body(units=[f"]d201{GTIN}1728063010{OTHER_LOT}\x1d21D1"]), "units[0]", "label-matches-batch"),
        (hold_body(batch={"gtin": GTIN, "lot": "NOPE"}, whole_batch=True), "batch.lot", "known-batch"),
    ):
        answer = await client.post("/v1/holds", json=body)
        assert answer.status_code == 422, answer.text
        assert (field, rule) in {(e["field"], e["rule"]) for e in answer.json()["errors"]}, answer.text
    assert len(await log_of(exceptions)) == before
    whole = await client.post("/v1/holds", json=hold_body(whole_batch=True))
    assert whole.status_code == 201


async def test_another_cmos_hold_is_not_theirs_to_see_or_lift(exceptions: Harness) -> None:
    await staged(exceptions, UNITS, cmo_id="ACME")
    placed = (await exceptions.client.post("/v1/holds", json=hold_body(whole_batch=True))).json()
    other = Scope(company_prefixes=frozenset({"9506000"}), cmos=frozenset({"OTHERCO"}))
    mine = Scope(company_prefixes=frozenset({"9506000"}), cmos=frozenset({"ACME"}), lines=frozenset({"LINE-9"}))
    async with (
        exceptions.client_with(await exceptions.token(Role.cmo, other)) as stranger,
        exceptions.client_with(await exceptions.token(Role.line, mine)) as line,
    ):
        assert (await stranger.get(placed["hold_url"])).status_code == 404
        assert (await stranger.get("/v1/holds")).json()["holds"] == []
        refused = await stranger.post("/v1/holds", json=hold_body(whole_batch=True))
        assert (refused.status_code, refused.json()["errors"][0]["rule"]) == (422, "known-batch")
        # A line of the batch's CMO sees that its batch is held, whatever line it is narrowed to.
        assert [h["hold_id"] for h in (await line.get("/v1/holds")).json()["holds"]] == [placed["hold_id"]]


async def test_a_lines_output_in_a_window_is_held_as_the_units_commissioned_there_then(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)  # commissioned on LINE-1 at 07:00Z
    client = exceptions.client
    window = {"start": "2026-11-22T06:30:00Z", "end": "2026-11-22T07:30:00Z"}
    placed = await client.post("/v1/holds", json=hold_body(line_id="LINE-1", window=window))
    assert placed.status_code == 201, placed.text
    shown = (await client.get(placed.json()["hold_url"])).json()
    assert (shown["serials"], shown["line_id"], shown["whole_batch"]) == (UNITS, "LINE-1", False)
    assert shown["window_start"].startswith("2026-11-22T06:30:00")
    before = len(await log_of(exceptions))
    for body, field, rule in (
        (hold_body(window=window), "line_id", "window-holds-units"),
        (hold_body(line_id="LINE-1", window={**window, "end": "2026-11-22T06:00:00Z"}), "window.end", None),
        (hold_body(line_id="LINE-1", window=window, whole_batch=True), "whole_batch", "hold-names-units"),
        (hold_body(line_id="LINE-1", window={**window, "end": "2099-01-01T00:00:00Z"}), "window.end", None),
        (hold_body(line_id="LINE-9", whole_batch=True), "line_id", "registered-line"),
    ):
        answer = await client.post("/v1/holds", json=body)
        assert answer.status_code == 422, answer.text
        found = {(e["field"], e["rule"]) for e in answer.json()["errors"]}
        assert any(f == field and rule in (None, r) for f, r in found), answer.text
    assert len(await log_of(exceptions)) == before
    # A window nothing is known of yet is held all the same: what the line sends for it later is
    # held as it arrives (aggregation holds by line and time).
    later = await client.post("/v1/holds", json=hold_body(line_id="LINE-2", window=window))
    assert later.status_code == 201, later.text
    assert (await client.get(later.json()["hold_url"])).json()["serials"] == []
    # What LINE-2 then sends for the window is shown as held by it (final outside check).
    await publish(exceptions, commissioned(["LATE1"]).model_copy(update={"line_id": "LINE-2"}))
    assert (await client.get(later.json()["hold_url"])).json()["serials"] == ["LATE1"]
    listed = {h["hold_id"]: h["serials"] for h in (await client.get("/v1/holds")).json()["holds"]}
    assert listed[later.json()["hold_id"]] == ["LATE1"]


async def test_a_principal_narrowed_to_lines_holds_on_its_lines_only(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    scope = Scope(company_prefixes=frozenset({"9506000"}), lines=frozenset({"LINE-1"}))
    async with exceptions.client_with(await exceptions.token(Role.line, scope)) as line:
        whole = await line.post("/v1/holds", json=hold_body(whole_batch=True))
        assert whole.status_code == 403, whole.text
        for body in (hold_body(whole_batch=True, line_id="LINE-1"), hold_body(units=[f"(01){GTIN}(21)D1"])):
            assert (await line.post("/v1/holds", json=body)).status_code == 403, body
        other = await line.post("/v1/holds", json=hold_body(units=[f"(01){GTIN}(21)D1"], line_id="LINE-2"))
        assert other.status_code == 403, other.text
        mine = await line.post("/v1/holds", json=hold_body(units=[f"(01){GTIN}(21)D1"], line_id="LINE-1"))
        assert mine.status_code == 201, mine.text
    theirs = await exceptions.client.post("/v1/holds", json=hold_body(units=[f"(01){GTIN}(21)D2"], line_id="LINE-2"))
    qa_token = await exceptions.token(Role.qa, scope)
    async with exceptions.client_with(qa_token) as qa_line_one:
        signed = {"reason": "reviewed", "signature": {"meaning": "approved", "credential": qa_token}}
        # LINE-2's hold is LINE-2's: neither read nor lifted from LINE-1 (answered as the kit
        # answers a resource outside the scope; attacker finding D3).
        assert (await qa_line_one.get(theirs.json()["hold_url"])).status_code == 404
        refused = await qa_line_one.post(f"{theirs.json()['hold_url']}/lift", json=signed)
        assert refused.status_code == 404, refused.text
        lifted = await qa_line_one.post(f"{mine.json()['hold_url']}/lift", json=signed)
        assert lifted.status_code == 200, lifted.text
