"""The reads answer what the OpenAPI document says they answer. After a cascade, a rework, an
undo, a resolution, a window hold, a lifted hold and a closed deviation are staged, each GET's
real answer validates against the schema its operation documents. The documented objects are
closed (`additionalProperties: false`), so a field an answer gains, loses or changes the type
of fails here: the documentation cannot drift from the answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from line_exceptions_helpers import GTIN, LOT, T0, aggregated, packed, record_body, sscc, staged, unit_uri
from serialtrail_contracts.exception_vocabulary import VOCABULARY
from serialtrail_contracts.identity import Role
from serialtrail_kit.testing.documented import answer_problems
from serialtrail_kit.testing.harness import Harness

UNITS = ["E1", "E2", "E3", "E4", "E5", "E6"]
CASE = sscc(30)
JSON = "application/json"


def _unit(serial: str) -> str:
    return f"(01){GTIN}(21){serial}"


def _recently(**delta: float) -> str:
    """The EU FMD undo runs on the server's clock: a record it undoes is dated relative to now."""
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def _posted(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post(path, json=body)
    assert answer.status_code in (200, 201), answer.text
    found: dict[str, Any] = answer.json()
    return found


async def _records(client: httpx.AsyncClient) -> dict[str, str]:
    """One record of each shape a reader meets: cascaded, reworked, undone, resolved."""
    cascade = record_body("destroyed", [], parents=[CASE], cascade=True)
    rework = record_body("rework", [_unit("E3")], replacement=_unit("E4"))
    damaged = record_body("damaged", [_unit("E5")], event_time=_recently(days=1))
    ids = {
        name: str((await _posted(client, "/v1/exceptions", body))["exception_id"])
        for name, body in (("cascade", cascade), ("rework", rework), ("damaged", damaged))
    }
    undo = {"reason": "re-inspected: intact", "line_id": "LINE-1", "event_time": _recently(hours=1)}
    await _posted(client, f"/v1/exceptions/{ids['damaged']}/undo", undo)
    ids["unreadable"] = str(
        (await _posted(client, "/v1/exceptions", record_body("unreadable", [_unit("E6")])))["exception_id"]
    )
    resolution = {"outcome": "no-defect", "reason": "read again: the code is fine"}
    await _posted(client, f"/v1/exceptions/{ids['unreadable']}/resolution", resolution)
    return ids


async def _holds_and_deviation(harness: Harness, records: dict[str, str]) -> dict[str, str]:
    """A window hold in force, a whole-batch hold lifted, and a deviation closed with a CAPA done."""
    client, batch = harness.client, {"gtin": GTIN, "lot": LOT}
    window = {"start": "2026-11-22T06:30:00Z", "end": "2026-11-22T07:30:00Z"}
    hold = {"batch": batch, "reason": "printer fault", "event_time": T0}
    held = await _posted(client, "/v1/holds", {**hold, "line_id": "LINE-1", "window": window})
    lifted = await _posted(client, "/v1/holds", {**hold, "whole_batch": True})
    qa_token = await harness.token(Role.qa)
    signature = {"meaning": "approved", "credential": qa_token}
    opened = {"batch": batch, "title": "Crushed case", "description": "see records", "qms_reference": "DEV-1"}
    opened |= {"exception_ids": [records["cascade"]], "hold_ids": [held["hold_id"]]}
    deviation = await _posted(client, "/v1/deviations", opened)
    url = deviation["deviation_url"]
    async with harness.client_with(qa_token) as qa:
        await _posted(qa, f"{lifted['hold_url']}/lift", {"reason": "reviewed", "signature": signature})
        cause = {"category": "machine", "method": "5-why", "findings": "palletiser guard misaligned"}
        await _posted(qa, f"{url}/root-cause", cause)
        capa = {"kind": "corrective", "action": "realign the guard", "owner": "Engineering"}
        capa |= {"due_date": "2026-12-15", "effectiveness_check": "no crushed cases over 3 batches"}
        planned = await _posted(qa, f"{url}/capas", capa)
        done = {"effective": True, "evidence": "3 batches, no crushed case"}
        await _posted(qa, f"{url}/capas/{planned['capa_id']}/completion", done)
        await _posted(qa, f"{url}/closure", {"reason": "guard realigned", "signature": signature})
    return {"held": held["hold_id"], "lifted": lifted["hold_id"], "deviation": deviation["deviation_id"]}


def _reads(records: dict[str, str], staged: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(documented path, path read, query) for every GET of records, holds and deviations."""
    reads: list[tuple[str, str, dict[str, Any]]] = [
        ("/v1/exceptions", "/v1/exceptions", {"gtin": GTIN}),
        ("/v1/exceptions", "/v1/exceptions", {"limit": 1}),  # a page with a next one
        ("/v1/batches/{gtin}/{lot}/exception-summary", f"/v1/batches/{GTIN}/{LOT}/exception-summary", {}),
        ("/v1/holds", "/v1/holds", {}),
        ("/v1/deviations", "/v1/deviations", {}),
        ("/v1/deviations/{deviation_id}", f"/v1/deviations/{staged['deviation']}", {}),
    ]
    reads += [("/v1/exceptions/{exception_id}", f"/v1/exceptions/{i}", {}) for i in records.values()]
    reads += [("/v1/holds/{hold_id}", f"/v1/holds/{staged[h]}", {}) for h in ("held", "lifted")]
    # Cascaded, reworked, its replacement, undone, resolved: each role a unit can have in a record.
    unit_path = "/v1/serials/{gtin}/{serial}/exceptions"
    reads += [(unit_path, f"/v1/serials/{GTIN}/{s}/exceptions", {}) for s in ("E1", "E3", "E4", "E5", "E6")]
    return reads


async def test_every_read_answers_exactly_what_its_operation_documents(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    await aggregated(exceptions, *packed(CASE, [unit_uri("E1"), unit_uri("E2")]))
    client = exceptions.client
    records = await _records(client)
    held = await _holds_and_deviation(exceptions, records)
    document = (await client.get("/openapi.json")).json()

    for documented, path, query in _reads(records, held):
        answer = await client.get(path, params=query)
        assert answer.status_code == 200, answer.text
        problems = answer_problems(document, "GET", documented, answer.json())
        assert not problems, (path, problems)

    # Not vacuous: what was staged is in the answers validated above.
    cascade = (await client.get(f"/v1/exceptions/{records['cascade']}")).json()
    assert (len(cascade["cascaded"]), cascade["deviations"]) == (2, [held["deviation"]])
    assert (await client.get(f"/v1/exceptions/{records['damaged']}")).json()["undone"]
    summary = (await client.get(f"/v1/batches/{GTIN}/{LOT}/exception-summary")).json()
    assert (summary["holds"]["active"], summary["deviations"]["open_deviations"]) == (1, 0)
    deviation = (await client.get(f"/v1/deviations/{held['deviation']}")).json()
    assert (deviation["state"], [c["state"] for c in deviation["capas"]]) == ("closed", ["completed"])


async def test_the_document_shows_every_request_example_and_which_types_take_units_out(exceptions: Harness) -> None:
    document = (await exceptions.client.get("/openapi.json")).json()
    for path, shown in (("/v1/exceptions", "cascade"), ("/v1/holds", "window")):
        examples = document["paths"][path]["post"]["requestBody"]["content"][JSON]["examples"]
        assert len(examples) == 3, path  # /docs lets the reader pick each, not only the first
        assert any(shown in example["value"] for example in examples.values()), path
    described = document["components"]["schemas"]["RecordIn"]["properties"]["type"]["description"]
    out, stay = described.split("Only recorded")
    for kind, meaning in VOCABULARY.items():
        assert kind.value in (out if meaning.takes_out else stay), kind
