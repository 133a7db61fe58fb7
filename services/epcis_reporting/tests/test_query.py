"""EPCIS 2.0 event query: what was captured, found by the standard parameters, a page at a time,
narrowed to the caller's party, and every answer a document its official schema accepts: EPCIS 2.0 JSON-LD,
or EPCIS 2.0 or 1.2 XML by Accept and GS1-EPCIS-Version."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest
from epcis_event_hash_generator import hash_generator, xml_to_py  # type: ignore[import-untyped]
from epcis_reporting import bootstrap
from epcis_reporting.settings import EpcisSettings
from lxml import etree
from serialtrail_contracts.identity import Role, Scope
from serialtrail_kit.testing.harness import Harness, serve

EXAMPLES = Path(__file__).resolve().parents[4] / "shared" / "standards" / "epcis" / "examples" / "json-2.0"
SCHEMA = Path(__file__).resolve().parents[3] / "libs/gs1/src/serialtrail_gs1/standards/epcis/EPCIS-JSON-Schema.json"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
GTIN_OWN, GTIN_OTHER = "09506000134352", "04000001000012"
OWN = Scope(company_prefixes=frozenset({"9506000"}), cmos=frozenset({"ACME"}))
OTHER = Scope(company_prefixes=frozenset({"4000001"}), cmos=frozenset({"BCMO"}))


@pytest.fixture
async def harness(database_dsn: str) -> AsyncIterator[Harness]:
    # Queries over the repository alone: its commissioning events kept, routed nowhere (test_routing).
    own = {"epcis_reporting": EpcisSettings(route_to=())}
    async with serve(database_dsn, [bootstrap.SERVICE], own_settings=own) as served:
        yield served


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def event(epcs: list[str], biz_step: str, time: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": time,
        "eventTimeZoneOffset": time[-6:],
        "epcList": epcs,
        "action": "OBSERVE",
        "bizStep": biz_step,
        "readPoint": {"id": "urn:epc:id:sgln:9506000.13435.LINE-1"},
        **fields,
    }


def document_of(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [CONTEXT, {"acme": "https://acme.example/epcis/"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-30T09:20:00.000+01:00",
        "epcisBody": {"eventList": list(events)},
    }


async def capture(client: httpx.AsyncClient, *events: dict[str, Any]) -> None:
    response = await client.post("/v1/epcis/capture", json=document_of(*events))
    assert response.status_code == 202, response.text
    assert response.json()["captured"] == len(events), response.text


async def events_of(client: httpx.AsyncClient, validator: jsonschema.Draft7Validator, **params: str) -> list[Any]:
    response = await client.get("/v1/epcis/events", params=params)
    assert response.status_code == 200, response.text
    document = response.json()
    assert list(validator.iter_errors(document)) == []
    found: list[Any] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found


def unit(gtin: str, serial: str) -> str:
    return f"https://id.gs1.org/01/{gtin}/21/{serial}"


async def test_events_are_found_by_the_standard_parameters(harness: Harness, validator: Any) -> None:
    serial = uuid.uuid4().hex[:10].upper()
    first = event([unit(GTIN_OWN, serial)], "commissioning", "2026-11-30T09:15:00.000+01:00", **{"acme:shift": "B"})
    second = event([unit(GTIN_OWN, serial + "2")], "inspecting", "2026-11-30T11:00:00.000+01:00")
    await capture(harness.client, first, second)
    client = harness.client
    urn = f"urn:epc:id:sgtin:9506000.013435.{serial}"  # the same unit, as an EPC URN
    assert [e["bizStep"] for e in await events_of(client, validator, MATCH_epc=urn)] == ["commissioning"]
    assert len(await events_of(client, validator, MATCH_anyEPC=f"{urn}|{unit(GTIN_OWN, serial + '2')}")) == 2
    by_step = await events_of(client, validator, EQ_bizStep="https://ref.gs1.org/cbv/BizStep-inspecting")
    assert [e["epcList"] for e in by_step] == [second["epcList"]]
    late = await events_of(client, validator, GE_eventTime="2026-11-30T09:30:00Z")
    assert [e["bizStep"] for e in late] == ["inspecting"]
    assert await events_of(client, validator, LT_eventTime="2026-11-30T08:15:00.000Z") == []
    found = (await events_of(client, validator, MATCH_epc=urn))[0]
    assert found["acme:shift"] == "B"  # the extension kept, its prefix in the answer's @context
    by_id = await events_of(client, validator, EQ_eventID=found["eventID"])
    assert by_id == [found]
    recorded = datetime.fromisoformat(found["recordTime"])  # when this repository recorded it
    assert recorded.tzinfo is not None
    assert (await events_of(client, validator, GE_recordTime=found["recordTime"], MATCH_epc=urn)) == [found]
    after = (recorded + timedelta(milliseconds=1)).isoformat()
    assert await events_of(client, validator, GE_recordTime=after, MATCH_epc=urn) == []
    assert found["eventID"].startswith("ni:///sha-256;")


async def test_a_query_is_answered_a_page_at_a_time(harness: Harness, validator: Any) -> None:
    serials = [f"P{uuid.uuid4().hex[:8].upper()}{i}" for i in range(5)]
    await capture(
        harness.client, *[event([unit(GTIN_OWN, s)], "packing", "2026-11-30T09:15:00+01:00") for s in serials]
    )
    seen, url = [], "/v1/epcis/events?perPage=2&EQ_bizStep=packing"
    while url:
        response = await harness.client.get(url)
        assert response.status_code == 200
        assert list(validator.iter_errors(response.json())) == []
        seen += [e["epcList"][0] for e in response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
        link = response.headers.get("link")
        url = re.match(r"<([^>]+)>; rel=\"next\"", link).group(1) if link else ""  # type: ignore[union-attr]
    assert seen == [unit(GTIN_OWN, s) for s in serials]
    bad = await harness.client.get("/v1/epcis/events", params={"nextPageToken": "!!", "GE_eventTime": "2026-11-30"})
    assert bad.status_code == 422
    # A parameter the route does not read is refused, not answered as if it were not there.
    for url, params in (
        ("/v1/epcis/events", {"EQ_bizStep": "packing", "EQ_foo": "x", "MATCH_epcs": "y"}),
        (f"/v1/epcis/epcs/{quote(unit(GTIN_OWN, serials[0]), safe='')}/events", {"EQ_bizStep": "packing"}),
    ):
        unknown = await harness.client.get(url, params=params)
        assert unknown.status_code == 422, unknown.text
        expected = sorted(f"query.{name}" for name in params if name != "EQ_bizStep" or "/epcs/" in url)
        assert sorted(e["field"] for e in unknown.json()["errors"]) == expected
    # Nor is what would answer as if absent, or match nothing, where it looks like an answer.
    for query in (
        "EQ_bizStep=",  # no value
        "EQ_bizStep=commissioning&EQ_bizStep=packing",  # twice: several values go in one, separated by |
        "EQ_bizstep=packing",  # names are case-sensitive
        "eventType=FooEvent",
        "MATCH_epc=urn:epc:idpat:sgtin:9506000.013435.*",  # a pattern
        "MATCH_anyEPC=URN:EPC:IDPAT:sgtin:9506000.013435.*",  # URN schemes are case-insensitive
    ):
        refused = await harness.client.get(f"/v1/epcis/events?{query}")
        assert refused.status_code == 422, query
        assert [e["rule"] for e in refused.json()["errors"]] == ["supported-parameter"], query
    for accept, status in (("text/csv", 406), ("application/ld+json;q=0, text/html", 406), ("text/*", 200)):
        answered = await harness.client.get("/v1/epcis/events", headers={"Accept": accept})
        assert answered.status_code == status, accept
    assert answered.headers["content-type"] == "application/xml"  # text/* covers text/xml


async def test_a_narrowed_key_finds_only_its_partys_events(harness: Harness, validator: Any) -> None:
    mine, theirs = uuid.uuid4().hex[:10].upper(), uuid.uuid4().hex[:10].upper()
    async with harness.client_with(await harness.token(Role.cmo, OWN)) as own:
        await capture(own, event([unit(GTIN_OWN, mine)], "commissioning", "2026-11-30T09:15:00+01:00"))
    async with harness.client_with(await harness.token(Role.cmo, OTHER)) as other:
        await capture(other, event([unit(GTIN_OTHER, theirs)], "commissioning", "2026-11-30T09:15:00+01:00"))
    async with harness.client_with(await harness.token(Role.line, OWN)) as colleague:
        found = await events_of(colleague, validator, EQ_bizStep="commissioning")
        assert [e["epcList"] for e in found] == [[unit(GTIN_OWN, mine)]]
        assert await events_of(colleague, validator, MATCH_epc=unit(GTIN_OTHER, theirs)) == []
    async with harness.client_with(await harness.token(Role.qa, Scope(company_prefixes=frozenset({"9506000"})))) as qa:
        assert len(await events_of(qa, validator, EQ_bizStep="commissioning")) == 1  # the brand owner's QA
    assert len(await events_of(harness.client, validator, EQ_bizStep="commissioning")) == 2  # unrestricted
    async with harness.client_with(await harness.token(Role.partner, PARTNER)) as partner:
        assert await events_of(partner, validator) == []  # a partner: only what is granted to it


PARTNER_GLN, PARTNER_TWO_GLN = "0614141000005", "0614141000012"
PARTNER = Scope(company_prefixes=frozenset({"0614141"}), sites=frozenset({PARTNER_GLN}))


def packing(parent: str, children: list[str], time: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "AggregationEvent",
        "eventTime": time,
        "eventTimeZoneOffset": time[-6:],
        "parentID": parent,
        "childEPCs": children,
        "action": "ADD",
        "bizStep": "packing",
        **fields,
    }


async def test_a_partner_reads_only_the_events_of_batches_granted_to_it(harness: Harness, validator: Any) -> None:
    """Lot A's serials S1, S2 and lot B's S3 are commissioned; S1 and S2 are packed in case P1,
    S1's neighbour S3 in case P2 (two batches); both cases are shipped. Granted lot A, the partner
    reads A's commissioning, P1's packing and shipping; never what names anything of lot B."""
    client, tag = harness.client, uuid.uuid4().hex[:8].upper()
    lot_a, lot_b = f"A{tag}", f"B{tag}"
    s1, s2, s3, s4 = (unit(GTIN_OWN, f"{tag}{n}") for n in (1, 2, 3, 4))
    p1, p2, p3 = (f"urn:epc:id:sscc:9506000.{n}{int(tag, 16) % 10**9:09d}" for n in (1, 2, 3))
    time = "2026-11-30T09:15:00+01:00"
    await capture(
        client,
        event([s1, s2], "commissioning", time, action="ADD", ilmd={"cbvmda:lotNumber": lot_a}),
        event([s3], "commissioning", time, action="ADD", ilmd={"cbvmda:lotNumber": lot_b}),
        packing(p1, [s1, s2], time),
        packing(p2, [s3], time, childQuantityList=[{"epcClass": f"urn:epc:class:lgtin:9506000.013435.{lot_a}"}]),
        event([p1], "shipping", time),
        event([p2], "shipping", time),
        # An event that is not a commissioning says nothing of a serial's batch (only its owner decides).
        event([s4], "inspecting", time, action="ADD", ilmd={"cbvmda:lotNumber": lot_a}),
        # A case holding what no capture named the batch of is of a batch not known here.
        packing(p3, [s1, unit(GTIN_OWN, f"{tag}9")], time),
        event([p3], "shipping", time),
    )
    async with harness.client_with(await harness.token(Role.partner, PARTNER)) as partner:
        assert (
            await events_of(partner, validator, MATCH_anyEPC=f"{s1}|{p1}|{s3}|{p2}|{p3}|{s4}") == []
        )  # nothing granted
        grant = {"partner_gln": PARTNER_GLN, "gtin": GTIN_OWN, "lot": lot_a, "reason": "buys lot A (PO 4711)"}
        granted = await client.post("/v1/epcis/grants", json=grant)
        assert granted.status_code == 201, granted.text
        assert granted.json()["batch"] == f"https://id.gs1.org/01/{GTIN_OWN}/10/{lot_a}"
        assert (await client.post("/v1/epcis/grants", json=grant)).status_code == 200  # in force: nothing recorded

        found = await events_of(partner, validator, MATCH_anyEPC=f"{s1}|{p1}|{s3}|{p2}|{p3}|{s4}")
        assert [(e["type"], e["bizStep"]) for e in found] == [
            ("ObjectEvent", "commissioning"),
            ("AggregationEvent", "packing"),
            ("ObjectEvent", "shipping"),
        ]
        assert found[0]["epcList"] == [s1, s2]
        assert found[1]["parentID"] == p1
        assert found[2]["epcList"] == [p1]
        assert (await partner.get(f"/v1/epcis/epcs/{quote(s3, safe='')}/events")).json()["epcisBody"]["queryResults"][
            "resultsBody"
        ]["eventList"] == []
        mine = (await partner.get("/v1/epcis/grants")).json()["grants"]
        assert [(g["partner_gln"], g["lot"]) for g in mine] == [(PARTNER_GLN, lot_a)]

        other_partner = Scope(company_prefixes=frozenset({"0614141"}), sites=frozenset({PARTNER_TWO_GLN}))
        async with harness.client_with(await harness.token(Role.partner, other_partner)) as other:
            assert await events_of(other, validator, MATCH_anyEPC=f"{s1}|{p1}") == []  # granted to another GLN
            assert (await other.get("/v1/epcis/grants")).json()["grants"] == []

        revocation = f"/v1/epcis/grants/{PARTNER_GLN}/{GTIN_OWN}/{lot_a}/revocation"
        revoked = await client.post(revocation, json={"reason": "the order was cancelled"})
        assert revoked.status_code == 204, revoked.text
        assert await events_of(partner, validator, MATCH_anyEPC=f"{s1}|{p1}") == []
        again = await client.post(revocation, json={"reason": "again"})
        assert again.status_code == 404
        assert again.json()["errors"][0]["rule"] == "granted"


async def test_what_holds_a_case_that_grows_is_of_every_batch_the_case_then_holds(
    harness: Harness, validator: Any
) -> None:
    """Case C of lot A is packed onto pallet L; later, a unit of lot B joins C. L then holds lot B
    too: a partner granted lot A no longer reads L's events (nor C's), only A's unit's."""
    client, tag = harness.client, uuid.uuid4().hex[:8].upper()
    lot_a, lot_b = f"A{tag}", f"B{tag}"
    s1, s3 = unit(GTIN_OWN, f"{tag}1"), unit(GTIN_OWN, f"{tag}3")
    case, pallet = (f"urn:epc:id:sscc:9506000.{n}{int(tag, 16) % 10**9:09d}" for n in (4, 5))
    time = "2026-11-30T09:15:00+01:00"
    await capture(
        client,
        event([s1], "commissioning", time, action="ADD", ilmd={"cbvmda:lotNumber": lot_a}),
        event([s3], "commissioning", time, action="ADD", ilmd={"cbvmda:lotNumber": lot_b}),
        packing(case, [s1], time),
        packing(pallet, [case], time),
    )
    grant = {"partner_gln": PARTNER_GLN, "gtin": GTIN_OWN, "lot": lot_a, "reason": "buys lot A"}
    assert (await client.post("/v1/epcis/grants", json=grant)).status_code == 201
    async with harness.client_with(await harness.token(Role.partner, PARTNER)) as partner:
        before = await events_of(partner, validator, MATCH_anyEPC=pallet)
        assert [e["parentID"] for e in before] == [pallet]  # all of lot A, so far
        await capture(client, packing(case, [s3], time), event([pallet], "shipping", time))
        assert await events_of(partner, validator, MATCH_anyEPC=f"{pallet}|{case}") == []
        # Added by an aggregation of another business step: the same.
        other, s5 = f"urn:epc:id:sscc:9506000.6{int(tag, 16) % 10**9:09d}", unit(GTIN_OWN, f"{tag}5")
        await capture(
            client,
            event([s5], "commissioning", time, action="ADD", ilmd={"cbvmda:lotNumber": lot_a}),
            packing(other, [s5], time),
            event([other], "shipping", time),
        )
        assert len(await events_of(partner, validator, MATCH_anyEPC=other)) == 2
        await capture(client, packing(other, [s3], time, bizStep="loading"))
        assert await events_of(partner, validator, MATCH_anyEPC=other) == []
        assert [e["bizStep"] for e in await events_of(partner, validator, MATCH_epc=s1)] == ["commissioning"]


async def test_only_the_products_owner_grants_and_a_grant_is_checked_field_by_field(harness: Harness) -> None:
    grant = {"partner_gln": PARTNER_GLN, "gtin": GTIN_OWN, "lot": "L1", "reason": "buys it"}
    async with harness.client_with(await harness.token(Role.qa, OTHER)) as other_company:
        refused = await other_company.post("/v1/epcis/grants", json=grant)
        assert refused.status_code == 403, refused.text
    async with harness.client_with(await harness.token(Role.partner, PARTNER)) as partner:
        assert (await partner.post("/v1/epcis/grants", json=grant)).status_code == 403  # a partner grants nothing
    for field, value, rule in (
        ("lot", "L/1", "gs1-ai-10"),  # could never be revoked by its path
        ("partner_gln", "0614141000006", "gln"),
        ("gtin", GTIN_OWN[:-1] + "3", "gtin"),
        ("lot", "L 1", "gs1-ai-10"),
    ):
        bad = await harness.client.post("/v1/epcis/grants", json={**grant, field: value})
        assert bad.status_code == 422, bad.text
        assert [(e["field"], e["rule"]) for e in bad.json()["errors"]] == [(field, rule)]
    assert (await harness.client.get("/v1/epcis/grants", params={"gtin": GTIN_OWN})).json()["grants"] == []


async def test_an_error_declaration_gives_the_corrected_view_by_default(harness: Harness, validator: Any) -> None:
    """The official example's shape: an event declared in error names its corrective event. By
    default a query answers the corrected view; EXISTS_errorDeclaration=true the declarations,
    =false every event as last declared. A declaration is captured once, like any event."""
    client, serial = harness.client, uuid.uuid4().hex[:10].upper()
    wrong = event([unit(GTIN_OWN, serial)], "shipping", "2026-11-30T09:15:00+01:00", disposition="in_transit")
    await capture(client, wrong)
    [original] = await events_of(client, validator, MATCH_epc=unit(GTIN_OWN, serial))
    corrective = event([unit(GTIN_OWN, serial)], "shipping", "2026-11-30T09:45:00+01:00", eventID="urn:uuid:" + serial)
    declaration = {
        **wrong,
        "errorDeclaration": {
            "declarationTime": "2026-11-30T10:00:00+01:00",
            "reason": "https://ref.gs1.org/cbv/ER-incorrect_data",
            "correctiveEventIDs": [corrective["eventID"]],
        },
    }
    await capture(client, declaration, corrective)

    corrected = await events_of(client, validator, MATCH_epc=unit(GTIN_OWN, serial))
    assert [e["eventID"] for e in corrected] == [corrective["eventID"]]
    declared = await events_of(client, validator, MATCH_epc=unit(GTIN_OWN, serial), EXISTS_errorDeclaration="true")
    assert [(e["eventID"], e["errorDeclaration"]["reason"]) for e in declared] == [
        (original["eventID"], "https://ref.gs1.org/cbv/ER-incorrect_data")
    ]
    assert await events_of(client, validator, EQ_errorReason="incorrect_data", MATCH_epc=unit(GTIN_OWN, serial)) == [
        *declared
    ]
    assert await events_of(client, validator, EQ_correctiveEventID=corrective["eventID"]) == declared
    assert await events_of(client, validator, EQ_errorReason="did_not_occur", MATCH_epc=unit(GTIN_OWN, serial)) == []
    every = await events_of(client, validator, MATCH_epc=unit(GTIN_OWN, serial), EXISTS_errorDeclaration="false")
    assert [("errorDeclaration" in e, e["eventID"]) for e in every] == [
        (True, original["eventID"]),
        (False, corrective["eventID"]),
    ]
    assert await events_of(client, validator, EQ_eventID=corrective["eventID"]) == corrected  # by the id sent

    again = await client.post("/v1/epcis/capture", json=document_of(declaration, wrong))
    problems = [(p["eventIndex"], p["status"], p["errors"][0]["rule"]) for p in again.json()["errors"]]
    assert problems == [(0, 409, "captured-once"), (1, 409, "captured-once")]


async def test_the_official_error_declaration_example_is_queried_back_corrected(
    harness: Harness, validator: Any
) -> None:
    example = EXAMPLES / "WithErrorDeclaration" / "ErrorDeclarationAndCorrectiveEvent.jsonld"
    response = await harness.client.post(
        "/v1/epcis/capture", content=example.read_bytes(), headers={"Content-Type": "application/ld+json"}
    )
    assert (response.status_code, response.json()["captured"]) == (202, 2), response.text
    declared = "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8"
    corrective = "urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"
    client = harness.client
    assert await events_of(client, validator, EQ_eventID=f"{declared}|{corrective}") == await events_of(
        client, validator, EQ_eventID=corrective
    )
    [found] = await events_of(client, validator, EQ_correctiveEventID=corrective)
    assert (found["eventID"], found["errorDeclaration"]["example:vendorExtension"]) == (declared, "Test1")


QUERY_XSD = {
    "2.0": SCHEMA.parent / "xsd-2.0" / "EPCglobal-epcis-query-2_0.xsd",
    "1.2": SCHEMA.parent / "xsd-1.2" / "EPCglobal-epcis-query-1_2.xsd",
}
SAFE = etree.XMLParser(resolve_entities=False, no_network=True)


def xml_problems(xml: bytes, version: str) -> list[str]:
    schema = etree.XMLSchema(etree.parse(str(QUERY_XSD[version]), SAFE))
    return [] if schema.validate(etree.fromstring(xml, SAFE)) else [str(e) for e in schema.error_log]


def hash_ids_of(xml: bytes) -> list[str]:
    """The CBV 2.0 Event Hash IDs of an XML answer's events, as the reference implementation reads XML."""
    root = etree.fromstring(xml, SAFE)
    version = root.get("schemaVersion")
    namespace = {"2.0": "urn:epcglobal:epcis:xsd:2", "1.2": "urn:epcglobal:epcis:xsd:1"}[str(version)]
    events_xml = etree.tostring(next(root.iter("EventList"))).decode()
    as_document = (  # the reference reads EPCISDocuments: the answer's events, in one
        f'<epcis:EPCISDocument xmlns:epcis="{namespace}" schemaVersion="{version}" '
        f'creationDate="{root.get("creationDate")}"><EPCISBody>{events_xml}</EPCISBody></epcis:EPCISDocument>'
    )
    events = xml_to_py.event_list_from_epcis_document_str(as_document)
    pre_hashes = hash_generator.derive_prehashes_from_events(events, "")
    return list(hash_generator.calculate_hashes_from_pre_hashes(pre_hashes, "sha256"))


async def test_a_query_is_answered_as_epcis_xml_2_0_or_1_2_by_accept_and_version(
    harness: Harness, validator: Any
) -> None:
    """The same events as JSON-LD, EPCIS 2.0 XML and 1.2 XML: each valid against its official schema,
    each event with the same Event Hash ID; in 1.2 a Digital Link becomes its EPC URN by the company
    prefix the key's scope names. Without one known, 1.2 is refused as not acceptable (406)."""
    serial = uuid.uuid4().hex[:10].upper()
    linked = event([unit(GTIN_OWN, serial)], "shipping", "2026-11-30T09:15:00+01:00", **{"acme:shift": "B"})
    urn = event([f"urn:epc:id:sgtin:9506000.013435.{serial}X"], "receiving", "2026-11-30T10:15:00+01:00")
    async with harness.client_with(await harness.token(Role.cmo, OWN)) as cmo:
        await capture(cmo, linked, urn)
        as_json = await events_of(cmo, validator, EQ_bizStep="shipping|receiving")
        answers = {}
        for version in ("2.0", "1.2"):
            headers = {"Accept": "application/xml", "GS1-EPCIS-Version": version}
            answer = await cmo.get("/v1/epcis/events", params={"EQ_bizStep": "shipping|receiving"}, headers=headers)
            assert (answer.status_code, answer.headers["content-type"]) == (200, "application/xml"), answer.text
            assert answer.headers["gs1-epcis-version"] == f"{version}.0"
            assert xml_problems(answer.content, version) == []
            assert hash_ids_of(answer.content) == [e["eventID"] for e in as_json]
            answers[version] = answer.content
    assert f"urn:epc:id:sgtin:9506000.013435.{serial}<".encode() in answers["1.2"]  # the Digital Link's EPC URN
    assert unit(GTIN_OWN, serial).encode() in answers["2.0"]  # as captured

    unscoped = {"Accept": "application/xml", "GS1-EPCIS-Version": "1.2"}
    theirs = unit(GTIN_OTHER, serial)  # no key, event or master data has stated its company prefix
    await capture(harness.client, event([theirs], "shipping", "2026-11-30T09:15:00+01:00"))
    refused = await harness.client.get("/v1/epcis/events", params={"MATCH_epc": theirs}, headers=unscoped)
    assert (refused.status_code, refused.json()["errors"][0]["rule"]) == (406, "xml-writable")
    # Once a captured document states it (here an EPCClass of its master data), the Digital Link has its URN.
    stated = {**document_of(event([unit(GTIN_OTHER, serial + "M")], "shipping", "2026-11-30T09:16:00+01:00"))}
    stated["epcisHeader"] = {
        "epcisMasterData": {
            "vocabularyList": [
                {
                    "type": "urn:epcglobal:epcis:vtype:EPCClass",
                    "vocabularyElementList": [{"id": "urn:epc:idpat:sgtin:4000001.000001.*", "attributes": []}],
                }
            ]
        }
    }
    learned = await harness.client.post("/v1/epcis/capture", json=stated)
    assert learned.json()["captured"] == 1, learned.text
    written = await harness.client.get("/v1/epcis/events", params={"MATCH_epc": theirs}, headers=unscoped)
    assert written.status_code == 200, written.text
    assert xml_problems(written.content, "1.2") == []
    assert f"urn:epc:id:sgtin:4000001.000001.{serial}<".encode() in written.content
    unknown = await harness.client.get("/v1/epcis/events", headers={**unscoped, "GS1-EPCIS-Version": "3.0"})
    assert (unknown.status_code, unknown.json()["errors"][0]["rule"]) == (406, "epcis-version")
    preferred = await harness.client.get("/v1/epcis/events", headers={"Accept": "application/xml;q=0.5, */*"})
    assert preferred.headers["content-type"] == "application/ld+json"


async def test_one_objects_events_are_found_by_its_epc_in_any_form(harness: Harness, validator: Any) -> None:
    serial = uuid.uuid4().hex[:10].upper()
    packed = event([unit(GTIN_OWN, serial)], "packing", "2026-11-30T09:15:00+01:00")
    shipped = event([f"urn:epc:id:sgtin:9506000.013435.{serial}"], "shipping", "2026-11-30T10:15:00+01:00")
    await capture(
        harness.client, packed, shipped, event([unit(GTIN_OWN, serial + "9")], "packing", packed["eventTime"])
    )
    for form in (f"urn:epc:id:sgtin:9506000.013435.{serial}", quote(unit(GTIN_OWN, serial), safe="")):
        answer = await harness.client.get(f"/v1/epcis/epcs/{form}/events")
        assert answer.status_code == 200, answer.text
        assert list(validator.iter_errors(answer.json())) == []
        found = answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert [e["bizStep"] for e in found] == ["packing", "shipping"]
    async with harness.client_with(await harness.token(Role.cmo, OTHER)) as other:
        answer = await other.get(f"/v1/epcis/epcs/urn:epc:id:sgtin:9506000.013435.{serial}/events")
        assert answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
