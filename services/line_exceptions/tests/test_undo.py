"""Undoing a decommission, only where the EU FMD rules allow it: within 10 days, at the same
site, never from stolen or destroyed, never for an expired batch. Each refusal names the rule
and records nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from line_exceptions_helpers import GTIN, SITE_GLN, commissioned, log_of, publish, record_body, staged
from serialtrail_contracts.exceptions import DecommissionUndone
from serialtrail_contracts.serials import BatchRegistered, LineRegistered
from serialtrail_kit.testing.harness import Harness

UNITS = ["U1", "U2", "U3", "U4", "U5", "U6"]


def ago(**delta: float) -> str:
    """A time so long before now, with an offset as a line sends it. The 10 days of the EU FMD
    rules run on the server's clock, so the records here are dated relative to it."""
    return (datetime.now(UTC) - timedelta(**delta)).astimezone(ZONE).isoformat()


ZONE = timezone(timedelta(hours=1))


def _unit(serial: str) -> str:
    return f"(01){GTIN}(21){serial}"


def undo_body(**extra: Any) -> dict[str, Any]:
    return {"reason": "re-inspected: intact", "line_id": "LINE-1", "event_time": ago(hours=1), **extra}


async def _record(client: Any, kind: str, serials: list[str], **extra: Any) -> str:
    body = record_body(kind, [_unit(s) for s in serials], **{"event_time": ago(days=1), **extra})
    answer = await client.post("/v1/exceptions", json=body)
    assert answer.status_code == 201, answer.text
    return f"/v1/exceptions/{answer.json()['exception_id']}"


async def test_a_decommission_is_undone_unit_by_unit_and_once(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    client = exceptions.client
    record = await _record(client, "damaged", ["U1", "U2"])
    first = await client.post(f"{record}/undo", json=undo_body(units=[_unit("U1")]))
    assert first.status_code == 200, first.text
    again = await client.post(f"{record}/undo", json=undo_body(units=[_unit("U1")]))
    assert (again.status_code, again.json()["errors"][0]["rule"]) == (409, "undo-taken-out")
    rest = await client.post(f"{record}/undo", json=undo_body())  # none named: every unit still out
    assert rest.status_code == 200, rest.text
    nothing_left = await client.post(f"{record}/undo", json=undo_body())
    assert (nothing_left.status_code, nothing_left.json()["errors"][0]["field"]) == (409, "units")

    undone = [e.payload["serials"] for e in await log_of(exceptions) if e.event_type == DecommissionUndone.EVENT_TYPE]
    assert undone == [["U1"], ["U2"]]
    shown = (await client.get(record)).json()
    assert (shown["taken_out"], sorted(u["serial"] for u in shown["undone"])) == (0, ["U1", "U2"])
    history = (await client.get(f"/v1/serials/{GTIN}/U1/exceptions")).json()["exceptions"]
    assert history[0]["undone_at"] is not None
    # Back in the supply chain: it may be taken out again.
    assert (await client.post("/v1/exceptions", json=record_body("lost", [_unit("U1")]))).status_code == 201


async def test_an_undo_the_eu_rules_forbid_is_refused_naming_the_rule(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    elsewhere = LineRegistered(
        line_id="LINE-X",
        name="Line X",
        site_gln="9506000000015",
        read_point="urn:epc:id:sgln:9506000.00001.X",
        biz_location="urn:epc:id:sgln:9506000.00001.0",
    )
    expired = BatchRegistered(gtin=GTIN, lot="EXPIRED", expiry=date(2026, 11, 30), site_gln=SITE_GLN)
    await publish(exceptions, elsewhere, expired, commissioned(["E1"], lot="EXPIRED"))
    client = exceptions.client
    damaged = await _record(client, "damaged", ["U1"])
    stale = await _record(client, "damaged", ["U5"], event_time=ago(days=11))  # taken out 11 days ago
    resolved = await _record(client, "qc-sample", ["U6"])
    signature = {"meaning": "approved", "credential": exceptions.client.headers["Authorization"].split()[1]}
    closing = {"outcome": "confirmed", "reason": "kept as retention sample", "signature": signature}
    assert (await client.post(f"{resolved}/resolution", json=closing)).status_code == 200
    old_batch = await _record(client, "damaged", ["E1"], batch={"gtin": GTIN, "lot": "EXPIRED"})
    for record, body, status, field, rule in (
        (await _record(client, "destroyed", ["U2"]), undo_body(), 409, "state", "undo-allowed-state"),
        (await _record(client, "stolen", ["U3"]), undo_body(), 409, "state", "undo-allowed-state"),
        (await _record(client, "label-misprint", ["U4"]), undo_body(), 409, "state", "undo-allowed-state"),
        (stale, undo_body(), 409, "event_time", "undo-within-10-days"),
        (stale, undo_body(event_time=ago(days=9, hours=23)), 409, "event_time", "undo-within-10-days"),
        (damaged, undo_body(event_time=ago(days=2)), 409, "event_time", "undo-within-10-days"),
        (damaged, undo_body(line_id="LINE-X"), 409, "line_id", "undo-same-location"),
        (damaged, undo_body(line_id="LINE-9"), 422, "line_id", "registered-line"),
        (damaged, undo_body(units=[_unit("U5")]), 409, "units[0]", "undo-taken-out"),
        (damaged, undo_body(units=["(01)09506000134369(21)U1"]), 422, "units[0]", "unit-of-batch"),
        (old_batch, undo_body(), 409, "batch", "undo-batch-not-expired"),
        (damaged, undo_body(units=[_unit("U1"), _unit("U1")]), 422, "units[1]", "unique-unit"),
        (resolved, undo_body(), 409, "state", "state"),
    ):
        before = len(await log_of(exceptions))
        answer = await client.post(f"{record}/undo", json=body)
        assert answer.status_code == status, answer.text
        assert (field, rule) in {(e["field"], e["rule"]) for e in answer.json()["errors"]}, answer.text
        assert len(await log_of(exceptions)) == before


async def test_more_concurrent_undos_than_request_connections_are_all_answered(exceptions: Harness) -> None:
    """Outside finding: an undo took a second connection while it held the log's append lock;
    with every request connection taken by undos waiting for that lock, the server froze."""
    await staged(exceptions, UNITS)
    record = await _record(exceptions.client, "damaged", ["U6"])
    tries = 30  # more than the service's request connections (20)
    answers = await asyncio.wait_for(
        asyncio.gather(*(exceptions.client.post(f"{record}/undo", json=undo_body()) for _ in range(tries))), 120
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * (tries - 1)
