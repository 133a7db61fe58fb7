"""EPCIS 2.0 capture, from outside: documents as senders post them, and the jobs they read back."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from epcis_reporting import bootstrap
from epcis_reporting.entrypoints.http import CAPTURE_EXAMPLE
from epcis_reporting.settings import EpcisSettings
from serialtrail_contracts.identity import Role, Scope
from serialtrail_gs1.epcis_checks import check_event, envelope_violations
from serialtrail_kit.testing.harness import Harness, serve

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT.parent / "shared" / "standards" / "epcis" / "examples" / "json-2.0"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
GTIN_OWN, GTIN_OTHER = "09506000134352", "04000001000012"
CMO = Scope(company_prefixes=frozenset({"9506000"}), cmos=frozenset({"ACME"}))
JSONLD = {"Content-Type": "application/ld+json"}
LIMIT = 20  # events per document, in these tests


@pytest.fixture
async def harness(database_dsn: str) -> AsyncIterator[Harness]:
    # Capture alone: its commissioning events kept, routed nowhere (what owners do: test_routing).
    own = {"epcis_reporting": EpcisSettings(max_document_events=LIMIT, route_to=())}
    async with serve(database_dsn, [bootstrap.SERVICE], own_settings=own) as served:
        yield served


def commissioning(serial: str, gtin: str = GTIN_OWN, **fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-11-30T09:15:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": [f"https://id.gs1.org/01/{gtin}/21/{serial}"],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": "urn:epc:id:sgln:9506000.13435.LINE-1"},
        "ilmd": {"cbvmda:lotNumber": "LOT-A1"},
        **fields,
    }


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-30T09:20:00.000+01:00",
        "epcisBody": {"eventList": list(events)},
    }


def serial() -> str:
    return f"S{uuid.uuid4().hex[:10].upper()}"


async def capture(client: httpx.AsyncClient, body: Any, **headers: str) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post("/v1/epcis/capture", content=raw, headers={**JSONLD, **headers})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/epcis/capture/{response.json()['captureID']}"
    assert response.headers["gs1-epcis-version"] == "2.0.0"
    job: dict[str, Any] = response.json()
    return job


def rules_of(job: dict[str, Any]) -> list[tuple[int | None, int, list[str]]]:
    return [(p["eventIndex"], p["status"], sorted({e["rule"] for e in p["errors"]})) for p in job["errors"]]


async def test_an_official_example_is_captured_and_its_job_read_back(harness: Harness) -> None:
    body = (EXAMPLES / "Example_9.6.1-ObjectEvent.jsonld").read_bytes()
    job = await capture(harness.client, body)
    events = len(json.loads(body)["epcisBody"]["eventList"])
    assert job["running"] is False
    assert job["success"] is True
    assert job["errors"] == []
    assert (job["captured"], job["events"], job["captureErrorBehaviour"]) == (events, events, "rollback")
    read = await harness.client.get(f"/v1/epcis/capture/{job['captureID']}")
    assert read.status_code == 200
    assert read.json() == job
    listed = (await harness.client.get("/v1/epcis/capture")).json()["jobs"]
    assert [j["captureID"] for j in listed] == [job["captureID"]]


async def test_the_same_event_again_is_a_duplicate_never_captured_twice(harness: Harness) -> None:
    events = [commissioning(serial()), commissioning(serial())]
    first = await capture(harness.client, document(*events))
    assert first["captured"] == 2
    again = await capture(harness.client, document(events[1], commissioning(serial())))
    assert (again["success"], again["captured"]) == (False, 0)  # rollback: nothing of it
    assert rules_of(again) == [(0, 409, ["captured-once"])]
    assert first["captureID"] not in again["errors"][0]["detail"]  # another party's job may be the earlier one
    assert again["errors"][0]["eventID"].startswith("ni:///sha-256;")
    proceeded = await capture(harness.client, document(events[0], commissioning(serial())), **_proceed())
    assert (proceeded["success"], proceeded["captured"]) == (False, 1)
    within = await capture(harness.client, document(*[commissioning("TWICE-" + serial()[:4])] * 2))
    assert rules_of(within) == [(1, 409, ["captured-once"])]
    assert "event 0 of this document" in within["errors"][0]["detail"]


def _proceed() -> dict[str, str]:
    return {"GS1-Capture-Error-Behaviour": "proceed"}


async def test_each_bad_event_is_named_with_its_field_and_rule(harness: Harness) -> None:
    no_offset = commissioning(serial(), eventTime="2026-11-30T09:15:00")
    bad_step = commissioning(serial(), bizStep="shipped")
    unknown_cbv_uri = commissioning(serial(), disposition="https://ref.gs1.org/cbv/Disp-misplaced")
    bad_check_digit = commissioning(serial(), epcList=["https://id.gs1.org/01/09506000134353/21/X1"])
    rebinding = {**commissioning(serial()), "@context": [{"epcList": "https://evil.example/"}]}
    good = commissioning(serial())
    body = document(no_offset, bad_step, unknown_cbv_uri, bad_check_digit, rebinding, good)
    job = await capture(harness.client, body)
    assert (job["success"], job["captured"]) == (False, 0)
    assert rules_of(job) == [
        (0, 400, ["epcis-schema"]),
        (1, 400, ["epcis-schema"]),
        (2, 400, ["cbv-term"]),
        (3, 400, ["gs1-check-digit"]),
        (4, 400, ["context-declaration"]),
    ]
    fields = [p["errors"][0]["field"] for p in job["errors"]]
    assert fields == [
        "eventList[0].eventTime",
        "eventList[1].bizStep",
        "eventList[2].disposition",
        "eventList[3].epcList[0]",
        "eventList[4].@context",
    ]
    proceeded = await capture(harness.client, body, **_proceed())
    assert (proceeded["captured"], len(proceeded["errors"])) == (1, 5)


async def test_a_narrowed_key_captures_only_its_own_companys_objects(harness: Harness) -> None:
    async with harness.client_with(await harness.token(Role.cmo, CMO)) as cmo:
        job = await capture(cmo, document(commissioning(serial()), commissioning(serial(), gtin=GTIN_OTHER)))
        assert rules_of(job) == [(1, 403, ["in-scope"])]
        assert "04000001000012" in job["errors"][0]["errors"][0]["message"]
        assert job["captured"] == 0
        mine = await cmo.get(f"/v1/epcis/capture/{job['captureID']}")
        assert mine.status_code == 200
    other_company = Scope(company_prefixes=frozenset({"4000001"}))
    async with harness.client_with(await harness.token(Role.cmo, other_company)) as other:
        assert (await other.get(f"/v1/epcis/capture/{job['captureID']}")).status_code == 404
        assert (await other.get(f"/v1/epcis/capture/{uuid.uuid4()}")).status_code == 404
        assert (await other.get("/v1/epcis/capture")).json()["jobs"] == []
    async with harness.client_with(await harness.token(Role.cmo, CMO)) as colleague:  # the same party's key
        assert (await colleague.get(f"/v1/epcis/capture/{job['captureID']}")).status_code == 200


async def test_a_document_that_cannot_be_read_is_refused_whole_and_records_nothing(harness: Harness) -> None:
    client = harness.client
    good = json.dumps(document(commissioning(serial()))).encode()
    cases = [
        (good[:-3], 400, "malformed-json", "well-formed"),
        (b'{"type": "EPCISDocument"}', 422, "invalid-input", "epcis-document"),
        (
            good.replace(b'"type": "EPCISDocument"', b'"type": "EPCISDocument", "type": "x"'),
            422,
            "invalid-input",
            "unique-key",
        ),
        (
            json.dumps(document(*[commissioning(serial()) for _ in range(LIMIT + 1)])).encode(),
            413,
            "too-large",
            "capture-limit",
        ),
        # The EPCIS context is @protected: a document rebinding one of its terms (other than a prefix, which
        # answers rename) is no EPCIS document: JSON-LD processors refuse it, and no renaming keeps its meaning.
        (
            json.dumps(
                {**document(commissioning(serial())), "@context": [CONTEXT, {"bizStep": "https://evil.example/"}]}
            ).encode(),
            422,
            "invalid-input",
            "protected-term",
        ),
    ]
    for body, status, kind, rule in cases:
        response = await client.post("/v1/epcis/capture", content=body, headers=JSONLD)
        assert response.status_code == status, response.text
        problem = response.json()
        assert problem["type"].endswith(kind)
        assert rule in [e["rule"] for e in problem["errors"]]
    behaviour = await client.post(
        "/v1/epcis/capture", content=good, headers={**JSONLD, **{"GS1-Capture-Error-Behaviour": "all"}}
    )
    assert behaviour.status_code == 422
    assert behaviour.json()["errors"][0]["field"] == "header.GS1-Capture-Error-Behaviour"
    xml = await client.post("/v1/epcis/capture", content=b"<x/>", headers={"Content-Type": "text/plain"})
    assert xml.status_code == 415
    assert (await client.get("/v1/epcis/capture")).json()["jobs"] == []


async def test_the_whole_document_is_captured_or_none_of_it_under_rollback(harness: Harness) -> None:
    events = [commissioning(serial()) for _ in range(4)]
    bad = copy.deepcopy(events)
    bad[3]["action"] = "CHANGE"
    failed = await capture(harness.client, document(*bad))
    assert (failed["captured"], rules_of(failed)) == (0, [(3, 400, ["epcis-schema"])])
    retried = await capture(harness.client, document(*events))  # none of it was kept: no duplicate
    assert (retried["success"], retried["captured"]) == (True, 4)


def test_the_documented_example_is_an_epcis_document_every_check_passes() -> None:
    envelope = {**CAPTURE_EXAMPLE, "epcisBody": {"eventList": []}}
    assert envelope_violations(envelope) == []
    events = CAPTURE_EXAMPLE["epcisBody"]["eventList"]
    assert [check_event(i, e).violations for i, e in enumerate(events)] == [()]


XML_EXAMPLES = ROOT.parent / "shared" / "standards" / "epcis" / "examples"
DSCSA = ROOT.parent / "shared" / "standards" / "dscsa" / "GS1_US_Pharma_Example_2_2_1_1.xml"
XML = {"Content-Type": "application/xml"}


async def capture_xml(client: httpx.AsyncClient, body: bytes, **headers: str) -> dict[str, Any]:
    return await capture(client, body, **{**XML, **headers})


async def test_an_epcis_1_2_dscsa_document_is_captured_with_its_master_data(harness: Harness) -> None:
    job = await capture_xml(harness.client, DSCSA.read_bytes())
    assert (job["success"], job["documentFormat"], job["errors"]) == (True, "xml-1.2", [])
    assert job["captured"] == job["events"] > 0
    async with harness.composition.app_pool.acquire() as conn:
        received = await conn.fetchval(
            "SELECT payload FROM epcis_reporting.events WHERE event_type = 'epcis.CaptureReceived' "
            "AND payload->>'capture_id' = $1",
            job["captureID"],
        )
    types = {vocabulary["type"] for vocabulary in json.loads(received["master_data_json"])}
    assert types == {"urn:epcglobal:epcis:vtype:EPCClass", "urn:epcglobal:epcis:vtype:Location"}


async def test_an_event_is_the_same_event_in_json_ld_and_in_xml(harness: Harness) -> None:
    first = await capture(harness.client, (EXAMPLES / "Example_9.6.1-ObjectEvent.jsonld").read_bytes())
    again = await capture_xml(
        harness.client, (XML_EXAMPLES / "xml-2.0" / "Example_9.6.1-ObjectEvent-2020_06_18a.xml").read_bytes()
    )
    assert first["captured"] > 0
    assert again["documentFormat"] == "xml-2.0"
    # The first event is the same in both (its hash ignores the JSON's illustrative eventID). The
    # second is not: its extension's namespace is written with a trailing '/' in the JSON-LD twin
    # and without in the XML, so its fields are different IRIs, and it is a different event.
    assert rules_of(again) == [(0, 409, ["captured-once"])]
    assert again["captured"] == 0  # rollback


async def test_xml_that_declares_entities_is_refused_and_never_expanded(harness: Harness) -> None:
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2026-11-30T09:20:00Z">
<EPCISBody><EventList>&lol2;</EventList></EPCISBody></epcis:EPCISDocument>"""
    response = await harness.client.post("/v1/epcis/capture", content=laughs, headers=XML)
    assert response.status_code == 400, response.text
    assert [e["rule"] for e in response.json()["errors"]] == ["xml-doctype"]
    assert (await harness.client.get("/v1/epcis/capture")).json()["jobs"] == []


async def test_an_xml_event_against_the_xsd_is_named_by_its_position(harness: Harness) -> None:
    def event(serial: str, action: str = "ADD") -> str:
        return (
            "<ObjectEvent><eventTime>2026-11-30T09:15:00.000+01:00</eventTime>"
            "<eventTimeZoneOffset>+01:00</eventTimeZoneOffset>"
            f"<epcList><epc>urn:epc:id:sgtin:9506000.013435.{serial}</epc></epcList>"
            f"<action>{action}</action><bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep></ObjectEvent>"
        )

    body = (
        '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1" schemaVersion="1.2" '
        'creationDate="2026-11-30T09:20:00.000+01:00"><EPCISBody><EventList>'
        f"{event(serial())}{event(serial(), 'MOVE')}{event(serial())}"
        "</EventList></EPCISBody></epcis:EPCISDocument>"
    ).encode()
    job = await capture_xml(harness.client, body)
    assert (job["captured"], rules_of(job)) == (0, [(1, 400, ["xsd"])])
    proceeded = await capture_xml(harness.client, body, **_proceed())
    assert (proceeded["captured"], proceeded["events"]) == (2, 3)


async def test_decimals_are_captured_as_sent(harness: Harness) -> None:
    """A quantity of 1.5 KGM, a sensor reading, a JSON-LD context's "@version": 1.1: numbers the
    log's canonical form would refuse as floats are kept as the sender wrote them."""
    quantity = {"epcClass": "https://id.gs1.org/01/09506000134352/10/L1", "quantity": 1.5, "uom": "KGM"}
    body = document({**commissioning(serial()), "quantityList": [quantity]})
    body["@context"] = [CONTEXT, {"@version": 1.1}]
    job = await capture(harness.client, body)
    assert (job["captured"], job["errors"]) == (1, [])
    found = await harness.client.get("/v1/epcis/events", params={"EQ_bizStep": "commissioning"})
    events = found.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["quantityList"] for e in events if "quantityList" in e] == [[quantity]]
    official = await capture(harness.client, (EXAMPLES / "Example_9.6.3-AggregationEvent.jsonld").read_bytes())
    assert official["success"] is True


async def test_a_key_narrowed_to_a_line_captures_only_what_happened_on_its_line(harness: Harness) -> None:
    line_key = Scope(
        company_prefixes=frozenset({"9506000"}), sites=frozenset({"9506000000008"}), lines=frozenset({"LINE-1"})
    )
    at: dict[str, dict[str, Any]] = {
        "LINE-1": {"readPoint": {"id": "urn:epc:id:sgln:9506000.00000.LINE-1"}},
        "LINE-2": {"readPoint": {"id": "urn:epc:id:sgln:9506000.00000.LINE-2"}},
        "other site": {"readPoint": {"id": "https://id.gs1.org/414/9506000000015/254/LINE-1"}},
    }
    async with harness.client_with(await harness.token(Role.line, line_key)) as line:
        job = await capture(
            line, document(*[commissioning(serial(), **fields) for fields in at.values()]), **_proceed()
        )
        assert job["captured"] == 1
        assert rules_of(job) == [(1, 403, ["in-scope"]), (2, 403, ["in-scope"])]
        fields = [e["field"] for p in job["errors"] for e in p["errors"]]
        assert fields == ["eventList[1].readPoint.id", "eventList[2].readPoint.id"]
        nowhere = commissioning(serial())
        del nowhere["readPoint"]
        assert rules_of(await capture(line, document(nowhere))) == [(0, 403, ["in-scope"])]


async def test_an_event_time_ahead_of_the_servers_clock_is_refused(harness: Harness) -> None:
    """A line's clock set wrong is not an event: beyond the allowed skew, an event time in the future
    is refused as the owner's API would refuse it (not-in-future); within the skew it is captured."""
    ahead = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="milliseconds")
    nearly = (datetime.now(UTC) + timedelta(minutes=1)).isoformat(timespec="milliseconds")
    events = (commissioning(serial(), eventTime=ahead), commissioning(serial(), eventTime=nearly))
    job = await capture(harness.client, document(*events), **{"GS1-Capture-Error-Behaviour": "proceed"})
    assert (job["captured"], rules_of(job)) == (1, [(0, 400, ["not-in-future"])])
    assert job["errors"][0]["errors"][0]["field"] == "eventList[0].eventTime"


@pytest.fixture
async def one_at_a_time(database_dsn: str) -> AsyncIterator[Harness]:
    own = {"epcis_reporting": EpcisSettings(route_to=(), captures_at_once=1, capture_wait_seconds=0.3)}
    async with serve(database_dsn, [bootstrap.SERVICE], own_settings=own) as served:
        yield served


async def test_documents_beyond_those_read_at_once_wait_their_turn_or_are_refused_503(
    one_at_a_time: Harness,
) -> None:
    """Each document read takes memory many times its size: a server reads so many at once (one
    here); another waits, and is refused 503 with Retry-After if none ends within the wait."""
    client, release = one_at_a_time.client, asyncio.Event()
    body = json.dumps(document(commissioning(uuid.uuid4().hex[:12].upper()))).encode()

    async def slowly() -> AsyncIterator[bytes]:
        yield body[:10]
        await release.wait()  # a line system on a slow link: the rest later
        yield body[10:]

    slow = asyncio.create_task(client.post("/v1/epcis/capture", content=slowly(), headers=JSONLD))
    quick = json.dumps(document(commissioning(uuid.uuid4().hex[:12].upper())))
    for _ in range(100):  # until the slow one holds the one slot (at once, unless the machine is busy)
        refused = await client.post("/v1/epcis/capture", content=quick, headers=JSONLD)
        if refused.status_code == 503:
            break
        assert refused.status_code in (202, 409), refused.text  # the slow one not reading yet: it went in
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["type"].endswith("temporarily-unavailable")
    release.set()
    assert (await slow).status_code == 202
    again = json.dumps(document(commissioning(uuid.uuid4().hex[:12].upper())))
    assert (await client.post("/v1/epcis/capture", content=again, headers=JSONLD)).status_code == 202


async def test_a_context_is_taken_only_as_answers_can_hold_it_among_others(harness: Harness) -> None:
    """Answers gather many documents' events under one @context: a document declares prefixes (and
    type coercions of its own terms), nothing that would change how the others' events read."""
    evil = "https://evil.example/"
    for declared, message in (
        ([CONTEXT, f"{evil}ctx.jsonld"], "remote context"),
        ([CONTEXT, {"@import": f"{evil}ctx.jsonld"}], "@import"),
        ([CONTEXT, {"@vocab": evil}], "@vocab"),
        ([CONTEXT, {"@language": "fr"}], "@language"),
        ([CONTEXT, {"ex": {"@id": evil, "@prefix": True}}], "'ex' is declared as a prefix"),
        ([CONTEXT, {"cbvmda:lotNumber": f"{evil}lot"}], "'cbvmda:lotNumber' is a term of the EPCIS 2.0"),
        ([CONTEXT, {"ex": evil, "ex:lot": f"{evil}lot"}], "type coercion"),
        ([CONTEXT, {"urn": evil}], "URI scheme"),  # every urn:epc:… of an answer would read as evil's
        ([CONTEXT, {"HTTPS": evil}], "URI scheme"),
        ([CONTEXT, {"": evil}], "is no prefix"),
        ([CONTEXT, {"ex": f"{evil} a b"}], "namespace IRI"),
        ([CONTEXT, {"ex": f"{evil}\u0001"}], "namespace IRI"),  # no XML namespace: every XML answer 406
        ([CONTEXT, {":foo": {"@type": "@id"}}], "type coercion"),
        ([CONTEXT, {"example:myField": {"@type": "@id"}}], "type coercion"),  # a prefix it does not declare
        ([CONTEXT, {"ex": evil, "ex:foo": {"@id": "https://other.example/"}}], "type coercion"),
        ([CONTEXT, {"ex": evil, "ex:foo": {"@type": "bogus"}}], "type coercion"),
        ([CONTEXT, {"cbvmda2": evil, "cbvmda2:lotNumber": {"@id": None}}], "type coercion"),
        ([CONTEXT, {"xmlns": evil}], "XML reserves"),
        ([CONTEXT, {"ex": "urn:%zz%"}], "namespace IRI"),  # no URI libxml2 takes: every XML answer unreadable
        ([CONTEXT, {"ex": "http://[::1"}], "namespace IRI"),
        ([CONTEXT, {f"p{n}": f"{evil}{n}/" for n in range(65)}], "at most 64 declarations"),
    ):
        refused = await harness.client.post(
            "/v1/epcis/capture", json={**document(commissioning(serial())), "@context": declared}
        )
        assert refused.status_code == 422, refused.text
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
            ("document.@context", "context-declaration")
        ]
        assert message in refused.json()["errors"][0]["message"], refused.text
    nested = {**commissioning(serial()), "example:ext": {"@context": {"bizStep": f"{evil}bs"}, "bizStep": "x"}}
    body = {
        **document(nested),
        "@context": [
            CONTEXT,
            {"example": "https://ex.example/", "example:id": {"@type": "@id"}, "example:n": {"@type": "xsd:int"}},
        ],
    }
    job = await capture(harness.client, body)
    assert rules_of(job) == [(0, 400, ["context-declaration"])]
    assert job["errors"][0]["errors"][0]["field"] == "eventList[0].example:ext.@context"
    for extension, field in (
        ({"example:a": {"type": {"x": "1"}}}, "eventList[0].example:a.type"),  # the context's alias of @type
        ({"example:a": {"@value": {"x": "1"}}}, "eventList[0].example:a.@value"),
        ({"example:1abc": "v"}, "eventList[0].example:1abc"),  # no XML name: every XML answer 406
        ({"example:a": {"a b": "v"}}, "eventList[0].example:a.a b"),
        ({"example:a": "x\u0001"}, "eventList[0].example:a"),  # no XML 1.0 text
    ):
        job = await capture(
            harness.client, {**body, "epcisBody": document({**commissioning(serial()), **extension})["epcisBody"]}
        )
        assert [(e["field"], e["rule"]) for p in job["errors"] for e in p["errors"]] == [(field, "context-declaration")]
    undeclared = {**commissioning(serial()), "acme:note": "n"}  # a prefix the document never declares
    job = await capture(harness.client, {**body, "epcisBody": document(undeclared)["epcisBody"]})
    assert [(e["field"], e["rule"]) for p in job["errors"] for e in p["errors"]] == [
        ("eventList[0].acme:note", "context-declaration")
    ]
    assert (await capture(harness.client, {**body, "epcisBody": document(commissioning(serial()))["epcisBody"]}))[
        "captured"
    ] == 1  # prefixes and a coercion of one's own term are taken
