"""A record's life: open → under investigation → resolved | cancelled. Resolving a record that
took units out of the supply chain needs a QA e-signature, recorded with the resolution and
bound to it; a closed record changes no more; each refusal names its rule and records nothing."""

from __future__ import annotations

from typing import Any

import httpx
from line_exceptions_helpers import GTIN, log_of, record_body, staged
from serialtrail_contracts.identity import Role, Scope
from serialtrail_kit.testing.harness import Harness

UNITS = ["B1", "B2", "B3"]
RESOLUTION = {"outcome": "confirmed", "reason": "cartons destroyed under supervision"}


async def recorded(client: httpx.AsyncClient, kind: str, serial: str) -> str:
    answer = await client.post("/v1/exceptions", json=record_body(kind, [f"(01){GTIN}(21){serial}"]))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["exception_id"])


async def refused(harness: Harness, client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    before = len(await log_of(harness))
    answer = await client.post(path, json=body)
    assert answer.status_code >= 400, answer.text
    assert len(await log_of(harness)) == before
    return answer


async def test_a_record_that_took_units_out_is_resolved_with_a_qa_signature(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    qa_token = await exceptions.token(Role.qa)
    async with exceptions.client_with(qa_token) as qa:
        record = await recorded(exceptions.client, "damaged", "B1")
        path = f"/v1/exceptions/{record}"
        started = await qa.post(f"{path}/investigation", json={"note": "camera logs pulled"})
        assert started.json()["state"] == "under-investigation"

        unsigned = await refused(exceptions, qa, f"{path}/resolution", RESOLUTION)
        assert unsigned.status_code == 422
        assert [(e["field"], e["rule"]) for e in unsigned.json()["errors"]] == [("signature", "qa-signature")]
        wrong = {**RESOLUTION, "signature": {"meaning": "approved", "credential": "st_not.the-key"}}
        not_signed = await refused(exceptions, qa, f"{path}/resolution", wrong)
        assert not_signed.status_code == 403  # the signature is refused, named as its field, not the session:
        assert [(e["field"], e["rule"]) for e in not_signed.json()["errors"]] == [
            ("body.signature.credential", "signer-reauthenticated")
        ]

        signed = {**RESOLUTION, "signature": {"meaning": "approved", "credential": qa_token}}
        resolved = await qa.post(f"{path}/resolution", json=signed)
        assert resolved.status_code == 200, resolved.text
        signature = resolved.json()["signature"]
        assert signature["record"] == {
            "service": "line_exceptions",
            "global_position": resolved.json()["global_position"],
        }
        check = await qa.get(f"/v1/audit-trail/line_exceptions/signatures/{signature['signature_id']}")
        assert check.json()["verification"]["valid"] is True
        assert check.json()["signer_role"] == "qa"

        shown = (await qa.get(path)).json()
        assert (shown["state"], shown["outcome"], shown["reason"]) == ("resolved", "confirmed", RESOLUTION["reason"])
        assert [h["event"] for h in shown["history"]] == [
            "ExceptionRecorded",
            "SerialsDecommissioned",
            "InvestigationStarted",
            "ExceptionResolved",
        ]
        again = await refused(exceptions, qa, f"{path}/resolution", signed)
        assert (again.status_code, again.json()["errors"][0]["rule"]) == (409, "state")
        cancel = await refused(exceptions, qa, f"{path}/cancellation", {"reason": "too late"})
        assert (cancel.status_code, cancel.json()["errors"][0]["rule"]) == (409, "state")


async def test_only_a_record_that_took_nothing_out_is_cancelled(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    client = exceptions.client
    out = await recorded(client, "lost", "B1")
    refusal = await refused(exceptions, client, f"/v1/exceptions/{out}/cancellation", {"reason": "found it"})
    assert (refusal.status_code, refusal.json()["errors"][0]["rule"]) == (409, "cancel-not-taken-out")

    signal = await recorded(client, "unreadable", "B2")
    cancelled = await client.post(f"/v1/exceptions/{signal}/cancellation", json={"reason": "read fine on retry"})
    assert cancelled.json()["state"] == "cancelled"
    investigate = await refused(exceptions, client, f"/v1/exceptions/{signal}/investigation", {"note": "x"})
    assert (investigate.status_code, investigate.json()["errors"][0]["rule"]) == (409, "state")
    # Nothing taken out: resolved without a signature.
    other = await recorded(client, "unreadable", "B3")
    resolved = await client.post(f"/v1/exceptions/{other}/resolution", json={"outcome": "no-defect", "reason": "ok"})
    assert (resolved.status_code, resolved.json()["signature"]) == (200, None)


async def test_reviewing_is_for_qa_and_an_unknown_record_is_a_404(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    record = await recorded(exceptions.client, "damaged", "B1")
    line_token = await exceptions.token(Role.line, Scope(company_prefixes=frozenset({"9506000"})))
    async with exceptions.client_with(line_token) as line:
        denied = await refused(exceptions, line, f"/v1/exceptions/{record}/investigation", {"note": "mine"})
        assert denied.status_code == 403
        assert (await line.get(f"/v1/exceptions/{record}")).status_code == 200  # reading is allowed
    unknown = "00000000-0000-4000-8000-000000000000"
    missing = await refused(exceptions, exceptions.client, f"/v1/exceptions/{unknown}/investigation", {"note": "?"})
    assert (missing.status_code, missing.json()["errors"][0]["rule"]) == (404, "exists")
    assert (await exceptions.client.get(f"/v1/exceptions/{unknown}")).status_code == 404
    assert (await exceptions.client.get("/v1/exceptions/not-an-id")).status_code == 422
