"""EPCIS 1.2 ↔ 2.0 conversion at the service, both ways, on the official examples (issue 14: "1.2 ↔ 2.0
conversion is lossless on the official examples, tested both ways"): each example is captured as GS1
published it, queried back as JSON-LD 2.0, as EPCIS 2.0 XML and as EPCIS 1.2 XML, every answer validated
against its official schema (the JSON Schema and XSDs of `../shared/standards/epcis/`, read in place),
and every event of every answer hashed by the reference implementation of the CBV 2.0 Event Hash ID
(PyPI `epcis-event-hash-generator`): its hash of what the service answers is its hash of the official
source. 1.2 → 2.0: the five examples of `xml-1.2/` and GS1 US's DSCSA example 2.2.1.1; 2.0 → 1.2 (and
2.0 → 2.0 across JSON-LD and XML): every JSON-LD example of `json-2.0/` and every XML example of
`xml-2.0/` that holds events. Not here: `xml-2.0/CaptureJob/*` (capture job answers, not documents)
and the three master data documents (no events).

Examples share a repository only when they share no event: the examples share events (one event in
several files and formats is captured once, a second capture of it is a 409) and declare each other's
events in error (an event declared in error is served only as its declaration), so the examples are
put in repositories (`REPOSITORIES_1_2`, `REPOSITORIES_2_0`: a harness each, a few in all) where no event
of one is another's (as `serialtrail_gs1` hashes them: used only to arrange the examples). Each
example's events are queried back as the repository recorded them from its capture on
(`GE_recordTime`), with `EXISTS_errorDeclaration=false`: every event as last declared, in document
order; an event declared in error by a later event of its own document is served as that
declaration (the same Event Hash ID: §8.9 leaves errorDeclaration out).

What is not lossless, and exactly where (each pin must still be needed, and says why):

- `REFUSED`: events a capture refuses, and why. None is a conversion defect: each has no EPCIS 2.0
  JSON-LD form the official JSON Schema accepts (the XSDs and the JSON Schema disagree on them), or
  breaks a rule every JSON body is held to.
- `NOT_IN_1_2`: 1.2 answers refused (406) for an admin key: a GS1 Digital Link needs its company
  prefix's length to become an EPC URN, which nothing in the answer tells. A key scoped to the
  companies the example names gets them in 1.2 (`test_digital_links_are_written_in_1_2_for_a_key_…`);
  so does any key once anything captured states the prefix in an EPC URN (`LEARNED`).
- `READERS_DISAGREE`: the reference's own JSON and XML readers read some constructs differently
  (booleans, `cbvmda:`/`gs1:`/`cbv:` names, `xsi:type`/`xsi:nil` annotations, CURIEs of the
  document's own prefixes in values), as `libs/gs1/tests/test_epcis_xml_out.py` and `test_epcis_xml.py`
  found. Where an answer is read by the other reader than its source, the hashes differ for those
  events only; for them the source is hashed as the other reader binds it (`as_xml_binds_it`,
  `as_json_ld_reads_it`) and must then give the answer's hash.
- `REFERENCE_CANNOT_READ`: sources the reference cannot hash at all, and which of their answers it
  cannot read either.

The eventID the repository gives an event sent without one is checked too: the reference's hash of
the event served (`OWN_HASH_DIFFERS`: where `serialtrail_gs1.event_hash` is known to differ)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from epcis_event_hash_generator import hash_generator, json_to_py, xml_to_py  # type: ignore[import-untyped]
from epcis_reporting import bootstrap
from epcis_reporting.settings import EpcisSettings
from lxml import etree
from serialtrail_contracts.identity import Role, Scope
from serialtrail_gs1.epcis_json import RefusedJson, read_document
from serialtrail_gs1.epcis_xml import EpcisXmlReader, XmlEvent
from serialtrail_gs1.event_hash import event_hash_id
from serialtrail_gs1.xml_reading import xml_bindings, xml_booleans
from serialtrail_kit.testing.harness import Harness, serve

SHARED = Path(__file__).resolve().parents[4] / "shared" / "standards"
STANDARDS = SHARED / "epcis"
EXAMPLES = STANDARDS / "examples"
DSCSA = SHARED / "dscsa" / "GS1_US_Pharma_Example_2_2_1_1.xml"
SAFE = etree.XMLParser(resolve_entities=False, no_network=True)
XSI = "http://www.w3.org/2001/XMLSchema-instance"
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
JSON_LD, XML_2_0, XML_1_2 = "JSON-LD", "XML 2.0", "XML 1.2"


def name(path: Path) -> str:
    return str(path.relative_to(SHARED))


def _holds_events(path: Path) -> bool:
    root = etree.parse(str(path), SAFE).getroot()
    return etree.QName(root).localname == "EPCISDocument" and any(True for _ in root.iter(*EVENT_TYPES))


SOURCES_1_2 = [*sorted(EXAMPLES.glob("xml-1.2/*.xml")), DSCSA]
SOURCES_2_0 = [
    *sorted(p for p in EXAMPLES.glob("xml-2.0/**/*.xml") if _holds_events(p)),
    *sorted(EXAMPLES.glob("json-2.0/**/*.jsonld")),
]
DIGITAL_LINKS = sorted(EXAMPLES.glob("json-2.0/WithDigitalLinkID/*.jsonld"))
BODIES = {path: path.read_bytes() for path in (*SOURCES_1_2, *SOURCES_2_0)}


def _identities(path: Path) -> frozenset[str]:
    """The Event Hash IDs the service will know an example's events by (as `serialtrail_gs1` reads and
    hashes them), only to tell which examples can share a repository."""
    if path.suffix == ".xml":
        return frozenset(event_hash_id(i.event, i.context) for i in EpcisXmlReader(path) if isinstance(i, XmlEvent))
    try:
        envelope, events = read_document(path.read_bytes())
    except RefusedJson:
        return frozenset()  # refused whole
    return frozenset(event_hash_id(event, envelope.get("@context")) for event in events)


def repositories(paths: Sequence[Path]) -> list[tuple[Path, ...]]:
    """The examples, each in the first repository none of whose examples shares an event with it."""
    found: list[tuple[list[Path], set[str]]] = []
    for path in paths:
        identities = _identities(path)
        for examples, taken in found:
            if not identities & taken:
                examples.append(path)
                taken |= identities
                break
        else:
            found.append(([path], set(identities)))
    return [tuple(examples) for examples, _ in found]


REPOSITORIES_1_2, REPOSITORIES_2_0 = repositories(SOURCES_1_2), repositories(SOURCES_2_0)


def named_together(examples: tuple[Path, ...]) -> str:
    return f"{name(examples[0])} and {len(examples) - 1} more"


# Events a capture refuses: (example) → {event index: (status, field, rule)}, or (status, field, rule) of
# the document refused whole (422).
REFUSED: dict[str, dict[int, tuple[int, str, str]] | tuple[int, str, str]] = {
    # EPCIS 1.2's innermost <extension> holds fields of later EPCIS versions, unqualified: a <myField>
    # there is a field no EPCIS version defines, which EPCIS 2.0 has no place for (its JSON-LD twin
    # leaves it out; kept, the event is refused rather than captured as another event than was sent).
    "epcis/examples/xml-1.2/ObjectEvent.xml": {1: (400, "eventList[1]", "epcis-schema")},
    # A 2.0 AssociationEvent carried in a 1.2 <extension> (which the 1.2 XSD does not check), its
    # sensorMetadata misspelt <sensorMetaData>: no such field in EPCIS 2.0.
    "epcis/examples/xml-1.2/AssociationEvent.xml": {5: (400, "eventList[5].sensorElementList[0]", "epcis-schema")},
    # persistentDisposition on an AggregationEvent: the XSD has it, the JSON Schema not.
    "epcis/examples/xml-2.0/Example-PersistentDisposition.xml": {
        0: (400, "eventList[0]", "epcis-schema"),
        1: (400, "eventList[1]", "epcis-schema"),
    },
    # Sensor report types the XSD takes as any URI, the JSON Schema only from its list of CBV/GS1
    # measurement types (EffectiveDoseRate, Molar_concentration are not in it); a report without type.
    "epcis/examples/xml-2.0/WithExtension/TransactionEvent.xml": {
        0: (400, "eventList[0].sensorElementList[0].sensorReport[0].type", "epcis-schema")
    },
    "epcis/examples/xml-2.0/WithSensorData/SensorDataExamples.xml": {
        7: (400, "eventList[7].sensorElementList[0].sensorReport[1].type", "epcis-schema"),
        8: (400, "eventList[8].sensorElementList[0].sensorReport[0]", "epcis-schema"),
        10: (400, "eventList[10].sensorElementList[0].sensorReport[0].type", "epcis-schema"),
    },
    # `eventID` twice in one event: JSON whose meaning depends on the parser is refused whole, as
    # every JSON body is (strict JSON).
    "epcis/examples/json-2.0/AssociationEvent/AssociationEvent-h.jsonld": (
        422,
        "epcisBody.eventList[0].eventID",
        "unique-key",
    ),
}

# Examples a 1.2 answer is refused for (406, rule xml-writable) for a key that names no company: where,
# the Digital Link's key whose GS1 Company Prefix length nothing in the answer tells (no EPC URN of it).
_DL = "event 0 (ObjectEvent) epcList[0]"
NOT_IN_1_2 = {
    "epcis/examples/json-2.0/WithSensorData/SensorDataExample13.jsonld": (_DL, "09506000134352"),
    "epcis/examples/json-2.0/WithSensorData/SensorDataExample17.jsonld": (_DL, "09506000134352"),
}
# Examples whose Digital Links an admin's key does get in 1.2 all the same: an example captured before
# them in their repository stated the company prefix in an EPC URN, and the repository keeps it.
LEARNED = {
    "epcis/examples/json-2.0/WithDigitalLinkID/Example_9.6.1-ObjectEventWithDigitalLink.jsonld": "0614141",
    "epcis/examples/json-2.0/WithDigitalLinkID/Example_9.6.2-ObjectEventWithDigitalLink.jsonld": "0614141",
    "epcis/examples/json-2.0/WithDigitalLinkID/Example_9.6.3-AggregationEventWithDigitalLink.jsonld": "0614141",
    "epcis/examples/json-2.0/WithSensorData/SensorDataExample14.jsonld": "4012345",
    "epcis/examples/json-2.0/WithSensorData/SensorDataExample15.jsonld": "4012345",
    "epcis/examples/json-2.0/WithSensorData/SensorDataExample16.jsonld": "4012345",
    "epcis/examples/json-2.0/WithDigitalLinkID/Example_9.6.4-TransformationEventWithDigitalLink.jsonld": "0614141",
    "epcis/examples/xml-2.0/WithSensorData/SensorDataExamples.xml": "4012345",
}

# (example, answer format) → {event index: why the reference's two readers hash it differently}.
_BOOLEANS = "a boolean: the XML reader hashes `true`, the JSON reader Python's `True`"
_CBVMDA = "cbvmda: names: the XML reader binds them to CBV's XML namespace, the JSON reader leaves them as written"
_XSI = "xsi:type/xsi:nil annotations: the XML reader hashes them as data, JSON-LD has no such thing"
_CURIES = "CURIEs of the document's own prefixes in values: the JSON reader expands them, the XML reader does not"
_STANDARD_PREFIXES = "gs1:/cbv: CURIEs in values: the XML reader expands them, the JSON reader does not"
_ALL_FIELDS_XML = f"{_BOOLEANS}; {_XSI}"
READERS_DISAGREE: dict[tuple[str, str], dict[int, str]] = {
    ("dscsa/GS1_US_Pharma_Example_2_2_1_1.xml", JSON_LD): {0: _CBVMDA, 1: _CBVMDA},  # the commissionings' ILMD
    **{
        ("epcis/examples/xml-2.0/WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.xml", form): {
            0: _XSI,
            1: _XSI,
        }
        for form in (JSON_LD, XML_2_0, XML_1_2)
    },
    **{
        (f"epcis/examples/xml-2.0/WithEventHashID/event_with_identical_hash_id_{n}.xml", form): {
            0: _ALL_FIELDS_XML if form == JSON_LD else _XSI
        }
        for n in range(1, 7)
        for form in (JSON_LD, XML_2_0, XML_1_2)
    },
    **{
        (f"epcis/examples/xml-2.0/WithFullCombinationOfFields/{kind}_event_all_possible_fields.xml", form): {
            0: _ALL_FIELDS_XML if form == JSON_LD else _XSI
        }
        for kind in ("aggregation", "association", "object", "transaction", "transformation")
        for form in (JSON_LD, XML_2_0, XML_1_2)
    },
    **{
        ("epcis/examples/xml-2.0/WithExtension/TransformationEvent.xml", form): {0: _CURIES}
        for form in (JSON_LD, XML_2_0, XML_1_2)
    },
    **{
        ("epcis/examples/xml-2.0/WithSensorData/SensorDataExamples.xml", form): {
            5: _CURIES,
            6: _CURIES + "; " + _BOOLEANS if form == JSON_LD else _CURIES,
            9: _CURIES,
            11: _CURIES,
        }
        for form in (JSON_LD, XML_2_0, XML_1_2)  # 1.2: written since the repository learned 4012345
    },
    **{
        (f"epcis/examples/json-2.0/WithFullCombinationOfFields/{kind}_event_all_possible_fields.jsonld", form): {
            0: f"{_BOOLEANS}; {_STANDARD_PREFIXES}"
        }
        for kind in ("aggregation", "association", "object", "transaction")
        for form in (XML_2_0, XML_1_2)
    },
    **{
        (f"epcis/examples/json-2.0/WithSensorData/SensorDataExample{n}.jsonld", form): {0: why}
        for n, why in ((7, _BOOLEANS), (9, _STANDARD_PREFIXES), (12, f"{_BOOLEANS}; {_STANDARD_PREFIXES}"))
        for form in (XML_2_0, XML_1_2)
    },
}

# Examples the reference cannot hash, and the answer formats it cannot read either.
_UNTYPED = "IndexError: a bizTransaction without a type attribute, which its readers take apart"
REFERENCE_CANNOT_READ: dict[str, tuple[str, frozenset[str]]] = {
    "epcis/examples/xml-1.2/TransactionEvent.xml": (_UNTYPED, frozenset({JSON_LD, XML_2_0, XML_1_2})),
    "epcis/examples/xml-2.0/Example-TransactionEvent-2020_07_03y.xml": (
        _UNTYPED,
        frozenset({JSON_LD, XML_2_0, XML_1_2}),
    ),
    "epcis/examples/json-2.0/Example-TransactionEvents-2020_07_03y.jsonld": (
        _UNTYPED.replace("IndexError", "TypeError"),
        frozenset({JSON_LD, XML_2_0, XML_1_2}),
    ),
    # Its @context redefines cbvmda:, a protected term of the standard context, which the reference's
    # JSON reader (pyld) refuses; every answer it reads (the JSON-LD one has that prefix renamed cbvmda2).
    "epcis/examples/json-2.0/WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld": (
        "JsonLdError: tried to redefine a protected term (cbvmda)",
        frozenset(),
    ),
}

# Events whose eventID is not the reference's hash of the event served: (example) → {index: why}.
OWN_HASH_DIFFERS = {
    "epcis/examples/xml-2.0/WithFullCombinationOfFields/transformation_event_all_possible_fields.xml": {
        0: "an element's text beside its attributes (`#text`) is a key to event_hash, the element's value to the "
        "reference (libs/gs1/tests/test_epcis_xml.py: EVENT_HASH_TEXT_KEY)"
    },
}


# --- the reference implementation ---------------------------------------------------------------
Hashed = str | None  # an Event Hash ID, or None where the reference cannot read the event


def _hashes(pre_hashes: list[str]) -> list[str]:
    return list(hash_generator.calculate_hashes_from_pre_hashes(pre_hashes, "sha256"))


def reference_of_xml(text: str) -> list[Hashed] | None:
    """The reference's hashes of an EPCIS XML document's events (None: it cannot read the document)."""
    try:
        return list(
            _hashes(hash_generator.derive_prehashes_from_events(xml_to_py.event_list_from_epcis_document_str(text), ""))
        )
    except (IndexError, TypeError, KeyError):
        return None


def reference_of_json(context: Any, events: list[dict[str, Any]]) -> list[Hashed]:
    """The reference's hash of each JSON-LD event, read alone in an EPCISDocument of `context` (its
    reader keeps prefixes in a global: cleared for each)."""
    found: list[Hashed] = []
    for event in events:
        json_to_py._namespaces.clear()
        document = {"@context": context, "type": "EPCISDocument", "epcisBody": {"eventList": [event]}}
        try:
            read = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
            found += _hashes(hash_generator.derive_prehashes_from_events(read, ""))
        except Exception as error:  # the reference is prototypical: whatever it raises, it cannot read it
            if type(error).__name__ not in ("TypeError", "IndexError", "JsonLdError"):
                raise
            found.append(None)
    return found


# Put before the standard context, whose terms are protected: a later definition of cbvmda would be refused.
def as_xml_binds_it(context: Any, events: list[dict[str, Any]]) -> list[Hashed]:
    """JSON-LD events hashed by the JSON reader as the XML reader reads their XML: booleans as XML
    Schema spells them, the standard prefixes bound as in XML."""
    bound = [xml_bindings(context), *(context if isinstance(context, list) else [context])]
    return reference_of_json(bound, [xml_booleans(event) for event in events])


def as_json_ld_reads_it(xml: str) -> list[Hashed] | None:
    """An XML document hashed by the XML reader as JSON-LD reads it: no xsi:type/xsi:nil
    annotations, a CURIE of the document's own prefixes in an attribute value as its IRI."""
    root = etree.fromstring(xml.encode(), SAFE)
    for element in root.iter():
        for attribute, value in list(element.attrib.items()):
            if attribute in (f"{{{XSI}}}type", f"{{{XSI}}}nil"):
                del element.attrib[attribute]
                continue
            prefix, colon, local = value.partition(":")
            namespace = (
                element.nsmap.get(prefix) if colon and prefix not in ("gs1", "cbv", "urn", "http", "https") else None
            )
            if namespace is not None:
                element.set(attribute, namespace + local)
    return reference_of_xml(etree.tostring(root).decode())


def as_epcis_document(xml: bytes) -> str:
    """A query answer's events in an EPCISDocument (the reference reads those only)."""
    root = etree.fromstring(xml, SAFE)
    version = str(root.get("schemaVersion"))
    namespace = {"2.0": "urn:epcglobal:epcis:xsd:2", "1.2": "urn:epcglobal:epcis:xsd:1"}[version]
    events = etree.tostring(next(root.iter("EventList"))).decode()
    return (
        f'<epcis:EPCISDocument xmlns:epcis="{namespace}" schemaVersion="{version}" '
        f'creationDate="{root.get("creationDate")}"><EPCISBody>{events}</EPCISBody></epcis:EPCISDocument>'
    )


# --- the source -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """An official example: each event's reference hash (as its own format is read, and as the other
    format's reader would), and whether it declares an error."""

    path: Path
    hashes: list[Hashed] | None
    other_reader: list[Hashed] | None
    declares: list[bool]

    @property
    def is_xml(self) -> bool:
        return self.path.suffix == ".xml"

    @classmethod
    def of(cls, path: Path) -> Source:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".xml":
            root = etree.fromstring(text.encode(), SAFE)
            events = [e for e in root.iter(*EVENT_TYPES)]
            declares = [
                e.find("errorDeclaration") is not None or e.find("baseExtension/errorDeclaration") is not None
                for e in events
            ]
            return cls(path, reference_of_xml(text), as_json_ld_reads_it(text), declares)
        document = json.loads(text)
        body = document["epcisBody"]
        listed = body["eventList"] if "eventList" in body else body["queryResults"]["resultsBody"]["eventList"]
        hashes = reference_of_json(document["@context"], listed)
        readable = None if None in hashes else hashes
        bound = as_xml_binds_it(document["@context"], listed)
        return cls(path, readable, None if None in bound else bound, ["errorDeclaration" in e for e in listed])

    def served(self, refused: set[int]) -> list[int]:
        """The events a query for every event as last declared answers, in document order: not those
        refused, nor one declared in error by a declaration of the same document."""
        hashes = self.hashes or []
        declared = {hashes[i] for i, d in enumerate(self.declares) if d and i not in refused and i < len(hashes)}
        return [
            i
            for i in range(len(self.declares))
            if i not in refused and (self.declares[i] or i >= len(hashes) or hashes[i] not in declared)
        ]


# --- the service ------------------------------------------------------------------------------------
@asynccontextmanager
async def repository(database_dsn: str) -> AsyncIterator[Harness]:
    """EPCIS reporting alone, its events routed nowhere: what the services owning what they mean
    decide is tests/integration/test_official_examples.py's."""
    own = {"epcis_reporting": EpcisSettings(route_to=())}
    async with serve(database_dsn, [bootstrap.SERVICE], own_settings=own) as served:
        yield served


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((STANDARDS / "EPCIS-JSON-Schema.json").read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def xsds() -> dict[str, etree.XMLSchema]:
    files = {XML_2_0: "xsd-2.0/EPCglobal-epcis-query-2_0.xsd", XML_1_2: "xsd-1.2/EPCglobal-epcis-query-1_2.xsd"}
    return {form: etree.XMLSchema(etree.parse(str(STANDARDS / file), SAFE)) for form, file in files.items()}


@dataclass(frozen=True)
class Answers:
    """What the service answers for every event as last declared: per format, the reference's hash of
    each event served (and, for JSON-LD, as the XML reader would read it); 406s by format."""

    hashes: dict[str, list[Hashed] | None]
    other_reader: list[Hashed]
    event_ids: list[str]
    refused: dict[str, dict[str, Any]]


async def capture(client: httpx.AsyncClient, path: Path) -> httpx.Response:
    """The example as GS1 published it, byte for byte, under `proceed` (each event decided alone)."""
    media = "application/xml" if path.suffix == ".xml" else "application/ld+json"
    headers = {"Content-Type": media, "GS1-Capture-Error-Behaviour": "proceed"}
    return await client.post("/v1/epcis/capture", content=BODIES[path], headers=headers)


async def answers(
    client: httpx.AsyncClient,
    since: datetime,
    validator: jsonschema.Draft7Validator,
    xsds: dict[str, etree.XMLSchema],
) -> Answers:
    """Every event recorded `since`, as last declared, in each format."""
    every = {"EXISTS_errorDeclaration": "false", "perPage": "1000", "GE_recordTime": since.isoformat()}
    as_json = await client.get("/v1/epcis/events", params=every)
    assert as_json.status_code == 200, as_json.text
    document = as_json.json()
    assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)] == []
    events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    hashes: dict[str, list[Hashed] | None] = {JSON_LD: reference_of_json(document["@context"], events)}
    refused = {}
    for form, version in ((XML_2_0, "2.0"), (XML_1_2, "1.2")):
        headers = {"Accept": "application/xml", "GS1-EPCIS-Version": version}
        answer = await client.get("/v1/epcis/events", params=every, headers=headers)
        if answer.status_code == 406:
            refused[form] = answer.json()
            continue
        assert (answer.status_code, answer.headers["gs1-epcis-version"]) == (200, f"{version}.0"), answer.text
        root = etree.fromstring(answer.content, SAFE)
        assert xsds[form].validate(root), [f"{e.line}: {e.message}" for e in xsds[form].error_log]
        hashes[form] = reference_of_xml(as_epcis_document(answer.content))
    return Answers(hashes, as_xml_binds_it(document["@context"], events), [e["eventID"] for e in events], refused)


def refusals(job: dict[str, Any]) -> dict[int, tuple[int, str, str]]:
    return {p["eventIndex"]: (p["status"], p["errors"][0]["field"], p["errors"][0]["rule"]) for p in job["errors"]}


async def queried_back_losslessly(
    harness: Harness, path: Path, validator: jsonschema.Draft7Validator, xsds: dict[str, etree.XMLSchema]
) -> None:
    example = name(path)
    since = datetime.now(UTC)
    captured = await capture(harness.client, path)
    expected_refusals = REFUSED.get(example, {})
    if isinstance(expected_refusals, tuple):  # refused whole
        problem = captured.json()
        assert (captured.status_code, problem["errors"][0]["field"], problem["errors"][0]["rule"]) == expected_refusals
        return
    assert captured.status_code == 202, captured.text
    job = captured.json()
    assert (job["running"], refusals(job)) == (False, expected_refusals)
    source = Source.of(path)
    served = source.served(set(expected_refusals))
    answered = await answers(harness.client, since, validator, xsds)
    assert len(answered.event_ids) == len(served) == job["captured"] - _superseded(source, set(expected_refusals))

    _check_1_2_refusal(example, answered)
    cannot_read, unreadable_answers = REFERENCE_CANNOT_READ.get(example, ("", frozenset()))
    assert (source.hashes is None) == bool(cannot_read), example
    for form, hashes in answered.hashes.items():
        if form in unreadable_answers:
            assert hashes is None or None in hashes, (example, form)  # the pin is still needed
            continue
        assert hashes is not None, (example, form)
        assert None not in hashes, (example, form)
        if source.hashes is None:  # nothing to compare with: the versions agree with each other
            # (JSON-LD as the reference's XML reader reads it: its booleans, the standard prefixes bound as in XML)
            agreed = answered.other_reader if form == JSON_LD else hashes
            assert agreed == answered.hashes.get(XML_2_0), (example, form)
            continue
        _check_hashes(example, form, source, served, hashes, answered)
    _check_own_hashes(example, path, served, answered)


def _superseded(source: Source, refused: set[int]) -> int:
    return len([i for i in range(len(source.declares)) if i not in refused]) - len(source.served(refused))


def _check_1_2_refusal(example: str, answered: Answers) -> None:
    unknown = NOT_IN_1_2.get(example)
    if unknown is None:
        assert answered.refused == {}, example
        return
    assert list(answered.refused) == [XML_1_2], example
    (problem,) = answered.refused[XML_1_2]["errors"]
    assert problem["rule"] == "xml-writable"
    where, key = unknown
    assert problem["message"].startswith(f"{where}: the GS1 Company Prefix length of {key} is not known"), problem


def _check_hashes(
    example: str, form: str, source: Source, served: list[int], hashes: list[Hashed], answered: Answers
) -> None:
    """Each event served hashes as its source, but for the pinned reader disagreements: those differ,
    and the source read as the answer's reader reads its format gives the answer's hash."""
    assert source.hashes is not None
    disagree = READERS_DISAGREE.get((example, form), {})
    same_reader = source.is_xml == (form != JSON_LD)
    for position, index in enumerate(served):
        where = (example, form, index)
        if index not in disagree:
            assert hashes[position] == source.hashes[index], where
            continue
        assert hashes[position] != source.hashes[index], (*where, "pinned, but the readers agree")
        if same_reader:  # XML → XML: the source as the JSON-LD between them read it
            assert source.other_reader is not None
            assert hashes[position] == source.other_reader[index], where
        elif source.is_xml:  # XML → JSON-LD: the answer hashed as its XML would be
            assert source.other_reader is not None
            assert answered.other_reader[position] == source.other_reader[index], where
        else:  # JSON-LD → XML
            assert source.other_reader is not None
            assert hashes[position] == source.other_reader[index], where


def _check_own_hashes(example: str, path: Path, served: list[int], answered: Answers) -> None:
    """The eventID the repository gives an event it was sent without one is the CBV 2.0 Event Hash
    ID of what it serves, as the reference's JSON reader computes it (the one its hash follows)."""
    sent = _sent_ids(path)
    json_hashes = answered.hashes[JSON_LD]
    differs = OWN_HASH_DIFFERS.get(example, {})
    for position, index in enumerate(served):
        event_id = answered.event_ids[position]
        if index < len(sent) and sent[index] is not None:
            assert event_id == sent[index], (example, index)
        elif json_hashes is not None and json_hashes[position] is not None:
            assert (event_id == json_hashes[position]) is (index not in differs), (example, index)


def _sent_ids(path: Path) -> list[str | None]:
    if path.suffix == ".xml":
        root = etree.parse(str(path), SAFE).getroot()
        return [e.findtext("eventID") or e.findtext("baseExtension/eventID") for e in root.iter(*EVENT_TYPES)]
    body = json.loads(path.read_text())["epcisBody"]
    listed = body["eventList"] if "eventList" in body else body["queryResults"]["resultsBody"]["eventList"]
    return [e.get("eventID") for e in listed]


# --- the tests --------------------------------------------------------------------------------------
@pytest.mark.parametrize("examples", [*REPOSITORIES_1_2, *REPOSITORIES_2_0], ids=named_together)
async def test_the_1_2_and_2_0_examples_are_queried_back_in_both_with_their_event_hash_ids(
    database_dsn: str, examples: tuple[Path, ...], validator: Any, xsds: Any
) -> None:
    async with repository(database_dsn) as harness:
        for path in examples:
            await queried_back_losslessly(harness, path, validator, xsds)


# The companies the Digital Link examples name (in EPC URNs and Digital Links alike).
DIGITAL_LINK_COMPANIES = frozenset({"0614141", "0012345", "4012345", "4000001"})


async def test_digital_links_are_written_in_1_2_for_a_key_that_names_their_companies(
    database_dsn: str, validator: Any, xsds: Any
) -> None:
    """What an admin's key is refused in 1.2 (406 above), a key scoped to the examples' companies
    gets: its scope says where each company prefix ends. The same events, the same hashes."""
    assert len(repositories(DIGITAL_LINKS)) == 1
    async with repository(database_dsn) as harness:
        scope = Scope(company_prefixes=DIGITAL_LINK_COMPANIES)
        async with harness.client_with(await harness.token(Role.qa, scope)) as qa:
            for path in DIGITAL_LINKS:
                example = name(path)
                assert example in NOT_IN_1_2 or example in LEARNED
                since = datetime.now(UTC)
                captured = await capture(harness.client, path)
                assert (captured.status_code, captured.json()["errors"]) == (202, [])
                source = Source.of(path)
                assert source.hashes is not None
                answered = await answers(qa, since, validator, xsds)
                assert answered.refused == {}
                served = source.served(set())
                assert len(answered.event_ids) == len(served) > 0
                for form, hashes in answered.hashes.items():
                    assert hashes is not None
                    _check_hashes(example, form, source, served, hashes, answered)


def test_every_pin_names_an_example_covered() -> None:
    covered = {name(p) for p in (*SOURCES_1_2, *SOURCES_2_0)}
    pinned = {*REFUSED, *NOT_IN_1_2, *LEARNED, *(example for example, _ in READERS_DISAGREE), *REFERENCE_CANNOT_READ}
    assert pinned - covered == set()
    assert len(SOURCES_1_2) == 6
    assert len(SOURCES_2_0) == 47 + 30  # every JSON-LD example, the XML ones that hold events
    together = [path for examples in (*REPOSITORIES_1_2, *REPOSITORIES_2_0) for path in examples]
    assert sorted(together) == sorted((*SOURCES_1_2, *SOURCES_2_0))
