"""Parents named in a record, and the cascade: every unit below a closed parent taken out with
it, each in its own entry naming that parent, learnt from aggregation's events. Refusals name
the rule and record nothing."""

from __future__ import annotations

from line_exceptions_helpers import (
    GTIN,
    aggregated,
    log_of,
    packed,
    record_body,
    sscc,
    staged,
    unit_uri,
    unpacked,
)
from serialtrail_contracts.exceptions import SerialsDecommissioned
from serialtrail_contracts.identity import Role
from serialtrail_kit.testing.harness import Harness

UNITS = ["C1", "C2", "C3", "C4", "C5", "C6"]
PALLET, CASE_A, CASE_B = sscc(10), sscc(11), sscc(12)


async def _pallet_of_two_cases(harness: Harness) -> None:
    await staged(harness, UNITS)
    await aggregated(
        harness,
        *packed(CASE_A, [unit_uri("C1"), unit_uri("C2")]),
        *packed(CASE_B, [unit_uri("C3"), unit_uri("C4")]),
        *packed(PALLET, [CASE_A, CASE_B]),
    )


def _destroyed(parents: list[str], units: list[str] | None = None, **extra: object) -> dict[str, object]:
    return record_body("destroyed", units or [], parents=parents, **extra)


async def test_a_cascade_takes_out_every_unit_below_each_with_its_own_entry(exceptions: Harness) -> None:
    await _pallet_of_two_cases(exceptions)
    client = exceptions.client
    answer = await client.post("/v1/exceptions", json=_destroyed(["00" + PALLET[-18:]], cascade=True))
    assert answer.status_code == 201, answer.text
    assert (answer.json()["parents"], answer.json()["taken_out"]) == (1, 4)

    entries = [e for e in await log_of(exceptions) if e.event_type == SerialsDecommissioned.EVENT_TYPE]
    assert [(e.payload["parent_id"], sorted(e.payload["serials"])) for e in entries] == [
        (PALLET, ["C1", "C2", "C3", "C4"])
    ]
    detail = (await client.get(answer.json()["record_url"])).json()
    assert (detail["parents"], detail["cascade"], detail["taken_out"]) == ([PALLET], True, 4)
    assert sorted(c["serial"] for c in detail["cascaded"]) == ["C1", "C2", "C3", "C4"]
    assert {c["parent"] for c in detail["cascaded"]} == {PALLET}
    # The unit's own history shows the record that took it out, and through which parent.
    history = (await client.get(f"/v1/serials/{GTIN}/C3/exceptions")).json()["exceptions"]
    assert [(h["exception_id"], h["role"], h["via"]) for h in history] == [(detail["exception_id"], "cascaded", PALLET)]
    # Out once: naming a unit below again is refused; the unit outside the pallet is not touched.
    again = await client.post("/v1/exceptions", json=record_body("damaged", [f"(01){GTIN}(21)C2"]))
    assert (again.status_code, again.json()["errors"][0]["rule"]) == (409, "in-supply-chain")
    assert (await client.post("/v1/exceptions", json=record_body("damaged", [f"(01){GTIN}(21)C5"]))).status_code == 201
    # It took units out: resolving it needs QA's signature.
    qa_token = await exceptions.token(Role.qa)
    async with exceptions.client_with(qa_token) as qa:
        unsigned = await qa.post(
            f"{answer.json()['record_url']}/resolution", json={"outcome": "confirmed", "reason": "x"}
        )
        assert unsigned.json()["errors"][0]["rule"] == "qa-signature"


async def test_without_cascade_a_parent_is_named_and_nothing_below_it_is_taken_out(exceptions: Harness) -> None:
    await _pallet_of_two_cases(exceptions)
    answer = await exceptions.client.post("/v1/exceptions", json=_destroyed([CASE_A]))
    assert answer.status_code == 201, answer.text
    assert (answer.json()["parents"], answer.json()["taken_out"]) == (1, 0)
    assert not [e for e in await log_of(exceptions) if e.event_type == SerialsDecommissioned.EVENT_TYPE]


async def test_a_cascade_skips_units_already_out_and_units_unpacked_since(exceptions: Harness) -> None:
    await _pallet_of_two_cases(exceptions)
    client = exceptions.client
    assert (await client.post("/v1/exceptions", json=record_body("damaged", [f"(01){GTIN}(21)C1"]))).status_code == 201
    close_again = packed(CASE_B, [unit_uri("C3")])[1:]
    await aggregated(exceptions, unpacked(CASE_B, [unit_uri("C4")]), *close_again)  # C4 taken out of the case
    both = await client.post("/v1/exceptions", json=_destroyed([CASE_A, CASE_B], cascade=True))
    assert both.status_code == 201, both.text
    entries = [e for e in await log_of(exceptions) if e.event_type == SerialsDecommissioned.EVENT_TYPE]
    assert [(e.payload.get("parent_id"), e.payload["serials"]) for e in entries][1:] == [
        (CASE_A, ["C2"]),
        (CASE_B, ["C3"]),
    ]


async def test_a_cascade_covers_closed_parents_of_the_batch_only_and_refusals_record_nothing(
    exceptions: Harness,
) -> None:
    await _pallet_of_two_cases(exceptions)
    other_case, open_case, foreign_case, mixed, pending = sscc(20), sscc(21), sscc(22), sscc(23), sscc(24)
    await aggregated(
        exceptions,
        *packed(pending, [unit_uri("C6"), unit_uri("LATE1")]),
        *packed(other_case, [unit_uri("OTHER1")]),
        *packed(open_case, [unit_uri("C5")], closed=False),
        *packed(foreign_case, ["https://id.gs1.org/01/09506000134369/21/X1"]),
        *packed(mixed, [unit_uri("OTHER2"), CASE_A]),
    )
    before = len(await log_of(exceptions))
    for body, status, field, rule in (
        (_destroyed([open_case], cascade=True), 409, "parents[0]", "settled-parent"),
        (_destroyed([pending], cascade=True), 409, "parents[0]", "settled-parent"),
        (_destroyed([sscc(99)], cascade=True), 422, "parents[0]", "parent-of-batch"),
        (_destroyed([other_case], cascade=True), 422, "parents[0]", "parent-of-batch"),
        (_destroyed([foreign_case]), 422, "parents[0]", "parent-of-batch"),
        (_destroyed([mixed], cascade=True), 422, "parents[0]", "parent-of-batch"),
        (_destroyed([unit_uri("C1")]), 422, "parents[0]", "parent-of-batch"),
        (_destroyed([CASE_A, CASE_A], cascade=True), 422, "parents[1]", "unique-unit"),
        (_destroyed([], [f"(01){GTIN}(21)C5"], cascade=True), 422, "cascade", "cascade"),
        (record_body("unreadable", [], parents=[CASE_A], cascade=True), 422, "cascade", "cascade"),
        (record_body("rework", [], parents=[CASE_A], replacement=f"(01){GTIN}(21)C5"), 422, "parents", None),
    ):
        answer = await exceptions.client.post("/v1/exceptions", json=body)
        assert answer.status_code == status, answer.text
        found = {(e["field"], e["rule"]) for e in answer.json()["errors"]}
        assert any(f == field and (rule is None or r == rule) for f, r in found), answer.text
    assert len(await log_of(exceptions)) == before
    # An unknown parent and another lot's answer alike: nothing tells them apart.
    answers = [await exceptions.client.post("/v1/exceptions", json=_destroyed([p])) for p in (sscc(99), other_case)]
    unknown, other = (a.json()["errors"][0] for a in answers)
    assert unknown["message"].replace(sscc(99), "P") == other["message"].replace(other_case, "P")
