"""EPCIS captures seen from aggregation, on both transports (EPCIS reporting's log read directly,
and its topic through the relay): the packing and unpacking AggregationEvents routed here arrive
in several messages and are decided at once when the capture ends, by the rules and ownership
checks of `POST /v1/pack` and `/v1/unpack`, on the sender's behalf; under rollback all or none;
each decision is recorded once, caused by the capture's end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aggregation.application.captures import CapturedPacking
from aggregation.domain.captured import CapturedAggregation, packaging_level, read
from aggregation_helpers import (
    GTIN,
    PREFIX,
    SITE_GLN,
    commissioned,
    line,
    master_data,
    pack,
    publish,
    sscc_uri,
    unit,
)
from serialtrail_contracts.aggregation import PackagingLevel
from serialtrail_contracts.epcis import CapturedEvent, ErrorBehaviour, Named, Scope
from serialtrail_gs1 import testing as capture_log
from serialtrail_gs1.keys import sscc
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import Harness

LINE_1 = "urn:epc:id:sgln:9506000.00000.LINE-1"
LINE_1_LINK = f"https://id.gs1.org/414/{SITE_GLN}/254/LINE-1"  # the same read point, as a Digital Link
AT = "2026-11-22T10:30:00.000+01:00"  # after the units' commissioning (08:00Z), in the line's zone
SERIALS = [f"E{i:011d}" for i in range(8)]
CMO_LINE = line("CMO-A-1", cmo_id="CMO-A", site_gln="4000001000005")
CMO_A = Scope(company_prefixes=(PREFIX,), cmos=("CMO-A",))


def sgtin_urn(serial: str) -> str:
    return f"urn:epc:id:sgtin:9506000.013435.{serial}"


def sscc_urn(reference: int) -> str:
    digits = sscc(0, PREFIX, reference)
    return f"urn:epc:id:sscc:{digits[1:8]}.{digits[0]}{digits[8:17]}"


def aggregation_event(index: int, fields: dict[str, Any], owner: str | None = "aggregation") -> CapturedEvent:
    event = {
        "type": "AggregationEvent",
        "eventTime": AT,
        "eventTimeZoneOffset": "+01:00",
        "readPoint": {"id": LINE_1},
        **fields,
    }
    return capture_log.routed(index, event, owner)


def packing(index: int, parent: str, children: list[str], **fields: Any) -> CapturedEvent:
    body = {"action": "ADD", "bizStep": "packing", "parentID": parent, "childEPCs": children, **fields}
    return aggregation_event(index, body)


def unpacking(index: int, parent: str, children: list[str], **fields: Any) -> CapturedEvent:
    body = {"action": "DELETE", "bizStep": "unpacking", "parentID": parent, "childEPCs": children, **fields}
    return aggregation_event(index, body)


async def captured(
    harness: Harness,
    batches: list[list[CapturedEvent]],
    behaviour: ErrorBehaviour,
    scope: Scope = capture_log.UNRESTRICTED,
) -> list[RecordedEvent]:
    """What EPCIS reporting records for a capture, written to its log, then reacted to here."""
    # What was packed before the capture is in the hierarchy read model by then (a capture decided
    # in the instant after a pack may not count it yet towards whose a parent is).
    await harness.runner("aggregation", "hierarchy").caught_up(timeout=30)
    names = Named(gtins=(GTIN,))
    _, written = await capture_log.write_capture(
        harness, batches, behaviour, owner="aggregation", scope=scope, names=names
    )
    await harness.runner("aggregation", "reactor_epcis_packing").caught_up(timeout=30)
    return written


async def recorded(harness: Harness, event_type: str) -> list[RecordedEvent]:
    events = await PostgresEventStore(harness.composition.app_pool, "aggregation").read_all(0, 10_000)
    return [e for e in events if e.event_type == event_type]


async def decided(harness: Harness) -> dict[str, Any]:
    """The one decision recorded (a second one would be a decision recorded twice)."""
    [decision] = await recorded(harness, "aggregation.CaptureDecided")
    return decision.payload


def refusals(decision: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(e["field"], e["rule"], e["status"]) for e in decision["refused"]]


def counts(decision: dict[str, Any]) -> tuple[int, int, bool]:
    return decision["applied"], decision["refused_count"], decision["rolled_back"]


async def tree(harness: Harness, parent: str) -> dict[str, Any] | None:
    answer = await harness.client.get(f"/v1/hierarchy/{parent}")
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def contents(node: dict[str, Any] | None) -> dict[str, Any]:
    """child id → its status (a leaf) or its own contents and level (a parent)."""
    assert node is not None
    return {c["id"]: (c["level"], contents(c)) if "level" in c else c["status"] for c in node.get("children", [])}


async def test_captured_packs_build_the_hierarchy_the_api_shows(aggregation: Harness) -> None:
    """Cases of units (some not yet known as commissioned: pending, as the API accepts them)
    and a pallet of those cases, in two messages, in EPC URIs and Digital Links alike."""
    await publish(aggregation, *master_data(), commissioned(SERIALS[:5]))
    case1, case2, pallet = sscc_uri(11), sscc_uri(12), sscc_uri(13)
    batches = [
        [
            packing(0, sscc_urn(11), [sgtin_urn(s) for s in SERIALS[:3]]),
            aggregation_event(1, {"action": "OBSERVE", "parentID": case1}, owner=None),  # EPCIS reporting's alone
            packing(2, case2, [unit(s) for s in SERIALS[3:6]], readPoint={"id": LINE_1_LINK}),
        ],
        [packing(3, pallet, [sscc_urn(11), sscc_urn(12)])],
    ]
    written = await captured(aggregation, batches, ErrorBehaviour.rollback)

    [decision] = await recorded(aggregation, "aggregation.CaptureDecided")
    assert decision.payload == {
        "capture_id": str(written[0].payload["capture_id"]),
        "owner": "aggregation",
        "applied": 3,
        "refused_count": 0,
        "refused": [],
        "rolled_back": False,
        "last": True,
        "prepared": False,
    }
    finished = written[-1].event_id
    packs = await recorded(aggregation, "aggregation.ChildrenPacked")
    assert [p.metadata["causation_id"] for p in [*packs, decision]] == [str(finished)] * 4
    assert len({p.recorded_at for p in packs}) == 1  # none refused: packed together, in one append
    assert [(p.payload["parent_id"], p.payload["packaging_level"], p.payload["line_id"]) for p in packs] == [
        (case1, "case", "LINE-1"),
        (case2, "case", "LINE-1"),
        (pallet, "pallet", "LINE-1"),
    ]
    assert datetime.fromisoformat(packs[0].payload["event_time"]) == datetime.fromisoformat(AT)
    assert packs[1].payload["pending_child_ids"] == [unit(SERIALS[5])]

    shown = await tree(aggregation, pallet)
    assert shown is not None
    assert shown["level"] == "pallet"
    assert contents(shown) == {
        case1: ("case", {unit(s): "confirmed" for s in SERIALS[:3]}),
        case2: ("case", {unit(SERIALS[3]): "confirmed", unit(SERIALS[4]): "confirmed", unit(SERIALS[5]): "pending"}),
    }


async def test_captured_unpacks_take_children_out(aggregation: Harness) -> None:
    """Some children by name, or every child when none is named; damaged when the disposition says so."""
    await publish(aggregation, *master_data(), commissioned(SERIALS[:4]))
    case1, case2 = sscc_uri(21), sscc_uri(22)
    await pack(aggregation.client, case1, [unit(s) for s in SERIALS[:2]])
    await pack(aggregation.client, case2, [unit(s) for s in SERIALS[2:4]])
    batches = [
        [unpacking(0, case1, [sgtin_urn(SERIALS[0])], disposition="damaged")],
        [unpacking(1, sscc_urn(22), [])],
    ]
    await captured(aggregation, batches, ErrorBehaviour.rollback)

    assert counts(await decided(aggregation)) == (2, 0, False)
    assert contents(await tree(aggregation, case1)) == {unit(SERIALS[1]): "confirmed"}
    assert await tree(aggregation, case2) is None  # holds nothing now
    unpacked = await recorded(aggregation, "aggregation.ChildrenUnpacked")
    assert [(u.payload["child_ids"], u.payload["reason"], u.metadata["reason"]) for u in unpacked] == [
        ([unit(SERIALS[0])], "damaged", "damaged"),
        ([unit(SERIALS[2]), unit(SERIALS[3])], "rework", "rework"),
    ]


async def refused_ones(aggregation: Harness) -> list[CapturedEvent]:
    """Four packs, three refused: a child already in another parent, an unknown read point, an
    OBSERVE that is no packing. The first alone is sound."""
    await publish(aggregation, *master_data(), commissioned(SERIALS[:4]))
    await pack(aggregation.client, sscc_uri(30), [unit(SERIALS[3])])
    return [
        packing(0, sscc_uri(31), [unit(SERIALS[0]), unit(SERIALS[1])]),
        packing(1, sscc_uri(32), [unit(SERIALS[2]), unit(SERIALS[3])]),
        packing(2, sscc_uri(33), [unit(SERIALS[2])], readPoint={"id": "urn:epc:id:sgln:9506000.00000.LINE-9"}),
        aggregation_event(3, {"action": "OBSERVE", "bizStep": "packing", "parentID": sscc_uri(34)}),
    ]


async def test_under_rollback_one_refused_pack_leaves_every_other_unrecorded(aggregation: Harness) -> None:
    events = await refused_ones(aggregation)
    await captured(aggregation, [events[:1], events[1:]], ErrorBehaviour.rollback)

    decision = await decided(aggregation)
    assert counts(decision) == (0, 3, True)
    assert refusals(decision) == [
        ("eventList[1].childEPCs[1]", "not-already-packed", 409),
        ("eventList[2].readPoint.id", "registered-line", 422),
        ("eventList[3].action", "captured-aggregation", 422),
    ]
    assert await tree(aggregation, sscc_uri(31)) is None
    assert [p.payload["parent_id"] for p in await recorded(aggregation, "aggregation.ChildrenPacked")] == [
        sscc_uri(30)  # the API's, before the capture
    ]


async def test_under_proceed_only_the_refused_packs_are_left_out(aggregation: Harness) -> None:
    events = await refused_ones(aggregation)
    await captured(aggregation, [events[:1], events[1:]], ErrorBehaviour.proceed)

    decision = await decided(aggregation)
    assert counts(decision) == (1, 3, False)
    assert contents(await tree(aggregation, sscc_uri(31))) == {unit(s): "confirmed" for s in SERIALS[:2]}
    assert await tree(aggregation, sscc_uri(32)) is None
    assert contents(await tree(aggregation, sscc_uri(30))) == {unit(SERIALS[3]): "confirmed"}


async def test_a_later_pack_of_a_capture_sees_the_earlier_ones(aggregation: Harness) -> None:
    """Under proceed, a child packed by an earlier event of the same capture is in a parent
    already: the write side is current inside the capture's unit."""
    await publish(aggregation, *master_data(), commissioned(SERIALS[:2]))
    twice = [packing(0, sscc_uri(41), [unit(SERIALS[0])]), packing(1, sscc_uri(42), [unit(SERIALS[0])])]
    await captured(aggregation, [twice], ErrorBehaviour.proceed)
    decision = await decided(aggregation)
    assert counts(decision) == (1, 1, False)
    assert refusals(decision) == [("eventList[1].childEPCs[0]", "not-already-packed", 409)]


async def test_a_capturer_outside_the_line_is_refused_naming_no_other_party(aggregation: Harness) -> None:
    await publish(aggregation, *master_data(cmo_id="CMO-B"), commissioned(SERIALS[:1]))
    other_line = Scope(company_prefixes=(PREFIX,), lines=("LINE-2",))
    await captured(aggregation, [[packing(0, sscc_uri(51), [unit(SERIALS[0])])]], ErrorBehaviour.rollback, other_line)

    decision = await decided(aggregation)
    assert refusals(decision) == [("eventList[0].readPoint.id", "capturer-scope", 403)]
    _no_other_party_in(decision)
    assert await tree(aggregation, sscc_uri(51)) is None


async def test_a_cmo_capturer_packs_only_its_own_on_its_own_lines(aggregation: Harness) -> None:
    """The checks a CMO's key gets at `POST /v1/pack`: another company's parent (403), a unit of
    another CMO's batch (409, as the API answers it), the company's own line (403)."""
    await publish(aggregation, *master_data(cmo_id="CMO-B"), CMO_LINE, commissioned(SERIALS[:1]))
    at_cmo = {"readPoint": {"id": CMO_LINE.read_point}}
    foreign = f"https://id.gs1.org/00/{sscc(0, '4000001', 1)}"  # another company's SSCC
    events = [
        packing(0, foreign, [unit(SERIALS[0])], **at_cmo),
        packing(1, sscc_uri(52), [unit(SERIALS[0])], **at_cmo),
        packing(2, sscc_uri(53), [unit(SERIALS[0])]),  # LINE-1: the company's own
    ]
    await captured(aggregation, [events], ErrorBehaviour.proceed, CMO_A)

    decision = await decided(aggregation)
    assert counts(decision) == (0, 3, False)
    assert refusals(decision) == [
        ("eventList[0].parentID", "capturer-scope", 403),
        ("eventList[1].childEPCs[0]", "in-scope", 409),
        ("eventList[2].readPoint.id", "capturer-scope", 403),
    ]
    _no_other_party_in(decision)


async def test_a_parent_formed_on_another_line_is_not_the_capturers_to_fill_or_empty(aggregation: Harness) -> None:
    """A key narrowed to LINE-2 captures on LINE-2, naming a case formed on LINE-1: packing into
    it is answered as the API answers it (in-scope), unpacking it as if it held nothing."""
    await publish(aggregation, *master_data(), line("LINE-2"), commissioned(SERIALS[:2]))
    case = sscc_uri(61)
    await pack(aggregation.client, case, [unit(SERIALS[0])])
    on_line_2 = {"readPoint": {"id": "urn:epc:id:sgln:9506000.00000.LINE-2"}}
    events = [packing(0, case, [unit(SERIALS[1])], **on_line_2), unpacking(1, case, [], **on_line_2)]
    await captured(aggregation, [events], ErrorBehaviour.proceed, Scope(company_prefixes=(PREFIX,), lines=("LINE-2",)))

    decision = await decided(aggregation)
    assert refusals(decision) == [
        ("eventList[0].parentID", "in-scope", 409),
        ("eventList[1].parentID", "known-parent", 409),
    ]
    _no_other_party_in(decision)
    assert contents(await tree(aggregation, case)) == {unit(SERIALS[0]): "confirmed"}


async def test_what_is_not_a_packing_is_refused_where_it_was_written(aggregation: Harness) -> None:
    await publish(aggregation, *master_data())
    events = [
        aggregation_event(
            0, {"action": "ADD", "bizStep": "shipping", "parentID": sscc_uri(71), "childEPCs": [unit("X1")]}
        ),
        packing(1, sscc_uri(72), [unit("X1"), "urn:epc:id:grai:9506000.12345.1"], eventTime="yesterday"),
        packing(2, sscc_uri(73), [], childQuantityList=[{"epcClass": "urn:epc:idpat:sgtin:9506000.013435.*"}]),
    ]
    await captured(aggregation, [events], ErrorBehaviour.proceed)
    decision = await decided(aggregation)
    assert [(field, rule) for field, rule, _ in refusals(decision)] == [
        ("eventList[0].bizStep", "captured-aggregation"),
        ("eventList[1].childEPCs[1]", "epc-uri"),  # a GRAI: no pack or case
        ("eventList[1].eventTime", "captured-aggregation"),
        ("eventList[2].childQuantityList", "captured-aggregation"),
        ("eventList[2].childEPCs", "captured-aggregation"),
    ]


async def test_a_capture_with_nothing_routed_here_is_not_answered(aggregation: Harness) -> None:
    await publish(aggregation, *master_data(), commissioned(SERIALS[:1]))
    kept = aggregation_event(0, {"action": "ADD", "bizStep": "packing", "parentID": sscc_uri(81)}, owner=None)
    await captured(aggregation, [[kept]], ErrorBehaviour.rollback)
    assert await recorded(aggregation, "aggregation.CaptureDecided") == []
    assert await tree(aggregation, sscc_uri(81)) is None


def _no_other_party_in(decision: dict[str, Any]) -> None:
    """No refusal names a line, site or CMO the capturer was not told of."""
    text = orjson.dumps(decision["refused"]).decode()
    for secret in ("LINE-1", SITE_GLN, "CMO-B", "(no cmo)", CMO_LINE.site_gln):
        assert secret not in text, (secret, text)


def _read(parent: str, children: list[str]) -> CapturedAggregation:
    body = {"action": "ADD", "bizStep": "packing", "parentID": parent, "childEPCs": children}
    return read(orjson.loads(aggregation_event(0, body).event_json))


def test_the_packaging_level_is_the_parents_own_else_inferred_from_its_children() -> None:
    case, bundle = unit(SERIALS[0]), unit(SERIALS[1])
    units = [unit(s) for s in SERIALS[2:4]]
    assert packaging_level(_read(sscc_uri(1), units), {}) is PackagingLevel.case
    assert packaging_level(_read(case, units), {}) is PackagingLevel.case  # a case with a GTIN of its own
    assert packaging_level(_read(sscc_uri(1), [bundle, *units]), {bundle: PackagingLevel.bundle}) is PackagingLevel.case
    assert packaging_level(_read(sscc_uri(1), [sscc_uri(2)]), {}) is PackagingLevel.pallet
    assert packaging_level(_read(sscc_uri(1), [case]), {case: PackagingLevel.case}) is PackagingLevel.pallet
    # A parent packed into before keeps its level, whatever is added: a bundle is never guessed, only kept.
    assert packaging_level(_read(bundle, units), {bundle: PackagingLevel.bundle}) is PackagingLevel.bundle
    assert packaging_level(_read(sscc_uri(1), units), {sscc_uri(1): PackagingLevel.pallet}) is PackagingLevel.pallet


def test_a_packs_fields_are_named_where_the_event_wrote_them() -> None:
    event_field = CapturedPacking.field_in_event
    assert [event_field(f) for f in ("children[3]", "parent", "packaging_level", "event_time", "line_id")] == [
        "childEPCs[3]",
        "parentID",
        "parentID",
        "eventTime",
        "readPoint.id",
    ]
    assert event_field("childEPCs[2]") == "childEPCs[2]"  # read from the event: named there already
