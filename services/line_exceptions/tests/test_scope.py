"""A party touches only its own records: a CMO's key records and reads only on its batches and
lines, and another party's record or batch is answered as if it did not exist."""

from __future__ import annotations

from datetime import date
from typing import Any

from line_exceptions_helpers import (
    GTIN,
    LOT,
    SITE_GLN,
    T0,
    aggregated,
    commissioned,
    log_of,
    packed,
    publish,
    record_body,
    sscc,
    staged,
    unit_uri,
)
from line_exceptions_helpers import line as registered_line
from serialtrail_contracts.identity import Role, Scope
from serialtrail_contracts.serials import BatchRegistered
from serialtrail_kit.testing.harness import Harness

UNITS = ["C1", "C2"]


def cmo_scope(cmo: str) -> Scope:
    return Scope(company_prefixes=frozenset({"9506000"}), cmos=frozenset({cmo}))


async def test_a_cmo_records_and_reads_only_its_own(exceptions: Harness) -> None:
    await staged(exceptions, UNITS, cmo_id="ACME")
    await publish(exceptions, registered_line("LINE-OTHER", cmo_id="OTHERCO"))
    unit = f"(01){GTIN}(21)C1"
    async with (
        exceptions.client_with(await exceptions.token(Role.cmo, cmo_scope("ACME"))) as acme,
        exceptions.client_with(await exceptions.token(Role.cmo, cmo_scope("OTHERCO"))) as other,
    ):
        mine = await acme.post("/v1/exceptions", json=record_body("damaged", [unit]))
        assert mine.status_code == 201, mine.text
        record = mine.json()["record_url"]

        before = len(await log_of(exceptions))
        # Another CMO's batch, recorded on that CMO's own line: answered as an unknown batch.
        theirs = record_body("damaged", [f"(01){GTIN}(21)C2"], line_id="LINE-OTHER")
        foreign = await other.post("/v1/exceptions", json=theirs)
        assert foreign.status_code == 422, foreign.text
        assert foreign.json()["errors"][0]["rule"] == "known-batch"
        nowhere = record_body("damaged", [unit], line_id="LINE-OTHER", batch={"gtin": GTIN, "lot": "NOPE"})
        unknown = await other.post("/v1/exceptions", json=nowhere)
        assert unknown.status_code == foreign.status_code
        assert unknown.json()["errors"][0]["message"].replace("NOPE", LOT) == foreign.json()["errors"][0]["message"]
        # On ACME's line: the line names its CMO, and the refusal says which scope is lacking.
        on_their_line = await other.post("/v1/exceptions", json=record_body("damaged", [unit]))
        assert on_their_line.status_code == 403
        assert len(await log_of(exceptions)) == before

        foreign_record = await other.get(record)
        nobody = await other.get("/v1/exceptions/00000000-0000-4000-8000-000000000000")
        assert foreign_record.status_code == nobody.status_code == 404
        assert {k: v for k, v in foreign_record.json().items() if k not in ("instance", "request_id")} == {
            k: v for k, v in nobody.json().items() if k not in ("instance", "request_id")
        }  # existence does not leak
        assert (await other.get("/v1/exceptions")).json()["exceptions"] == []
        assert (await other.get(f"/v1/serials/{GTIN}/C1/exceptions")).json()["exceptions"] == []
        assert (await acme.get(record)).status_code == 200
        assert len((await acme.get("/v1/exceptions", params={"lot": LOT})).json()["exceptions"]) == 1
        assert len((await acme.get(f"/v1/serials/{GTIN}/C1/exceptions")).json()["exceptions"]) == 1


async def test_a_line_key_sees_only_its_lines_records(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    for serial, line_id in (("C1", "LINE-1"), ("C2", "LINE-2")):
        body = record_body("damaged", [f"(01){GTIN}(21){serial}"], line_id=line_id)
        assert (await exceptions.client.post("/v1/exceptions", json=body)).status_code == 201
    scope = Scope(company_prefixes=frozenset({"9506000"}), lines=frozenset({"LINE-2"}))
    async with exceptions.client_with(await exceptions.token(Role.line, scope)) as line_two:
        listed = (await line_two.get("/v1/exceptions")).json()["exceptions"]
        assert [r["line_id"] for r in listed] == ["LINE-2"]
        refused = await line_two.post("/v1/exceptions", json=record_body("damaged", [f"(01){GTIN}(21)C1"]))
        assert refused.status_code == 403
        # the dimension only: a line may be named by a read point, and its id be another party's
        assert "lacks scope line (which line is not said" in refused.json()["detail"]


async def test_another_cmos_unit_named_in_ones_own_batch_reads_as_unknown(exceptions: Harness) -> None:
    """Its lot is not told: the answer is the one an unknown serial gets (attacker finding D3)."""
    await staged(exceptions, UNITS, cmo_id="ACME")
    theirs = BatchRegistered(gtin=GTIN, lot="THEIRS", expiry=date(2028, 6, 30), site_gln=SITE_GLN, cmo_id="OTHERCO")
    await publish(exceptions, theirs, commissioned(["T1"], lot="THEIRS"))
    async with exceptions.client_with(await exceptions.token(Role.cmo, cmo_scope("ACME"))) as acme:
        answers = [
            (await acme.post("/v1/exceptions", json=record_body("damaged", [f"(01){GTIN}(21){s}"]))).json()["errors"]
            for s in ("T1", "NEVER1")
        ]
        hold = {"batch": {"gtin": GTIN, "lot": LOT}, "units": [f"(01){GTIN}(21)T1"], "reason": "x", "event_time": T0}
        held = await acme.post("/v1/holds", json=hold)
        assert held.json()["errors"][0]["rule"] == "commissioned", held.text
    assert answers[0][0]["rule"] == answers[1][0]["rule"] == "commissioned"
    assert answers[0][0]["message"].replace("T1", "S") == answers[1][0]["message"].replace("NEVER1", "S")
    # Within scope (unrestricted), the other batch is named: it helps the line, and tells nothing new.
    told = await exceptions.client.post("/v1/exceptions", json=record_body("damaged", [f"(01){GTIN}(21)T1"]))
    assert told.json()["errors"][0]["rule"] == "unit-of-batch"


async def test_a_principal_narrowed_to_a_line_names_only_that_lines_units(exceptions: Harness) -> None:
    """Units, and parents holding units, commissioned on another line read as unknown."""
    await staged(exceptions, UNITS)  # commissioned on LINE-1
    await aggregated(exceptions, *packed(sscc(5), [unit_uri("C2")]))
    scope = Scope(company_prefixes=frozenset({"9506000"}), lines=frozenset({"LINE-2"}))
    async with exceptions.client_with(await exceptions.token(Role.line, scope)) as line_two:
        named = record_body("damaged", [f"(01){GTIN}(21)C1"], line_id="LINE-2")
        refused = await line_two.post("/v1/exceptions", json=named)
        assert (refused.status_code, refused.json()["errors"][0]["rule"]) == (422, "commissioned"), refused.text
        below = record_body("destroyed", [], parents=[sscc(5)], cascade=True, line_id="LINE-2")
        refused = await line_two.post("/v1/exceptions", json=below)
        assert (refused.status_code, refused.json()["errors"][0]["rule"]) == (422, "parent-of-batch"), refused.text
    assert (await exceptions.client.post("/v1/exceptions", json=below)).status_code == 201


async def _created(client: Any, path: str, body: dict[str, Any], key: str) -> str:
    answer = await client.post(path, json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()[key])


async def test_a_qa_key_narrowed_to_a_line_reads_and_runs_only_that_lines_holds_and_deviations(
    exceptions: Harness,
) -> None:
    """Attacker findings D2 and D3: a QA key narrowed to LINE-1 closed another line's deviation,
    and a line key read another line's hold. A hold of one line is that line's (one of the whole
    batch is seen from every line); a deviation is the lines' of everything it groups."""
    await staged(exceptions, UNITS)
    client, batch = exceptions.client, {"gtin": GTIN, "lot": LOT}
    on_line = {
        line: await _created(
            client, "/v1/exceptions", record_body("damaged", [f"(01){GTIN}(21){s}"], line_id=line), "exception_id"
        )
        for s, line in (("C1", "LINE-1"), ("C2", "LINE-2"))
    }
    hold = {"batch": batch, "reason": "printer fault", "event_time": T0}
    line_one_hold = await _created(
        client, "/v1/holds", {**hold, "units": [f"(01){GTIN}(21)C1"], "line_id": "LINE-1"}, "hold_id"
    )
    batch_hold = await _created(client, "/v1/holds", {**hold, "whole_batch": True}, "hold_id")
    deviation = {"batch": batch, "title": "Crushed cartons", "description": "see records"}
    theirs = await _created(
        client, "/v1/deviations", {**deviation, "exception_ids": [on_line["LINE-1"]]}, "deviation_id"
    )
    ours = await _created(client, "/v1/deviations", {**deviation, "exception_ids": [on_line["LINE-2"]]}, "deviation_id")
    batch_wide = await _created(client, "/v1/deviations", deviation, "deviation_id")

    scope = Scope(company_prefixes=frozenset({"9506000"}), lines=frozenset({"LINE-2"}))
    cause = {"category": "machine", "method": "5-why", "findings": "guard misaligned"}
    async with exceptions.client_with(await exceptions.token(Role.qa, scope)) as line_two:
        assert [h["hold_id"] for h in (await line_two.get("/v1/holds")).json()["holds"]] == [batch_hold]
        assert (await line_two.get(f"/v1/holds/{line_one_hold}")).status_code == 404
        assert (await line_two.get(f"/v1/holds/{batch_hold}")).status_code == 200
        assert [d["deviation_id"] for d in (await line_two.get("/v1/deviations")).json()["deviations"]] == [ours]
        for other in (theirs, batch_wide):
            assert (await line_two.get(f"/v1/deviations/{other}")).status_code == 404
            assert (await line_two.post(f"/v1/deviations/{other}/root-cause", json=cause)).status_code == 404
        assert (await line_two.post(f"/v1/deviations/{ours}/root-cause", json=cause)).status_code == 200
        # Opening: grouping its own line's record, yes; grouping nothing (the batch's) or another
        # line's record (read as unknown), no: both answered alike.
        await _created(line_two, "/v1/deviations", {**deviation, "exception_ids": [on_line["LINE-2"]]}, "deviation_id")
        empty = await line_two.post("/v1/deviations", json=deviation)
        foreign = await line_two.post("/v1/deviations", json={**deviation, "exception_ids": [on_line["LINE-1"]]})
        assert empty.status_code == foreign.status_code == 403
        assert empty.json()["detail"] == foreign.json()["detail"]
        summary = (await line_two.get(f"/v1/batches/{GTIN}/{LOT}/exception-summary")).json()
        assert (summary["holds"]["hold_ids"], summary["deviations"]["open_deviations"]) == ([batch_hold], 2)
