"""EPCIS 2.0 JSON-LD documents read as they arrive, and the per-event checks, on the official
examples (which all validate) and on events broken one rule at a time."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from serialtrail_gs1.epcis_checks import check_event, envelope_violations
from serialtrail_gs1.epcis_json import JsonDocumentReader, MalformedDocument, RefusedJson, read_document
from serialtrail_gs1.keys import check_digit

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT.parent / "shared" / "standards" / "epcis" / "examples" / "json-2.0"
DOCUMENTS = sorted(EXAMPLES.rglob("*.jsonld")) if EXAMPLES.exists() else []


def _events(document: dict[str, Any]) -> list[Any]:
    body = document["epcisBody"]
    events: list[Any] = (body.get("queryResults", {}).get("resultsBody", {}) or body).get("eventList", [])
    return events


# Official examples a capture refuses whole, and why.
REFUSED = {"AssociationEvent/AssociationEvent-h.jsonld": "unique-key"}  # `eventID` twice in one event


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_official_example_reads_as_json_does_and_passes_every_check(path: Path) -> None:
    raw = path.read_bytes()
    if str(path.relative_to(EXAMPLES)) in REFUSED:
        with pytest.raises(RefusedJson) as refused:
            read_document(raw)
        assert refused.value.rule.name == REFUSED[str(path.relative_to(EXAMPLES))]
        return
    whole = json.loads(raw)
    envelope, events = read_document(raw, chunk_size=7)  # tokens split across chunks everywhere
    assert events == _events(whole)
    assert _events(envelope) == []
    assert envelope_violations(envelope) == []
    for index, event in enumerate(events):
        assert check_event(index, event).violations == (), (index, event)


def test_the_examples_are_there() -> None:
    assert len(DOCUMENTS) >= 40 or not EXAMPLES.exists()


def test_events_come_out_as_soon_as_they_are_complete() -> None:
    event = {"type": "ObjectEvent", "action": "OBSERVE", "epcList": ["urn:epc:id:sgtin:9506000.134352.1"]}
    document = {"@context": [], "type": "EPCISDocument", "epcisBody": {"eventList": [event, event]}}
    raw = json.dumps(document).encode()
    first_end = raw.index(b"}") + 1
    reader = JsonDocumentReader()
    assert reader.feed(raw[:first_end]) == [event]
    assert reader.feed(raw[first_end:]) == [event]
    assert reader.close() == []
    assert reader.events_read == 2
    assert reader.received == len(raw)


@pytest.mark.parametrize("raw", [b'{"type": "EPCISDocument", "epcisBody": {"eventList": [{}', b"[1, 2", b"{,}"])
def test_json_that_is_cut_short_or_malformed_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedDocument):
        read_document(raw)


def test_a_lone_event_is_not_a_document() -> None:
    assert [v.rule for v in envelope_violations({"type": "ObjectEvent"})] == ["epcis-document"]


GOOD: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2026-11-30T09:15:00.000+01:00",
    "eventTimeZoneOffset": "+01:00",
    "epcList": ["https://id.gs1.org/01/09506000134352/21/A1"],
    "action": "ADD",
    "bizStep": "commissioning",
    "disposition": "active",
}


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"eventTime": "2026-11-30T09:15:00"}, "eventList[0].eventTime", "epcis-schema"),
        ({"eventTimeZoneOffset": "1:00"}, "eventList[0].eventTimeZoneOffset", "epcis-schema"),
        ({"bizStep": "shipped"}, "eventList[0].bizStep", "epcis-schema"),
        ({"bizStep": "urn:epcglobal:cbv:bizstep:shipping"}, "eventList[0].bizStep", "epcis-schema"),
        ({"disposition": "https://ref.gs1.org/cbv/Disp-misplaced"}, "eventList[0].disposition", "cbv-term"),
        ({"epcList": ["https://id.gs1.org/01/09506000134353/21/A1"]}, "eventList[0].epcList[0]", "gs1-check-digit"),
        ({"epcList": ["urn:epc:id:sgtin:9506000.134352"]}, "eventList[0].epcList[0]", "epc-uri"),
        ({"epcList": ["urn:epc:id:grai:9506000.13435"]}, "eventList[0].epcList[0]", "epc-uri"),
        ({"parentID": "https://id.gs1.org/00/095060001343528690"}, "eventList[0].parentID", "gs1-check-digit"),
        (
            {"readPoint": {"id": "https://id.gs1.org/414/9506000000009/254/LINE-1"}},
            "eventList[0].readPoint.id",
            "gs1-check-digit",
        ),
        (
            {"bizLocation": {"id": "https://id.gs1.org/414/9506000000009"}},
            "eventList[0].bizLocation.id",
            "gs1-check-digit",
        ),
        ({"readPoint": {"id": "urn:epc:id:sgln:9506000.0000.LINE-1"}}, "eventList[0].readPoint.id", "epc-uri"),
        (
            {"sourceList": [{"type": "owning_party", "source": "https://id.gs1.org/417/9506000000009"}]},
            "eventList[0].sourceList[0].source",
            "gs1-check-digit",
        ),
        (
            {"destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:9506000.00000.X"}]},
            "eventList[0].destinationList[0].destination",
            "epc-uri",
        ),
        (
            {"quantityList": [{"epcClass": "https://id.gs1.org/01/09506000134353/10/L1", "quantity": 2}]},
            "eventList[0].quantityList[0].epcClass",
            "gs1-check-digit",
        ),
    ],
)
def test_each_broken_rule_is_named_at_its_field(change: dict[str, Any], field: str, rule: str) -> None:
    event = copy.deepcopy(GOOD) | change
    if "parentID" in change:
        event["type"], event["childEPCs"] = "AggregationEvent", event.pop("epcList")
    violations = check_event(0, event).violations
    assert [(v.field, v.rule) for v in violations] == [(field, rule)], violations


def test_the_keys_an_event_names_say_whose_it_is() -> None:
    event = {
        **GOOD,
        "type": "AggregationEvent",
        "parentID": "urn:epc:id:sscc:9506000.0000000001",
        "childEPCs": GOOD["epcList"],
        "childQuantityList": [{"epcClass": "urn:epc:class:lgtin:4000001.000001.L1", "quantity": 2}],
    }
    del event["epcList"]
    checked = check_event(0, event)
    assert checked.violations == ()
    assert checked.keys.gtins == {"09506000134352", "04000001000012"}
    sscc_body = "0" + "9506000" + "000000001"  # extension digit, company prefix, serial reference
    assert checked.keys.ssccs == {sscc_body + str(check_digit(sscc_body))}
    assert checked.keys.serials == {"09506000134352": {"A1"}}


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (b'{"type": "EPCISDocument", "type": "x"}', "unique-key"),
        (b'{"epcisBody": {"eventList": [{"a": 1, "a": 2}]}}', "unique-key"),
        (b'{"a": "x\\u0000y"}', "no-nul"),
        (b'{"a": "\\ud800"}', "utf-8"),
        (b'{"a": 92233720368547758070}', "int64"),
        (b'{"a": ' + b"[" * 200 + b"]" * 200 + b"}", "max-depth"),
    ],
)
def test_json_no_record_may_hold_is_refused_as_every_other_body_is(raw: bytes, rule: str) -> None:
    with pytest.raises(RefusedJson) as refused:
        read_document(raw)
    assert refused.value.rule.name == rule


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (
            b'{"epcisBody": {"eventList": [{"a": 1}, {"type": "ObjectEvent", "b": 2, "type": "x"}]}}',
            "epcisBody.eventList[1].type",
        ),
        (b'{"a": [[1], [2, {"c": 1, "d": 2, "c": 3}]]}', "a[1][1].c"),
        (b'{"a": 1, "b": 2, "a": 3}', "a"),
        (b'{"epcisBody": {"eventList": [{"ex:note": "x\\u0000y"}]}}', "epcisBody.eventList[0].ex:note"),
    ],
)
def test_what_is_refused_is_located_where_it_is_written(raw: bytes, where: str) -> None:
    """The duplicate key itself, with the positions of the lists around it (not the key read before it)."""
    for chunk_size in (3, 1 << 16):
        with pytest.raises(RefusedJson) as refused:
            read_document(raw, chunk_size=chunk_size)
        assert refused.value.field == where


@pytest.mark.parametrize("chunk_size", range(1, 20))
def test_a_surrogate_pair_split_across_chunks_is_one_character(chunk_size: int) -> None:
    paired = b'{"type": "EPCISDocument", "note": "\\ud83d\\ude00"}'
    envelope, _ = read_document(paired, chunk_size=chunk_size)
    assert envelope["note"] == "\U0001f600"
    with pytest.raises(RefusedJson):
        read_document(paired.replace(b"\\ude00", b"x"), chunk_size=chunk_size)


def test_a_list_of_sgtin_urns_reads_the_same_in_one_pass_as_one_by_one() -> None:
    urns = [f"urn:epc:id:sgtin:9506000.013435.S{i}" for i in range(50)]
    listed = check_event(0, {**GOOD, "epcList": urns})
    one_by_one = [check_event(0, {**GOOD, "epcList": [urn]}).keys for urn in urns]
    assert listed.violations == ()
    assert listed.keys.gtins == {"09506000134352"}
    assert listed.keys.serials == {"09506000134352": {k.serials["09506000134352"].pop() for k in one_by_one}}
    wrong = [*urns[:7], "urn:epc:id:sgtin:9506000.01343.S7", *urns[8:]]  # 12 digits: no GTIN
    assert [(v.field, v.rule) for v in check_event(0, {**GOOD, "epcList": wrong}).violations] == [
        ("eventList[0].epcList[7]", "epc-uri")
    ]


def test_where_an_event_happened_is_read_from_either_form() -> None:
    urn = check_event(0, {**GOOD, "readPoint": {"id": "urn:epc:id:sgln:9506000.00000.LINE-1"}}).keys
    link = check_event(0, {**GOOD, "readPoint": {"id": "https://id.gs1.org/414/9506000000008/254/LINE-1"}}).keys
    assert urn.read_point == link.read_point == ("9506000000008", "LINE-1")


def test_a_schema_message_says_what_the_field_takes() -> None:
    (no_offset,) = check_event(0, {**GOOD, "eventTime": "2026-11-30T09:15:00"}).violations
    assert "with its offset" in no_offset.message
    (step,) = check_event(0, {**GOOD, "bizStep": "urn:epcglobal:cbv:bizstep:shipping"}).violations
    assert "bare word (e.g. commissioning)" in step.message


def test_hostile_json_is_refused_cheaply_and_precisely() -> None:
    deep = b'{"epcisBody": {"eventList": [{"ex:d": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}}"
    with pytest.raises(RefusedJson) as refused:
        read_document(deep)  # refused at level 65, not after building 100,000 levels' names
    assert refused.value.rule.name == "max-depth"
    with pytest.raises(MalformedDocument):
        read_document(b'{"a": "\\xc0\\xaf"}')  # overlong UTF-8
    envelope, _ = read_document(b'{"type": "EPCISDocument", "path": "C:\\\\ud800dir"}', chunk_size=5)
    assert envelope["path"] == "C:\\ud800dir"  # an escaped backslash before text, not a surrogate


def test_a_null_event_is_an_event_the_checks_refuse_not_one_dropped() -> None:
    _, events = read_document(b'{"epcisBody": {"eventList": [{"type": "ObjectEvent"}, null, 3]}}')
    assert events == [{"type": "ObjectEvent"}, None, 3]
    assert check_event(1, None).violations[0].rule == "epcis-schema"
