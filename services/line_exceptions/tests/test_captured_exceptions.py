"""EPCIS captures seen from line exceptions, on both transports (EPCIS reporting's log read
directly, and its topic through the relay): the decommissioning, destroying and sampling
ObjectEvents routed here arrive in several messages and are decided at once when the capture
ends, as exception records made by the rules and ownership checks of `POST /v1/exceptions`, on
the sender's behalf; under rollback all or none; a capture with several owners checked first and
recorded only when committed; each decision recorded once, caused by the capture's end (or
commit)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
import pytest
from line_exceptions.domain.captured import CapturedException, event_field, read
from line_exceptions_helpers import (
    GTIN,
    LOT,
    OTHER_LOT,
    SITE_GLN,
    commissioned,
    line,
    log_of,
    publish,
    record_body,
    staged,
)
from serialtrail_contracts.epcis import CapturedEvent, ErrorBehaviour, Named, Scope
from serialtrail_contracts.exceptions import ExceptionType
from serialtrail_gs1 import testing as capture_log
from serialtrail_kit.errors import InvalidInput
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.testing.harness import Harness

OWNER = "line_exceptions"
REACTOR = "reactor_epcis_exceptions"
LINE_1 = "urn:epc:id:sgln:9506000.00000.LINE-1"
LINE_1_LINK = f"https://id.gs1.org/414/{SITE_GLN}/254/LINE-1"  # the same read point, as a Digital Link
AT = "2026-11-22T10:30:00.000+01:00"  # after the units' commissioning (07:00Z), in the line's zone
UNITS = ["A1", "A2", "A3", "A4", "A5", "A6"]
PREFIX = "9506000"
FOREIGN_UNIT = "urn:epc:id:sgtin:4000001.000000.X1"  # GTIN 04000001000005: another company's


def sgtin_urn(serial: str, gtin: str = GTIN) -> str:
    return f"urn:epc:id:sgtin:{PREFIX}.{gtin[0]}{gtin[8:13]}.{serial}"


def sgtin_link(serial: str) -> str:
    return f"https://id.gs1.org/01/{GTIN}/21/{serial}"


def object_event(index: int, fields: dict[str, Any], owner: str | None = OWNER) -> CapturedEvent:
    event = {
        "type": "ObjectEvent",
        "eventTime": AT,
        "eventTimeZoneOffset": "+01:00",
        "readPoint": {"id": LINE_1},
        "bizLocation": {"id": "urn:epc:id:sgln:9506000.00000.0"},
        **fields,
    }
    return capture_log.routed(index, event, owner)


def decommissioning(
    index: int, serials: list[str], disposition: str | None = "inactive", **fields: Any
) -> CapturedEvent:
    body = {"action": "DELETE", "bizStep": "decommissioning", "epcList": [sgtin_urn(s) for s in serials], **fields}
    return object_event(index, {**body, **({"disposition": disposition} if disposition else {})})


def destroying(index: int, epcs: list[str], **fields: Any) -> CapturedEvent:
    body = {"action": "DELETE", "bizStep": "destroying", "disposition": "destroyed", "epcList": epcs}
    return object_event(index, {**body, **fields})


def sampling(index: int, epcs: list[str], **fields: Any) -> CapturedEvent:
    body = {"action": "OBSERVE", "bizStep": "sampling", "disposition": "non_sellable_other", "epcList": epcs}
    return object_event(index, {**body, **fields})


async def captured(
    harness: Harness,
    batches: list[list[CapturedEvent]],
    behaviour: ErrorBehaviour,
    scope: Scope = capture_log.UNRESTRICTED,
    *,
    prepare: bool = False,
) -> tuple[uuid.UUID, list[RecordedEvent]]:
    """What EPCIS reporting records for a capture, written to its log, then reacted to here."""
    names = Named(gtins=(GTIN,))
    written = await capture_log.write_capture(
        harness, batches, behaviour, owner=OWNER, scope=scope, names=names, prepare=prepare
    )
    await harness.runner(OWNER, REACTOR).caught_up(timeout=30)
    return written


async def committed(harness: Harness, capture_id: uuid.UUID, apply: bool) -> RecordedEvent:
    written = await capture_log.write_commit(harness, capture_id, apply)
    await harness.runner(OWNER, REACTOR).caught_up(timeout=30)
    return written


async def recorded(harness: Harness, event_type: str) -> list[RecordedEvent]:
    return [e for e in await log_of(harness) if e.event_type == event_type]


async def decisions(harness: Harness) -> list[RecordedEvent]:
    return await recorded(harness, "exceptions.CaptureDecided")


async def decided(harness: Harness) -> dict[str, Any]:
    """The one decision recorded (a second one would be a decision recorded twice)."""
    [decision] = await decisions(harness)
    return decision.payload


def refusals(decision: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(e["field"], e["rule"], e["status"]) for e in decision["refused"]]


def counts(decision: dict[str, Any]) -> tuple[int, int, bool]:
    return decision["applied"], decision["refused_count"], decision["rolled_back"]


async def listed(harness: Harness) -> list[dict[str, Any]]:
    answer = await harness.client.get("/v1/exceptions", params={"gtin": GTIN})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["exceptions"]
    return found


async def taken_out(harness: Harness) -> int:
    answer = await harness.client.get(f"/v1/batches/{GTIN}/{LOT}/exception-summary")
    assert answer.status_code == 200, answer.text
    return int(answer.json()["units_taken_out"])


async def test_captured_decommissions_become_the_records_the_api_shows(exceptions: Harness) -> None:
    """A decommissioning, a destroying and a sampling in three messages, in EPC URIs and Digital
    Links, an SGLN read point and a Digital Link one: each a record of the units' batch, taking
    them out of the supply chain as the API shows it; an event kept by EPCIS reporting alone is
    left alone."""
    await staged(exceptions, UNITS)
    kept = object_event(1, {"action": "OBSERVE", "bizStep": "inspecting", "epcList": [sgtin_urn("A6")]}, owner=None)
    events = [
        decommissioning(0, ["A1", "A2"], "damaged"),
        kept,
        destroying(2, [sgtin_link("A3")], readPoint={"id": LINE_1_LINK}),
        sampling(3, [sgtin_urn("A4")]),
        decommissioning(4, ["A5"]),  # inactive: a line reject, its serial retired
    ]
    capture_id, written = await captured(exceptions, [events[:2], events[2:4], events[4:]], ErrorBehaviour.rollback)

    decision = await decided(exceptions)
    assert decision == {
        "capture_id": str(capture_id),
        "owner": OWNER,
        "applied": 4,
        "refused_count": 0,
        "refused": [],
        "rolled_back": False,
        "last": True,
        "prepared": False,
    }
    finished = str(written[-1].event_id)
    made = await recorded(exceptions, "exceptions.ExceptionRecorded")
    out = await recorded(exceptions, "exceptions.SerialsDecommissioned")
    [decision_record] = await decisions(exceptions)
    assert {e.metadata["causation_id"] for e in [*made, *out, decision_record]} == {finished}
    assert {e.metadata["principal_id"] for e in made} == {"reactor:line_exceptions.epcis_exceptions"}
    assert [(e.payload["serials"], e.payload["reason"]) for e in out] == [
        (["A1", "A2"], "damaged"),
        (["A3"], "destroyed"),
        (["A4"], "sample"),
        (["A5"], "misprint"),
    ]
    routed = [e for e in events if e.owner]
    assert [e.payload["exception_id"] for e in made] == [str(uuid.uuid5(capture_id, e.event_id)) for e in routed]

    records = {r["exception_id"]: r for r in await listed(exceptions)}
    shown = [records[e.payload["exception_id"]] for e in made]
    assert [(r["exception_type"], r["lot"], r["line_id"], r["taken_out"], r["state"]) for r in shown] == [
        ("damaged", LOT, "LINE-1", 2, "open"),
        ("destroyed", LOT, "LINE-1", 1, "open"),
        ("qc-sample", LOT, "LINE-1", 1, "open"),
        ("label-misprint", LOT, "LINE-1", 1, "open"),
    ]
    assert (
        shown[0]["description"]
        == f"decommissioning (action DELETE, disposition damaged) captured through EPCIS: {routed[0].event_id}"
    )
    assert shown[2]["description"].startswith("sampling (action OBSERVE, disposition non_sellable_other)")
    assert {r["observed_by"] for r in shown} == {f"the sender of EPCIS capture {capture_id}"}
    assert datetime.fromisoformat(shown[0]["event_time"]) == datetime.fromisoformat(AT)

    detail = (await exceptions.client.get(f"/v1/exceptions/{made[0].payload['exception_id']}")).json()
    assert detail["serials"] == ["A1", "A2"]
    assert [h["event"] for h in detail["history"]] == ["ExceptionRecorded", "SerialsDecommissioned"]
    assert await taken_out(exceptions) == 5
    of_unit = (await exceptions.client.get(f"/v1/serials/{GTIN}/A6/exceptions")).json()
    assert of_unit["exceptions"] == []  # the inspection was EPCIS reporting's alone

    # Out of the supply chain as if the API had taken them out: the API cannot take them out again.
    again = await exceptions.client.post("/v1/exceptions", json=record_body("damaged", [f"(01){GTIN}(21)A3"]))
    assert (again.status_code, again.json()["errors"][0]["rule"]) == (409, "in-supply-chain"), again.text


async def refused_ones(exceptions: Harness) -> list[CapturedEvent]:
    """Four events, three refused: a serial never commissioned, an unknown read point, a
    disposition no exception record means. The first alone is sound."""
    await staged(exceptions, UNITS)
    return [
        decommissioning(0, ["A1"], "damaged"),
        decommissioning(1, ["A2", "NEVER1"], "damaged"),
        destroying(2, [sgtin_urn("A3")], readPoint={"id": "urn:epc:id:sgln:9506000.00000.LINE-9"}),
        decommissioning(3, ["A4"], "expired"),
    ]


async def test_under_rollback_one_refused_event_leaves_every_other_unrecorded(exceptions: Harness) -> None:
    events = await refused_ones(exceptions)
    await captured(exceptions, [events[:1], events[1:]], ErrorBehaviour.rollback)

    decision = await decided(exceptions)
    assert counts(decision) == (0, 3, True)
    assert refusals(decision) == [
        ("eventList[1].epcList[1]", "commissioned", 422),
        ("eventList[2].readPoint.id", "registered-line", 422),
        ("eventList[3].disposition", "captured-exception", 422),
    ]
    assert await recorded(exceptions, "exceptions.ExceptionRecorded") == []
    assert await listed(exceptions) == []
    assert await taken_out(exceptions) == 0


async def test_under_proceed_only_the_refused_events_are_left_out(exceptions: Harness) -> None:
    events = await refused_ones(exceptions)
    await captured(exceptions, [events[:1], events[1:]], ErrorBehaviour.proceed)

    decision = await decided(exceptions)
    assert counts(decision) == (1, 3, False)
    [record] = await listed(exceptions)
    assert (record["exception_type"], record["units"], record["taken_out"]) == ("damaged", 1, 1)
    assert await taken_out(exceptions) == 1


async def test_a_later_event_of_a_capture_sees_what_an_earlier_one_took_out(exceptions: Harness) -> None:
    """The write side is current inside the capture's unit: a unit decommissioned by an earlier
    event is out of the supply chain for a later one, as for a second request."""
    await staged(exceptions, UNITS)
    twice = [decommissioning(0, ["A1"], "damaged"), destroying(1, [sgtin_urn("A2"), sgtin_urn("A1")])]
    await captured(exceptions, [twice], ErrorBehaviour.proceed)
    decision = await decided(exceptions)
    assert counts(decision) == (1, 1, False)
    assert refusals(decision) == [("eventList[1].epcList[1]", "in-supply-chain", 409)]


@pytest.mark.parametrize("apply", [True, False])
async def test_a_share_checked_first_is_recorded_only_when_the_capture_is_committed(
    exceptions: Harness, apply: bool
) -> None:
    """Several owners under rollback: the share is checked (nothing recorded, a `prepared`
    answer), and recorded when EPCIS reporting commits the capture; not at all when another
    owner refused."""
    await staged(exceptions, UNITS)
    events = [decommissioning(0, ["A1", "A2"], "damaged"), sampling(1, [sgtin_urn("A3")])]
    capture_id, written = await captured(exceptions, [events], ErrorBehaviour.rollback, prepare=True)
    [checked] = await decisions(exceptions)
    assert (checked.payload["prepared"], checked.payload["applied"], checked.payload["refused"]) == (True, 2, [])
    assert checked.metadata["causation_id"] == str(written[-1].event_id)
    assert await recorded(exceptions, "exceptions.ExceptionRecorded") == []
    assert await listed(exceptions) == []

    commit = await committed(exceptions, capture_id, apply)
    [_, final] = await decisions(exceptions)
    assert (final.payload["prepared"], final.payload["applied"], final.payload["rolled_back"]) == (
        False,
        2 if apply else 0,
        not apply,
    )
    assert final.metadata["causation_id"] == str(commit.event_id)
    made = await recorded(exceptions, "exceptions.ExceptionRecorded")
    assert len(made) == (2 if apply else 0)
    assert {e.metadata["causation_id"] for e in made} == ({str(commit.event_id)} if apply else set())
    assert sorted(r["exception_type"] for r in await listed(exceptions)) == (["damaged", "qc-sample"] if apply else [])
    assert await taken_out(exceptions) == (3 if apply else 0)


async def test_a_refusal_found_in_the_check_is_reported_then_and_nothing_is_recorded(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    events = [decommissioning(0, ["A1"], "damaged"), decommissioning(1, ["NEVER1"], "damaged")]
    capture_id, _ = await captured(exceptions, [events], ErrorBehaviour.rollback, prepare=True)
    [checked] = [d.payload for d in await decisions(exceptions)]
    assert (checked["prepared"], checked["applied"], checked["rolled_back"]) == (True, 0, True)
    assert [(e["index"], e["rule"]) for e in checked["refused"]] == [(1, "commissioned")]
    await committed(exceptions, capture_id, apply=False)
    assert await listed(exceptions) == []
    assert await taken_out(exceptions) == 0


async def test_a_capturer_outside_the_line_is_refused_naming_no_other_party(exceptions: Harness) -> None:
    await staged(exceptions, UNITS, cmo_id="ACME")
    other_line = Scope(company_prefixes=(PREFIX,), lines=("LINE-2",))
    await captured(exceptions, [[decommissioning(0, ["A1"], "damaged")]], ErrorBehaviour.rollback, other_line)

    decision = await decided(exceptions)
    assert refusals(decision) == [("eventList[0].readPoint.id", "capturer-scope", 403)]
    _no_other_party_in(decision)
    assert await listed(exceptions) == []


async def test_a_capturer_records_only_its_own_units_and_products(exceptions: Harness) -> None:
    """The checks a narrowed key gets at `POST /v1/exceptions`: a unit of another CMO's batch, on
    the capturer's own line, answered exactly as a unit never commissioned (its batch, CMO and
    line untold); another party's line refused before the product named is looked at."""
    await staged(exceptions, UNITS, cmo_id="ACME")
    await publish(exceptions, line("LINE-OTHER", cmo_id="OTHERCO"))
    at_other = {"readPoint": {"id": "urn:epc:id:sgln:9506000.00000.LINE-OTHER"}}
    events = [
        decommissioning(0, ["A1"], "damaged", **at_other),
        decommissioning(1, ["NEVER1"], "damaged", **at_other),
        destroying(2, [FOREIGN_UNIT]),  # on LINE-1, ACME's
    ]
    await captured(exceptions, [events], ErrorBehaviour.proceed, Scope(company_prefixes=(PREFIX,), cmos=("OTHERCO",)))

    decision = await decided(exceptions)
    assert counts(decision) == (0, 3, False)
    assert refusals(decision) == [
        ("eventList[0].epcList[0]", "commissioned", 422),
        ("eventList[1].epcList[0]", "commissioned", 422),
        ("eventList[2].readPoint.id", "capturer-scope", 403),
    ]
    first, unknown = decision["refused"][0]["message"], decision["refused"][1]["message"]
    assert first.replace("A1", "S") == unknown.replace("NEVER1", "S")
    _no_other_party_in(decision)
    assert await listed(exceptions) == []


async def test_a_key_narrowed_to_a_line_records_its_lines_units_of_its_products(exceptions: Harness) -> None:
    """A unit commissioned on LINE-1, named by a key narrowed to LINE-2 on LINE-2, reads as
    unknown; another company's product is out of its scope (403, naming the GTIN it sent); its
    own line's unit is recorded."""
    await staged(exceptions, UNITS)
    await publish(exceptions, commissioned(["B1"], line_id="LINE-2"))
    on_line_two = {"readPoint": {"id": "urn:epc:id:sgln:9506000.00000.LINE-2"}}
    events = [
        decommissioning(0, ["A2"], "damaged", **on_line_two),
        destroying(1, [FOREIGN_UNIT], **on_line_two),
        decommissioning(2, ["B1"], "damaged", **on_line_two),
    ]
    line_two = Scope(company_prefixes=(PREFIX,), lines=("LINE-2",))
    await captured(exceptions, [events], ErrorBehaviour.proceed, line_two)

    decision = await decided(exceptions)
    assert counts(decision) == (1, 2, False)
    assert refusals(decision) == [
        ("eventList[0].epcList[0]", "commissioned", 422),
        ("eventList[1].epcList", "capturer-scope", 403),
    ]
    _no_other_party_in(decision)
    [record] = await listed(exceptions)
    assert (record["line_id"], record["units"], record["taken_out"]) == ("LINE-2", 1, 1)


async def test_what_is_no_exception_record_is_refused_where_it_was_written(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    events = [
        decommissioning(0, ["A1"], None),  # what became of it is not said
        sampling(1, [sgtin_urn("A2")], disposition=None),  # observed: the unit may still be sellable
        destroying(2, [sgtin_urn("A3"), "urn:epc:id:sscc:9506000.0000000015"]),
        decommissioning(3, ["A4"], "damaged", eventTime="2099-01-01T00:00:00.000Z"),
        # A Digital Link carrying a lot and expiry: held to its batch's, as the API holds a scan.
        destroying(4, [sgtin_link("A5"), f"https://id.gs1.org/01/{GTIN}/10/{OTHER_LOT}/21/A6"]),
        destroying(5, [f"https://id.gs1.org/01/{GTIN}/21/A6?17=280731"]),
    ]
    await captured(exceptions, [events], ErrorBehaviour.proceed)
    decision = await decided(exceptions)
    assert [(field, rule) for field, rule, _ in refusals(decision)] == [
        ("eventList[0].disposition", "captured-exception"),
        ("eventList[1].disposition", "captured-exception"),
        ("eventList[2].epcList[1]", "captured-exception"),
        ("eventList[3].eventTime", "not-in-future"),
        ("eventList[4].epcList[1]", "label-matches-batch"),
        ("eventList[5].epcList[0]", "label-matches-batch"),
    ]
    assert await listed(exceptions) == []


async def test_a_capture_with_nothing_routed_here_is_not_answered(exceptions: Harness) -> None:
    await staged(exceptions, UNITS)
    kept = decommissioning(0, ["A1"], "damaged").model_copy(update={"owner": None})
    await captured(exceptions, [[kept]], ErrorBehaviour.rollback)
    assert await decisions(exceptions) == []
    assert await listed(exceptions) == []


def _no_other_party_in(decision: dict[str, Any]) -> None:
    """No refusal names a line, site, CMO or batch the capturer was not told of."""
    text = orjson.dumps(decision["refused"]).decode()
    for secret in ("LINE-1", SITE_GLN, "ACME", "(no cmo)", LOT):
        assert secret not in text, (secret, text)


def _read(fields: dict[str, Any]) -> CapturedException:
    return read(orjson.loads(object_event(0, fields).event_json))


MAPPED = [
    ("decommissioning", "DELETE", "inactive", ExceptionType.label_misprint),
    ("decommissioning", "DELETE", "damaged", ExceptionType.damaged),
    ("decommissioning", "DELETE", "destroyed", ExceptionType.destroyed),
    ("decommissioning", "DELETE", "stolen", ExceptionType.stolen),
    ("decommissioning", "DELETE", "unavailable", ExceptionType.lost),
    ("destroying", "DELETE", "destroyed", ExceptionType.destroyed),
    ("destroying", "DELETE", None, ExceptionType.destroyed),
    ("sampling", "DELETE", "non_sellable_other", ExceptionType.qc_sample),
    ("sampling", "DELETE", None, ExceptionType.qc_sample),
    ("sampling", "OBSERVE", "non_sellable_other", ExceptionType.qc_sample),
    # As CBV 2.0 URIs and CBV 1.2 URNs: the same words.
    (
        "https://ref.gs1.org/cbv/BizStep-decommissioning",
        "DELETE",
        "https://ref.gs1.org/cbv/Disp-damaged",
        ExceptionType.damaged,
    ),
    ("urn:epcglobal:cbv:bizstep:destroying", "DELETE", "urn:epcglobal:cbv:disp:destroyed", ExceptionType.destroyed),
]


@pytest.mark.parametrize(("step", "action", "disposition", "kind"), MAPPED)
def test_the_mapping(step: str, action: str, disposition: str | None, kind: ExceptionType) -> None:
    fields = {"bizStep": step, "action": action, "epcList": [sgtin_urn("A1"), sgtin_link("A2")]}
    found = _read({**fields, **({"disposition": disposition} if disposition else {})})
    assert (found.exception_type, found.gtin, found.serials) == (kind, GTIN, ("A1", "A2"))


REFUSED: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
    ({"type": "AggregationEvent"}, [("type", "captured-exception")]),
    ({"bizStep": "shipping"}, [("bizStep", "captured-exception")]),
    ({"bizStep": "urn:example:bizstep:scrapping"}, [("bizStep", "captured-exception")]),
    ({"action": "ADD"}, [("action", "captured-exception")]),
    ({"action": "OBSERVE"}, [("action", "captured-exception")]),  # a decommissioning is a DELETE
    ({"disposition": None}, [("disposition", "captured-exception")]),
    ({"disposition": "expired"}, [("disposition", "captured-exception")]),
    ({"disposition": "non_sellable_other"}, [("disposition", "captured-exception")]),  # why, not said
    ({"bizStep": "destroying", "disposition": "damaged"}, [("disposition", "captured-exception")]),
    ({"bizStep": "sampling", "action": "OBSERVE", "disposition": None}, [("disposition", "captured-exception")]),
    (
        {"bizStep": "sampling", "action": "OBSERVE", "disposition": "sellable_accessible"},
        [("disposition", "captured-exception")],
    ),
    ({"epcList": []}, [("epcList", "captured-exception")]),
    (
        {"epcList": ["urn:epc:id:sscc:9506000.0000000015", sgtin_urn("A1"), sgtin_urn("B1", "09506000134369")]},
        [("epcList[0]", "captured-exception"), ("epcList[2]", "captured-exception")],
    ),
    (
        {"epcList": [sgtin_urn("A1"), "not an epc", "https://id.gs1.org/01/09506000134353/21/A2"]},
        [("epcList[1]", "gs1-syntax"), ("epcList[2]", "gs1-check-digit")],
    ),
    (
        {"quantityList": [{"epcClass": "urn:epc:idpat:sgtin:9506000.013435.*", "quantity": 2}]},
        [("quantityList", "captured-exception")],
    ),
    ({"eventTime": "yesterday"}, [("eventTime", "captured-exception")]),
    ({"eventTime": "2026-11-22T10:30:00"}, [("eventTime", "captured-exception")]),
]


@pytest.mark.parametrize(("changes", "expected"), REFUSED)
def test_what_cannot_be_mapped_is_refused_naming_the_field(
    changes: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    fields = {"action": "DELETE", "bizStep": "decommissioning", "disposition": "damaged", "epcList": [sgtin_urn("A1")]}
    event = {k: v for k, v in {**fields, **changes}.items() if v is not None}
    with pytest.raises(InvalidInput) as refused:
        _read(event)
    assert [(v.field, v.rule) for v in refused.value.violations] == expected


def test_a_records_fields_are_named_where_the_event_wrote_them() -> None:
    named = ("units[3]", "units", "batch.lot", "event_time", "line_id", "epcList[2]", "disposition", "parents[0]")
    assert [event_field(f) for f in named] == [
        "epcList[3]",
        "epcList",
        "epcList",
        "eventTime",
        "readPoint.id",
        "epcList[2]",  # read from the event: named there already
        "disposition",
        "parents[0]",
    ]
