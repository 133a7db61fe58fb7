"""An answer's @context is one for events captured in documents whose @contexts disagree: each
event's fields still mean what its capturer's document said (JSON-LD expansion by pyld, the
standard context read from ../shared/standards)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from epcis_reporting.domain.query_document import query_document
from pyld import jsonld
from serialtrail_gs1.epcis_xml_out import write_json_document
from serialtrail_gs1.event_hash import event_hash_id

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
STANDARD = Path(__file__).resolve().parents[4] / "shared" / "standards" / "epcis" / "epcis-context.jsonld"


def _local(url: str, options: Any = None) -> dict[str, Any]:
    assert url == CONTEXT, url  # nothing else is fetched
    return {"contextUrl": None, "documentUrl": url, "document": orjson.loads(STANDARD.read_bytes())}


def _row(namespace: str, **fields: Any) -> dict[str, Any]:
    event = {"type": "ObjectEvent", "eventTime": "2026-12-01T10:00:00Z", "eventTimeZoneOffset": "+00:00"}
    event |= {"action": "OBSERVE", **fields}
    return {"context": [CONTEXT, {"ex": namespace}], "event": event, "record_time": datetime.now(UTC)}


def _expanded(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each event of the answer as JSON-LD expands it under the answer's @context."""
    events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return [jsonld.expand({"@context": document["@context"], **e}, {"documentLoader": _local})[0] for e in events]


def test_a_prefix_bound_twice_keeps_each_events_meaning() -> None:
    first = _row("https://cmo.example/epcis/", **{"ex:shift": "B"})
    second = _row("https://partner.example/voc/", **{"ex:shift": "night", "ex:detail": {"ex:kind": "ex:late"}})
    third = _row("https://cmo.example/epcis/", **{"ex:shift": "C"})
    expanded = _expanded(query_document([first, second, third]))
    assert expanded[0]["https://cmo.example/epcis/shift"] == [{"@value": "B"}]
    assert expanded[1]["https://partner.example/voc/shift"] == [{"@value": "night"}]
    assert "https://partner.example/voc/kind" in expanded[1]["https://partner.example/voc/detail"][0]
    assert expanded[2]["https://cmo.example/epcis/shift"] == [{"@value": "C"}]
    assert not any("cmo.example" in key for key in expanded[1])


def test_a_renamed_prefix_leaves_the_event_hash_as_captured() -> None:
    """The Event Hash ID reads a compact IRI in text as the IRI (so does the XML written from an
    answer): renamed there too, the answered event hashes as the captured one did."""
    rows = [
        _row("https://cmo.example/epcis/", **{"ex:shift": "B"}),
        _row("https://partner.example/voc/", **{"ex:detail": {"ex:kind": "ex:late"}}),
    ]
    document = query_document(rows)
    answered = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    for row, event in zip(rows, answered, strict=True):
        event = {k: v for k, v in event.items() if k != "recordTime"}
        assert event_hash_id(event, document["@context"]) == event_hash_id(row["event"], row["context"])
    (renamed,) = [k.partition(":")[0] for k in answered[1] if k.endswith(":detail")]
    assert renamed != "ex"  # the second document's: renamed, with its nested key and its value
    assert answered[1][f"{renamed}:detail"] == {f"{renamed}:kind": f"{renamed}:late"}


def test_documents_that_agree_are_answered_as_captured() -> None:
    rows = [_row("https://cmo.example/epcis/", **{"ex:shift": s}) for s in ("A", "B")]
    document = query_document(rows)
    assert document["@context"] == [CONTEXT, {"ex": "https://cmo.example/epcis/"}]
    assert [e["ex:shift"] for e in document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == ["A", "B"]


def test_a_standard_prefix_bound_elsewhere_is_renamed_and_the_standard_kept() -> None:
    """The EPCIS context is @protected: an answer rebinding cbvmda is refused by JSON-LD processors
    whole, every event with it. The document that bound it elsewhere has its own renamed instead."""
    rebound = _row("https://other.example/mda/", **{"ilmd": {"ex:lotNumber": "THEIRS"}})
    rebound["context"] = [CONTEXT, {"cbvmda": "https://other.example/mda/"}]
    rebound["event"]["ilmd"] = {"cbvmda:lotNumber": "THEIRS"}
    standard = _row("https://cmo.example/epcis/", **{"ilmd": {"cbvmda:lotNumber": "OURS"}})
    document = query_document([rebound, standard])
    expanded = _expanded(document)  # refused as a protected term redefinition, were cbvmda rebound
    assert expanded[0]["https://ref.gs1.org/epcis/ilmd"][0]["https://other.example/mda/lotNumber"] == [
        {"@value": "THEIRS"}
    ]
    assert expanded[1]["https://ref.gs1.org/epcis/ilmd"][0]["urn:epcglobal:cbv:mda:lotNumber"] == [{"@value": "OURS"}]
    assert {"cbvmda2": "https://other.example/mda/"} in document["@context"]


def test_a_documents_coercions_reach_only_its_own_events() -> None:
    """Another document coercing `example:myField` to an IRI (its prefix bound alike) leaves the
    first document's value a literal: the coercing document's prefix is renamed with its coercion."""
    plain = _row("http://ns.example.com/epcis/", **{"ex:myField": "v-1"})
    coercing = _row("http://ns.example.com/epcis/", **{"ex:myField": "https://other.example/thing"})
    coercing["context"] = [CONTEXT, {"ex": "http://ns.example.com/epcis/", "ex:myField": {"@type": "@id"}}]
    again = _row("http://ns.example.com/epcis/", **{"ex:myField": "v-2"})
    document = query_document([plain, coercing, again])
    field = "http://ns.example.com/epcis/myField"
    expanded = _expanded(document)
    assert [e[field] for e in expanded] == [
        [{"@value": "v-1"}],
        [{"@id": "https://other.example/thing"}],
        [{"@value": "v-2"}],
    ]
    (coercing_prefix,) = [
        k.partition(":")[0]
        for k in document["epcisBody"]["queryResults"]["resultsBody"]["eventList"][1]
        if k.endswith(":myField")
    ]
    assert {
        coercing_prefix: "http://ns.example.com/epcis/",
        f"{coercing_prefix}:myField": {"@type": "@id"},
    } in document["@context"]


def test_an_event_reads_the_same_whatever_other_documents_share_its_answer() -> None:
    """Another document's prefixes named as the schemes, words and keys of an event (a geo: read
    point, a business step of one's own vocabulary, a key of an undeclared prefix, a nested bare
    key, a literal that looks like a compact IRI) change nothing of it, in JSON-LD or in XML."""
    own = "http://ns.example.com/epcis/"
    victim = _row(own, **{"ex:myField": "REF:1234", "ex:detail": {"inner": "v"}, "acme:note": "n"})
    victim["event"] |= {"readPoint": {"id": "geo:50.0,8.2"}, "bizStep": "mystep:pack"}
    evil = "http://evil.example/"
    names = ("geo", "mystep", "acme", "inner", "REF", "ex")
    attacker = _row(evil, **{"ex:x": "1"})
    attacker["context"] = [CONTEXT, {name: f"{evil}{name}/" for name in names}]
    alone, together = query_document([victim]), query_document([attacker, victim])
    assert _expanded(together)[1] == _expanded(alone)[0]
    del victim["event"]["acme:note"]  # (a key of no declared prefix has no XML namespace: refused at capture)
    xml = b"".join(write_json_document(query_document([attacker, victim]), "2.0")).decode()
    assert "REF:1234" in xml
    assert evil not in xml.split("<ObjectEvent", 2)[2]  # the victim's event: nothing of the attacker's
