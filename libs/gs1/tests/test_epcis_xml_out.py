"""EPCIS XML written from EPCIS 2.0 JSON-LD: every official JSON-LD example, and a line's day as
`serialtrail_gs1.epcis` renders what the services record, written as EPCIS 2.0 and 1.2 XML and
validated against the official XSDs (`../shared/standards/epcis/xsd-*`, read in place).

That nothing identifying an event is lost is checked with the CBV 2.0 Event Hash ID: the
reference implementation (PyPI `epcis-event-hash-generator`) reading the written XML gives the
hash `serialtrail_gs1.event_hash` gives the JSON-LD source. Where the reference's own JSON and
XML readers disagree (booleans; the `cbvmda:` prefix), the source is hashed as XML binds it,
and a separate test pins down exactly which events that is.

Events with an official XML twin (the same event in `examples/xml-2.0`) are compared with it
field by field, normalised (times to UTC, CBV URNs and web URIs, CURIEs, number spellings);
the differences that remain are the examples' own, each explained in `TWIN_DIFFERENCES`."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from epcis_event_hash_generator import hash_generator, xml_to_py  # type: ignore[import-untyped]
from hypothesis import assume, given
from hypothesis import strategies as st
from lxml import etree
from serialtrail_contracts.aggregation import (
    ChildrenPacked,
    ChildrenUnpacked,
    PackagingLevel,
    ParentClosed,
    UnpackReason,
)
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.exceptions import ExceptionRecorded, ExceptionType
from serialtrail_contracts.serials import Address, LineRegistered, SerialsCommissioned, SiteRegistered
from serialtrail_gs1 import epcis
from serialtrail_gs1.epcis_xml import read_epcis_xml
from serialtrail_gs1.epcis_xml_out import (
    CompanyPrefixes,
    Envelope,
    Header,
    NotIn12,
    NotWritable,
    QueryResults,
    UnknownCompanyPrefix,
    Version,
    envelope_of,
    events_of,
    write_document,
    write_json_document,
)
from serialtrail_gs1.epcis_xml_out.layouts import ONLY_IN_2_0
from serialtrail_gs1.event_hash import Namespaces, canonical_time, canonical_value, event_hash_id, pre_hash_string
from serialtrail_gs1.identity import sgtin_digital_link
from serialtrail_gs1.keys import sscc
from serialtrail_gs1.xml_reading import xml_bindings, xml_booleans

ROOT = Path(__file__).resolve().parents[3]
STANDARDS = ROOT.parent / "shared" / "standards" / "epcis"
JSON_EXAMPLES = STANDARDS / "examples" / "json-2.0"
XML_EXAMPLES = STANDARDS / "examples" / "xml-2.0"
DOCUMENTS = sorted(JSON_EXAMPLES.rglob("*.jsonld")) if JSON_EXAMPLES.exists() else []
SAFE = etree.XMLParser(resolve_entities=False, no_network=True)
pytestmark = pytest.mark.skipif(not STANDARDS.exists(), reason="the shared standards folder is not beside this clone")


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _urns(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("urn:epc:"):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _urns(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _urns(inner)


# The company prefixes the EPC URN examples state: the Digital Link examples name the same companies,
# but for 9506000, which two sensor examples name only in Digital Links (GTIN 09506000134352, GLN
# 9506000134307): its length is taken as 7, as our own test data registers that product.
EXAMPLE_PREFIXES = CompanyPrefixes.of({"9506000"}).learned_from(urn for path in DOCUMENTS for urn in _urns(load(path)))


@pytest.fixture(scope="module")
def schemas() -> dict[tuple[str, bool], etree.XMLSchema]:
    """(version, query document) → the official XSD."""
    files = {
        ("2.0", False): "xsd-2.0/EPCglobal-epcis-2_0.xsd",
        ("2.0", True): "xsd-2.0/EPCglobal-epcis-query-2_0.xsd",
        ("1.2", False): "xsd-1.2/EPCglobal-epcis-1_2.xsd",
        ("1.2", True): "xsd-1.2/EPCglobal-epcis-query-1_2.xsd",
    }
    return {key: etree.XMLSchema(etree.parse(str(STANDARDS / name), SAFE)) for key, name in files.items()}


def written(document: Mapping[str, Any], version: str, **options: Any) -> bytes:
    return b"".join(write_json_document(document, version, **options))


def problems(schemas: dict[tuple[str, bool], etree.XMLSchema], xml: bytes) -> list[str]:
    root = etree.fromstring(xml, SAFE)
    schema = schemas[(root.get("schemaVersion", ""), etree.QName(root).localname == "EPCISQueryDocument")]
    return [] if schema.validate(root) else [f"{e.line}: {e.message}" for e in schema.error_log]


def event_elements(xml: bytes) -> list[etree._Element]:
    """The events of a written document, wherever its version put them."""
    root = etree.fromstring(xml, SAFE)
    kinds = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
    return [e for e in root.iter(*kinds) if e.getparent() is not None]


# --- the official examples, as EPCIS 2.0 and 1.2 XML ------------------------------------------------
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_every_official_example_is_valid_epcis_2_0_xml(path: Path, schemas: Any) -> None:
    document = load(path)
    xml = written(document, "2.0")
    assert problems(schemas, xml) == []
    assert len(event_elements(xml)) == len(events_of(document))


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_every_official_example_is_valid_epcis_1_2_xml(path: Path, schemas: Any) -> None:
    """What only 2.0 has rides in 1.2's extension elements; Digital Links become EPC URNs."""
    document = load(path)
    xml = written(document, "1.2", company_prefixes=EXAMPLE_PREFIXES)
    assert problems(schemas, xml) == []
    assert len(event_elements(xml)) == len(events_of(document))
    for epc in etree.fromstring(xml, SAFE).iter("epc", "parentID", "epcClass", "id"):
        assert not (epc.text or "").startswith("https://id.gs1.org/"), epc.text


def _first_2_0_only(document: Mapping[str, Any]) -> str | None:
    """What the 1.2 writer must refuse first when asked not to carry 2.0-only content."""
    for index, event in enumerate(events_of(document)):
        where = f"event {index} ({event['type']})"
        if event["type"] == "AssociationEvent":
            return f"{where}: EPCIS 1.2 has no AssociationEvent"
        present = sorted(ONLY_IN_2_0.intersection(event))
        if present:
            return f"{where} {present[0]}: EPCIS 1.2 has no such field"
    return None


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_without_extensions_1_2_refuses_exactly_what_only_2_0_has(path: Path, schemas: Any) -> None:
    document = load(path)
    expected = _first_2_0_only(document)
    if expected is None:
        xml = written(document, "1.2", company_prefixes=EXAMPLE_PREFIXES, carry_2_0_only=False)
        assert problems(schemas, xml) == []
        return
    with pytest.raises(NotIn12) as refused:
        written(document, "1.2", company_prefixes=EXAMPLE_PREFIXES, carry_2_0_only=False)
    assert str(refused.value) == expected


def test_32_of_the_47_examples_use_what_only_2_0_has() -> None:
    refused = [path.name for path in DOCUMENTS if _first_2_0_only(load(path)) is not None]
    assert len(DOCUMENTS) == 47
    assert len(refused) == 32, refused  # 15 examples use nothing that only 2.0 has


def test_digital_links_need_a_company_prefix_in_1_2() -> None:
    document = load(JSON_EXAMPLES / "WithDigitalLinkID" / "Example_9.6.1-ObjectEventWithDigitalLink.jsonld")
    with pytest.raises(UnknownCompanyPrefix) as refused:
        written(document, "1.2")
    assert refused.value.where == "event 0 (ObjectEvent) epcList[0]"
    assert refused.value.reason.startswith("the GS1 Company Prefix length of 70614141123451 is not known")


def test_where_1_2_carries_what_only_2_0_has() -> None:
    document = load(JSON_EXAMPLES / "WithFullCombinationOfFields" / "object_event_all_possible_fields.jsonld")
    event = etree.fromstring(written(document, "1.2"), SAFE).find("EPCISBody/EventList/ObjectEvent")
    assert event is not None
    for path in (
        "baseExtension/eventID",
        "baseExtension/errorDeclaration/declarationTime",
        "baseExtension/extension/certificationInfo",
        "extension/quantityList/quantityElement",
        "extension/ilmd",
        "extension/extension/sensorElementList/sensorElement/sensorReport",
        "extension/extension/persistentDisposition/set",
    ):
        assert event.find(path) is not None, path
    for example, placed in (
        ("association_event_all_possible_fields.jsonld", "extension/extension/AssociationEvent"),
        ("transformation_event_all_possible_fields.jsonld", "extension/TransformationEvent"),
    ):
        other = load(JSON_EXAMPLES / "WithFullCombinationOfFields" / example)
        assert etree.fromstring(written(other, "1.2"), SAFE).find(f"EPCISBody/EventList/{placed}") is not None


def test_a_query_document_keeps_its_query() -> None:
    document = load(JSON_EXAMPLES / "EPCISQueryDocument.jsonld")
    for version, namespace in (("2.0", "urn:epcglobal:epcis-query:xsd:2"), ("1.2", "urn:epcglobal:epcis-query:xsd:1")):
        root = etree.fromstring(written(document, version), SAFE)
        assert root.tag == "{" + namespace + "}EPCISQueryDocument"
        results = root.find("EPCISBody/{" + namespace + "}QueryResults")
        assert results is not None
        assert [(e.tag, e.text) for e in results[:2]] == [
            ("queryName", "SimpleEventQuery"),
            ("subscriptionID", "32d2aec1-a6d2-46d9-900a-24124288cce1"),
        ]
        assert len(results.findall("resultsBody/EventList/ObjectEvent")) == 2


def test_sender_and_receiver_become_the_standard_business_document_header(schemas: Any) -> None:
    document = load(JSON_EXAMPLES / "Example_9.6.1-ObjectEvent-with-pseudo-SBDH-headers.jsonld")
    for version in ("2.0", "1.2"):
        xml = written(document, version)
        assert problems(schemas, xml) == []
        sbdh = "{http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader}"
        header = etree.fromstring(xml, SAFE).find(f"EPCISHeader/{sbdh}StandardBusinessDocumentHeader")
        assert header is not None
        assert header.findtext(f"{sbdh}Sender/{sbdh}Identifier") == "urn:epc:id:sgln:0353579.00001.0"
        assert header.findtext(f"{sbdh}DocumentIdentification/{sbdh}InstanceIdentifier") == "1234567890"


def test_a_json_ld_comment_is_an_xml_comment() -> None:
    xml = written(load(JSON_EXAMPLES / "Example_9.6.1-with-comment.jsonld"), "2.0")
    assert b"<!-- An ObjectEvent may be used for reporting an observation -->" in xml
    assert b"rdfs" not in xml


def test_an_element_read_with_text_beside_its_attributes_is_written_back_as_one(schemas: Any) -> None:
    """`serialtrail_gs1.epcis_xml` reads `<cbvmda:netWeight measurementUnitCode="KGM">3.5</…>` as
    `{"measurementUnitCode": "KGM", "#text": "3.5"}`: an event captured from XML is written back as XML
    with that element as it was (it was refused as "#text: neither an EPCIS field …")."""
    source = read_epcis_xml(
        XML_EXAMPLES / "WithFullCombinationOfFields" / "transformation_event_all_possible_fields.xml"
    )
    document = {
        "@context": source.context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-30T09:20:00Z",
        "epcisBody": {"eventList": source.events},
    }
    for version in ("2.0", "1.2"):
        xml = written(document, version)
        assert problems(schemas, xml) == []
        weight = etree.fromstring(xml, SAFE).find(".//{urn:epcglobal:cbv:mda}netWeight")
        assert weight is not None
        assert (dict(weight.attrib), weight.text, len(weight)) == ({"measurementUnitCode": "KGM"}, "3.5", 0)
        (again,) = read_epcis_xml(io.BytesIO(xml)).events
        weights = ("cbvmda:drainedWeight", "cbvmda:grossWeight", "cbvmda:netWeight")
        assert [again["ilmd"][w] for w in weights] == [source.events[0]["ilmd"][w] for w in weights]
    nested = {**BASE, "ex:weight": {"unit": "KGM", "ex:note": {"ex:by": "QA"}, "#text": "3.5"}}
    envelope = Envelope(creation_date=AT, context=[{"ex": "http://ns.example.com/epcis/"}])
    (element,) = event_elements(b"".join(write_document([nested], envelope)))
    weight = element.find("{http://ns.example.com/epcis/}weight")
    assert weight is not None
    assert (dict(weight.attrib), weight.text, weight.findtext("{http://ns.example.com/epcis/}note/{*}by")) == (
        {"unit": "KGM"},
        "3.5",
        "QA",
    )


# --- nothing that identifies an event is lost: the reference's hash of the XML ----------------------
# Events the reference cannot read back from XML (it is prototypical): what it raises, and why.
REFERENCE_CANNOT_READ_XML = {
    ("Example-TransactionEvents-2020_07_03y.jsonld", 0): "IndexError: a bizTransaction without type attribute",
}


def reference(xml: bytes) -> tuple[str, str]:
    """The reference's pre-hash string and hash of the one event of `xml`."""
    events = xml_to_py.event_list_from_epcis_document_str(xml.decode())
    (pre_hash,) = hash_generator.derive_prehashes_from_events(events, "")
    (hashed,) = hash_generator.calculate_hashes_from_pre_hashes([pre_hash], "sha256")
    return pre_hash, hashed


def as_xml_binds_it(event: Mapping[str, Any], context: Any) -> tuple[Any, Any]:
    """The JSON-LD event as XML binds it: booleans spelled as XML Schema spells them (the
    reference's JSON reader writes Python's `True`), the standard prefixes bound as above."""
    bound = [*(context if isinstance(context, list) else [context]), xml_bindings(context)]
    return xml_booleans(event), bound


def _written_one_by_one(document: Mapping[str, Any], version: str) -> Iterator[tuple[int, dict[str, Any], bytes]]:
    """Each event as an EPCISDocument of its own: the reference reads only EPCISDocument/EventList,
    and one event it cannot read must not hide the others."""
    envelope = replace(envelope_of(document, version), query=None)
    for index, event in enumerate(events_of(document)):
        xml = b"".join(write_document([event], envelope, company_prefixes=EXAMPLE_PREFIXES))
        yield index, dict(event), xml


@pytest.mark.parametrize("version", ["2.0", "1.2"])
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_the_xml_hashes_as_its_json_ld_source(path: Path, version: str) -> None:
    document = load(path)
    context = document.get("@context")
    for index, event, xml in _written_one_by_one(document, version):
        if (path.name, index) in REFERENCE_CANNOT_READ_XML:
            with pytest.raises(IndexError):
                reference(xml)
            continue
        bound_event, bound_context = as_xml_binds_it(event, context)
        pre_hash, hashed = reference(xml)
        assert pre_hash == pre_hash_string(bound_event, bound_context), (path.name, index)
        assert hashed == event_hash_id(bound_event, bound_context), (path.name, index)


def _binds_differently(value: Any, unbound: tuple[str, ...]) -> bool:
    """Whether an event holds a boolean, or a name or value of a standard prefix (`unbound`:
    those its document does not declare itself)."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.startswith(tuple(f"{p}:" for p in unbound if p != "cbvmda"))
    if isinstance(value, Mapping):
        return any(
            key.startswith(tuple(f"{p}:" for p in unbound)) or _binds_differently(inner, unbound)
            for key, inner in value.items()
        )
    if isinstance(value, list):
        return any(_binds_differently(inner, unbound) for inner in value)
    return False


def test_the_xml_hashes_as_the_unbound_source_but_for_booleans_and_standard_prefixes() -> None:
    """The binding above changes the hash of exactly those events; every other event's XML hashes
    as `event_hash_id` of its JSON-LD source, unchanged."""
    counts = {"same": 0, "bound": 0}
    for path in DOCUMENTS:
        document = load(path)
        context = document.get("@context")
        unbound = tuple(xml_bindings(context))
        for index, event, xml in _written_one_by_one(document, "2.0"):
            if (path.name, index) in REFERENCE_CANNOT_READ_XML:
                continue
            same = reference(xml)[1] == event_hash_id(event, context)
            assert same is not _binds_differently(event, unbound), (path.name, index)
            counts["same" if same else "bound"] += 1
    assert counts == {"same": 46, "bound": 9}


# --- the official XML twins -------------------------------------------------------------------------
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_TIMES = frozenset({"eventTime", "recordTime", "declarationTime", "time", "startTime", "endTime"})
_FLATTENED = frozenset({"extension", "baseExtension"})  # 1.x wrappers some 2.0 examples still use
_XML_CURIES = {"gs1": "https://gs1.org/voc/", "cbv": "https://ref.gs1.org/cbv/"}
Canonical = tuple[str, str, tuple[tuple[str, str], ...], tuple[Any, ...]]


def _name(tag: str) -> str:
    """Namespaces compared without a trailing separator: the twins declare
    `http://ns.example.com/epcis` where the JSON-LD examples declare `…/epcis/`."""
    qualified = etree.QName(tag)
    return "{" + (qualified.namespace or "").rstrip("/#:") + "}" + qualified.localname


def _value(field: str, text: str, element: etree._Element) -> str:
    if etree.QName(field).localname in _TIMES and text:
        return canonical_time(text)
    prefix, colon, rest = text.partition(":")
    # The XML examples' CURIEs: gs1: and cbv: even where the example declares no such prefix
    # (as the reference's XML reader takes them), any other prefix as the document declares it.
    namespace = _XML_CURIES.get(prefix) or element.nsmap.get(prefix) if colon else None
    if namespace and prefix not in ("urn", "http", "https"):
        text = namespace + rest
    return canonical_value(text, Namespaces())


def _children(element: etree._Element) -> list[etree._Element]:
    """Child elements, 1.x `extension` wrappers flattened; comments and empty elements (an empty
    list, an empty extension: they say nothing) left out."""
    found = []
    for child in element:
        if not isinstance(child.tag, str) or (len(child) == 0 and not child.attrib and not (child.text or "").strip()):
            continue
        found.extend(_children(child) if child.tag in _FLATTENED else [child])
    return found


def canonical(element: etree._Element) -> Canonical:
    children = tuple(sorted(canonical(child) for child in _children(element)))
    attributes = tuple(sorted((_name(k), _value(k, v, element)) for k, v in element.attrib.items() if k != XSI_TYPE))
    tag = str(element.tag)
    text = "" if children else _value(tag, (element.text or "").strip(), element)
    return (_name(tag), text, attributes, children)


# Each JSON-LD example's XML twin: the official XML example of the same events (by file name, or
# by the case it writes in JSON-LD). Events are paired by type and instant within that file.
TWIN_FILES = (
    ("AssociationEvent/*", "AssociationEvent/AssociationEventExamples.xml"),
    (
        "Example-Type-sourceOrDestination,measurement,bizTransaction.jsonld",
        "AssociationEvent/AssociationEventExamples.xml",
    ),
    ("*9.6.1*", "Example_9.6.1-ObjectEvent-2020_06_18a.xml"),
    ("EPCISQueryDocument.jsonld", "Example_9.6.1-ObjectEvent-2020_06_18a.xml"),
    ("*9.6.2*", "Mimasu/Example2.xml"),
    ("*9.6.3*", "Mimasu/Example3.xml"),
    ("*9.6.4*", "Mimasu/Example4.xml"),
    ("Example-TransactionEvents-2020_07_03y.jsonld", "Example-TransactionEvent-2020_07_03y.xml"),
    ("PersistentDisposition-example.jsonld", "Example-PersistentDisposition.xml"),
    ("WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld", "{path}.xml"),
    ("WithFullCombinationOfFields/*", "{path}.xml"),
    ("WithSensorData/*", "WithSensorData/SensorDataExamples.xml"),
)
_NESTING = "the JSON-LD example nests ext1:object and ext2:object one level deeper than its XML twin"
_ALL_FIELDS = {
    "certificationInfo": "only the JSON-LD example has one",
    "errorDeclaration": "only the JSON-LD example declares an error",
    "object": _NESTING,
    "array": _NESTING,
    "sensorElementList": _NESTING + " in the sensor element; the XML writes component example:x",
}
_OTHER_GTIN = "the Digital Link example names GTIN 70614141123451, its twin the URN example's 10614141073464"
_NOT_THE_EXAMPLES = "the XML case uses the http://ns.example.com/… namespace as https and without its final /"
# (example, event) → the fields where the official JSON-LD example and its XML twin say different things.
TWIN_DIFFERENCES: dict[tuple[str, int], dict[str, str]] = {
    ("AssociationEvent-g.jsonld", 0): {"errorDeclaration": "case (g) of the XML example declares no error"},
    ("Example-Type-sourceOrDestination,measurement,bizTransaction.jsonld", 0): {
        "bizTransactionList": "the JSON-LD example adds a po and a desadv to case (f)",
        "myField": "the JSON-LD example adds a user extension to case (f)",
    },
    ("Example_9.6.1-ObjectEventWithDigitalLink.jsonld", 0): {"epcList": _OTHER_GTIN},
    ("Example_9.6.1-ObjectEventWithDigitalLink.jsonld", 1): {"epcList": _OTHER_GTIN},
    ("Example_9.6.2-ObjectEventWithDigitalLink.jsonld", 0): {
        "quantityList": _OTHER_GTIN.replace("10614141073464", "04012345123456")
    },
    ("Example_9.6.3-AggregationEventWithDigitalLink.jsonld", 0): {"childEPCs": _OTHER_GTIN},
    ("Example_9.6.1-ObjectEvent-with-error-declaration.jsonld", 0): {
        "errorDeclaration": "the XML twin declares no error"
    },
    ("ErrorDeclarationAndCorrectiveEvent.jsonld", 0): {
        "inputQuantityList": "the XML example's quantity is xsi:nil, the JSON-LD one's 500 KGM",
        "readPoint": "the XML example's read point is GLN 4012345000009",
    },
    ("ErrorDeclarationAndCorrectiveEvent.jsonld", 1): {
        "inputQuantityList": "the XML example's quantity is xsi:nil, the JSON-LD one's 500 KGM",
        "readPoint": "the XML example's read point is GLN 4012345000009",
    },
    ("aggregation_event_all_possible_fields.jsonld", 0): _ALL_FIELDS,
    ("association_event_all_possible_fields.jsonld", 0): _ALL_FIELDS,
    ("transaction_event_all_possible_fields.jsonld", 0): _ALL_FIELDS,
    ("transformation_event_all_possible_fields.jsonld", 0): _ALL_FIELDS | {"ilmd": _NESTING},
    ("object_event_all_possible_fields.jsonld", 0): {
        "action": "ADD in JSON-LD, OBSERVE in XML",
        "certificationInfo": "only the JSON-LD example has one",
        "errorDeclaration": "only the JSON-LD example declares an error",
        "ilmd": "only the JSON-LD example has ILMD",
        "sensorElementList": "the XML sensor element carries 4 of the JSON-LD one's 9 ext1 extensions",
        **dict.fromkeys(
            ("array", "boolean", "default", "float", "int", "object", "string", "time"),
            "only the JSON-LD event has ext1 user extensions at event level",
        ),
    },
    ("SensorDataExample6.jsonld", 0): {
        "epcList": "the XML case of that time names no object",
        "quantityList": "the XML case of that time names no quantity",
        "sensorElementList": "example:furtherSensorData is one object in XML, two in JSON-LD; " + _NOT_THE_EXAMPLES,
    },
    ("SensorDataExample7.jsonld", 0): {"sensorElementList": _NOT_THE_EXAMPLES + "; hex F0F0F0 against f0f0f0"},
    ("SensorDataExample8.jsonld", 0): {
        "sensorElementList": "Molar_concentration in XML, AmountOfSubstancePerUnitVolume in JSON-LD; "
        + _NOT_THE_EXAMPLES,
    },
    ("SensorDataExample9.jsonld", 0): {"sensorElementList": "the JSON-LD reports name their measurement type"},
    ("SensorDataExample10.jsonld", 0): {"sensorElementList": "components x, y, z and ex:feature against example:x…"},
    ("SensorDataExample11.jsonld", 0): {"sensorElementList": "DoseEquivalentRate against EffectiveDoseRate"},
    ("SensorDataExample12.jsonld", 0): {
        "readPoint": "the XML case adds an example:gs1ES element string",
        "bizLocation": "the XML case adds an example:gs1ES element string",
        "errorDeclaration": "example:field holds an attribute in XML, a text in JSON-LD",
        "furtherData": "only the XML case has example2:furtherData",
    },
    ("SensorDataExample14.jsonld", 0): {"bizStep": "the XML case writes Bizstep-sensor_reporting, not a CBV URI"},
    ("SensorDataExample15.jsonld", 0): {"bizStep": "the XML case writes Bizstep-sensor_reporting, not a CBV URI"},
    ("SensorDataExample16.jsonld", 0): {
        "bizStep": "the XML case writes Bizstep-sensor_reporting, not a CBV URI",
        "readPoint": "the JSON-LD example gives a geo: URI read point instead of the XML case's coordinates",
        "sensorElementList": "the JSON-LD example gives a geo: URI read point instead of the XML case's coordinates",
    },
    ("SensorDataExample1b.jsonld", 0): {"epcList": "the JSON-LD example names no object"},
    ("SensorDataExample4.jsonld", 0): {
        "sensorElementList": "rawData URIs differ (4000001111-20190402T… against 401234599999)"
    },
}
# Events without a twin of their type and instant in their twin file.
TWINLESS = {
    (
        "PersistentDisposition-example.jsonld",
        0,
    ): "the XML example records AggregationEvents, the JSON-LD one ObjectEvents",
    (
        "PersistentDisposition-example.jsonld",
        1,
    ): "the XML example records AggregationEvents, the JSON-LD one ObjectEvents",
    ("SensorDataExample13.jsonld", 0): "the XML example leaves case 13 out",
    ("SensorDataExample17.jsonld", 0): "no XML case",
}


def twin_file(example: Path) -> Path:
    name = example.relative_to(JSON_EXAMPLES).with_suffix("").as_posix()
    for pattern, xml in TWIN_FILES:
        if fnmatch(name + ".jsonld", pattern):
            return XML_EXAMPLES / xml.format(path=name)
    raise AssertionError(f"{name}: no XML twin named")


def differences(ours: etree._Element, twin: etree._Element) -> set[str]:
    """The fields (child element names) whose normalised content differs. The JSON-LD examples'
    eventIDs are illustrative (the standards README) and their XML twins mostly have none."""
    mine: dict[str, list[Canonical]] = {}
    theirs: dict[str, list[Canonical]] = {}
    for side, element in ((mine, ours), (theirs, twin)):
        for child in _children(element):
            side.setdefault(etree.QName(child).localname, []).append(canonical(child))
    if "eventID" not in theirs:
        mine.pop("eventID", None)
    return {name for name in mine.keys() | theirs.keys() if sorted(mine.get(name, [])) != sorted(theirs.get(name, []))}


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_events_with_an_xml_twin_carry_what_the_twin_carries(path: Path) -> None:
    twins: dict[tuple[str, str], list[etree._Element]] = {}
    for event in event_elements(twin_file(path).read_bytes()):
        twins.setdefault((etree.QName(event).localname, canonical_time(event.findtext("eventTime") or "")), []).append(
            event
        )
    for index, ours in enumerate(event_elements(written(load(path), "2.0"))):
        candidates = twins.get((etree.QName(ours).localname, canonical_time(ours.findtext("eventTime") or "")), [])
        if (path.name, index) in TWINLESS:
            assert candidates == [], (path.name, index)
            continue
        assert candidates, (path.name, index)
        found = min((differences(ours, twin) for twin in candidates), key=len)  # a file may hold cases of one time
        assert found == set(TWIN_DIFFERENCES.get((path.name, index), {})), (path.name, index)


# --- what the services record, rendered by serialtrail_gs1.epcis ------------------------------------
GTIN, LOT, SITE_GLN = "09506000134352", "L2026A", "9506000000008"
SITE, LINE = "urn:epc:id:sgln:9506000.00000.0", "urn:epc:id:sgln:9506000.00000.LINE-1"
CASE, PALLET = (f"https://id.gs1.org/00/{sscc(0, '9506000', n)}" for n in (1, 2))
AT = datetime(2026, 11, 22, 8, 0, tzinfo=timezone(timedelta(hours=1)))
UNITS = [sgtin_digital_link(GTIN, serial) for serial in ("A1", "A2", "A3")]
LINE_ID = "LINE-1"


def _packed(number: int, parent: str, level: PackagingLevel, children: tuple[str, ...], at: datetime) -> ChildrenPacked:
    return ChildrenPacked(
        pack_id=UUID(int=number),
        parent_id=parent,
        packaging_level=level,
        child_ids=children,
        line_id=LINE_ID,
        read_point=LINE,
        biz_location=SITE,
        event_time=at,
    )


def _closed(parent: str, count: int, expected: int | None, at: datetime) -> ParentClosed:
    return ParentClosed(
        parent_id=parent,
        child_count=count,
        expected_count=expected,
        line_id=LINE_ID,
        read_point=LINE,
        biz_location=SITE,
        event_time=at,
    )


def _exception(number: int, kind: ExceptionType, at: datetime, **named: tuple[str, ...]) -> ExceptionRecorded:
    return ExceptionRecorded(
        exception_id=UUID(int=number),
        exception_type=kind,
        gtin=GTIN,
        lot=LOT,
        serials=named.get("serials", ()),
        parents=named.get("parents", ()),
        line_id=LINE_ID,
        read_point=LINE,
        biz_location=SITE,
        site_gln=SITE_GLN,
        event_time=at,
        description="seen on the line",
        observed_by="operator",
    )


def _a_line_day() -> list[EventContract]:
    at = [AT + timedelta(minutes=n) for n in range(8)]
    commissioned = SerialsCommissioned(
        commissioning_id=UUID(int=1),
        gtin=GTIN,
        lot=LOT,
        expiry=date(2028, 6, 30),
        line_id=LINE_ID,
        read_point=LINE,
        biz_location=SITE,
        event_time=at[0],
        serials=("A1", "A2", "A3"),
    )
    unpacked = ChildrenUnpacked(
        unpack_id=UUID(int=4),
        parent_id=CASE,
        child_ids=(UNITS[2],),
        reason=UnpackReason.damaged,
        line_id=LINE_ID,
        read_point=LINE,
        biz_location=SITE,
        event_time=at[3],
    )
    return [
        commissioned,
        _packed(2, CASE, PackagingLevel.case, tuple(UNITS), at[1]),
        _packed(3, PALLET, PackagingLevel.pallet, (CASE,), at[2]),
        unpacked,
        _closed(CASE, 2, 2, at[4]),
        _closed(PALLET, 1, None, at[5]),
        _exception(5, ExceptionType.damaged, at[6], serials=("A3",)),
        _exception(6, ExceptionType.unreadable, at[7], parents=(PALLET,)),
    ]


def _master_data() -> list[EventContract]:
    address = Address(street="1 Plant Road", city="Basel", postal_code="4051", country="CH")
    return [
        SiteRegistered(gln=SITE_GLN, company_prefix_length=7, name="Plant", address=address, biz_location=SITE),
        LineRegistered(line_id="LINE-1", name="Line 1", site_gln=SITE_GLN, read_point=LINE, biz_location=SITE),
    ]


@pytest.fixture(scope="module")
def line_day() -> dict[str, Any]:
    recorded_at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    rendered = [epcis.event(event, recorded_at) for event in _a_line_day()]
    events = [event for event in rendered if event is not None]
    return epcis.document(events, epcis.master_data(_master_data()), recorded_at)


DSCSA_HEADER = Header("urn:epc:id:sgln:9506000.00000.0", "urn:epc:id:sgln:0614141.00001.0", "LINE-DAY-1")


def test_a_line_day_is_valid_epcis_2_0_and_1_2_xml(line_day: dict[str, Any], schemas: Any) -> None:
    assert problems(schemas, written(line_day, "2.0")) == []
    envelope = replace(envelope_of(line_day, "1.2"), header=DSCSA_HEADER)
    product = CompanyPrefixes.of(lengths={GTIN: 7})  # as the product's registration states it
    xml = b"".join(write_document(events_of(line_day), envelope, company_prefixes=product))
    assert problems(schemas, xml) == []
    root = etree.fromstring(xml, SAFE)
    assert {e.text for e in root.iter("epc")} >= {"urn:epc:id:sgtin:9506000.013435.A1"}
    assert {e.text for e in root.iter("parentID")} == {
        "urn:epc:id:sscc:9506000.0000000001",
        "urn:epc:id:sscc:9506000.0000000002",
    }
    ilmd = root.find(".//ObjectEvent/extension/ilmd")
    assert ilmd is not None
    assert [(e.tag, e.text) for e in ilmd] == [
        ("{urn:epcglobal:cbv:mda}lotNumber", LOT),
        ("{urn:epcglobal:cbv:mda}itemExpirationDate", "2028-06-30"),
    ]
    locations = root.findall("EPCISHeader/extension/EPCISMasterData/VocabularyList/Vocabulary")
    assert [v.get("type") for v in locations] == [
        "urn:epcglobal:epcis:vtype:BusinessLocation",
        "urn:epcglobal:epcis:vtype:ReadPoint",
    ]


@pytest.mark.parametrize("version", ["2.0", "1.2"])
def test_a_line_days_xml_hashes_as_its_json_ld(line_day: dict[str, Any], version: str) -> None:
    context = line_day["@context"]
    envelope = replace(envelope_of(line_day, version), header=DSCSA_HEADER)
    for event in events_of(line_day):
        xml = b"".join(write_document([event], envelope, company_prefixes=CompanyPrefixes.of({"9506000"})))
        bound_event, bound_context = as_xml_binds_it(event, context)
        assert reference(xml)[1] == event_hash_id(bound_event, bound_context), event
        if "ilmd" not in event:  # no cbvmda: name, no boolean: the hash of the source itself
            assert reference(xml)[1] == event_hash_id(event, context), event


def test_1_2_master_data_needs_a_business_document_header(line_day: dict[str, Any]) -> None:
    with pytest.raises(NotWritable) as refused:
        written(line_day, "1.2", company_prefixes=CompanyPrefixes.of({"9506000"}))
    assert refused.value.where == "header"
    assert "Standard Business Document Header" in refused.value.reason


def test_epc_class_and_location_master_data_in_2_0_and_1_2(schemas: Any) -> None:
    """2.0 keeps the Digital Links it is given; 1.2 names the class and the location by EPC URNs."""
    vocabularies = [
        {
            "type": "urn:epcglobal:epcis:vtype:EPCClass",
            "vocabularyElementList": [
                {
                    "id": f"https://id.gs1.org/01/{GTIN}",
                    "attributes": [
                        {"id": "cbvmda:regulatedProductName", "attribute": "Examplimab 10 mg"},
                        {"id": "urn:epcglobal:cbv:mda#additionalTradeItemIdentification", "attribute": "0123-4567-89"},
                    ],
                }
            ],
        },
        {
            "type": "urn:epcglobal:epcis:vtype:Location",
            "vocabularyElementList": [{"id": f"https://id.gs1.org/414/{SITE_GLN}", "children": [LINE]}],
        },
    ]
    envelope = Envelope(creation_date=AT, version=Version.V1_2, vocabularies=vocabularies, header=DSCSA_HEADER)
    xml = b"".join(write_document([], envelope, company_prefixes=CompanyPrefixes.of(lengths={GTIN: 7})))
    assert problems(schemas, xml) == []
    elements = etree.fromstring(xml, SAFE).findall(".//VocabularyElement")
    assert [e.get("id") for e in elements] == ["urn:epc:idpat:sgtin:9506000.013435.*", SITE]
    assert elements[0][0].get("id") == "urn:epcglobal:cbv:mda#regulatedProductName"
    as_2_0 = b"".join(write_document([], replace(envelope, version=Version.V2_0, header=None)))
    assert problems(schemas, as_2_0) == []
    elements = etree.fromstring(as_2_0, SAFE).findall(".//VocabularyElement")
    assert [e.get("id") for e in elements] == [f"https://id.gs1.org/01/{GTIN}", f"https://id.gs1.org/414/{SITE_GLN}"]


# --- streaming, and what is refused ------------------------------------------------------------------
def an_event(index: int) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T08:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": [sgtin_digital_link(GTIN, f"S{index}")],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": LINE},
        "bizLocation": {"id": SITE},
        "ilmd": {"cbvmda:lotNumber": LOT, "cbvmda:itemExpirationDate": "2028-06-30"},
    }


def test_events_are_written_as_they_come() -> None:
    pulled = 0

    def events() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for index in range(3000):
            pulled += 1
            yield an_event(index)

    chunks = write_document(events(), Envelope(creation_date=AT, query=QueryResults()), chunk_bytes=32 * 1024)
    first = next(chunks)
    assert pulled < 3000  # the first chunk left before the last event was read
    rest = list(chunks)
    assert all(len(chunk) < 33 * 1024 for chunk in (first, *rest))
    assert len(event_elements(first + b"".join(rest))) == 3000


BASE = an_event(0)


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        ({"bizStep": "wrapping"}, "event 0 (ObjectEvent) bizStep", "'wrapping' is neither a CBV 2.0 term nor a URI"),
        (
            {"eventTime": "2026-03-01T08:00:00"},
            "event 0 (ObjectEvent) eventTime",
            "'2026-03-01T08:00:00' is not a date-time with a time zone offset (e.g. 2026-03-01T08:00:00Z)",
        ),
        ({"eventTimeZoneOffset": None}, "event 0 (ObjectEvent)", "the event needs eventTimeZoneOffset"),
        ({"action": "MOVE"}, "event 0 (ObjectEvent) action", "'MOVE' is not ADD, OBSERVE or DELETE"),
        ({"type": "QuantityEvent"}, "event 0 (QuantityEvent)", "type is not an EPCIS 2.0 event type"),
        ({"parentID": CASE}, "event 0 (ObjectEvent) parentID", "ObjectEvents have no such field"),
        (
            {"ex:field": "x"},
            "event 0 (ObjectEvent) ex:field",
            "an extension field needs a namespace: the @context declares no prefix 'ex'",
        ),
        (
            {"myField": "x"},
            "event 0 (ObjectEvent) myField",
            "neither an EPCIS field here nor a namespaced (prefix:name) extension",
        ),
        (
            {"certificationInfo": ["https://a.example/1", "https://a.example/2"]},
            "event 0 (ObjectEvent) certificationInfo",
            "EPCIS XML carries one certificationInfo per event, not 2",
        ),
        (
            {"quantityList": [{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/{LOT}", "uom": "KGM"}]},
            "event 0 (ObjectEvent) quantityList[0]",
            "a unit of measure without a quantity has no place in EPCIS XML",
        ),
    ],
)
def test_what_xml_cannot_carry_is_refused_precisely(change: dict[str, Any], where: str, reason: str) -> None:
    event = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    with pytest.raises(NotWritable) as refused:
        b"".join(write_document([event], Envelope(creation_date=AT)))
    assert (refused.value.where, refused.value.reason) == (where, reason)


def test_a_control_character_is_refused_not_written() -> None:
    event = copy.deepcopy(BASE)
    event["ilmd"]["cbvmda:lotNumber"] = "L\x01"
    with pytest.raises(NotWritable) as refused:
        b"".join(write_document([event], Envelope(creation_date=AT)))
    assert refused.value.where.startswith("event 0 (ObjectEvent) ilmd")


# Any text XML 1.0 can hold, the characters XML gives a meaning to first.
XML_TEXTS = st.text(
    st.one_of(st.sampled_from("&<>\"'\t\n\r]]>"), st.characters(min_codepoint=0x20, max_codepoint=0xD7FF)),
    max_size=30,
)


@given(XML_TEXTS, XML_TEXTS)
def test_any_text_reads_back_as_written(content: str, attribute: str) -> None:
    """Text and attribute values are escaped, not trusted: a parser reads back exactly the text."""
    assume(not content.startswith("ex:") and not attribute.startswith("ex:"))  # CURIEs are expanded
    event = {
        **BASE,
        "ex:note": content,
        "sensorElementList": [{"sensorReport": [{"type": "Temperature", "ex:reading": attribute}]}],
    }
    envelope = Envelope(creation_date=AT, context=[{"ex": "http://ns.example.com/epcis/"}])
    (written_event,) = event_elements(b"".join(write_document([event], envelope)))
    assert written_event.findtext("{http://ns.example.com/epcis/}note") == content
    report = written_event.find("sensorElementList/sensorElement/sensorReport")
    assert report is not None
    assert report.get("{http://ns.example.com/epcis/}reading") == attribute
