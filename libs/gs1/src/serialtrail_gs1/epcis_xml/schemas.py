"""The official EPCIS XSDs (shipped in `serialtrail_gs1/standards/epcis/xsd-1.2|xsd-2.0`, byte for
byte as GS1 publishes them) and how the reader validates against them while streaming.

libxml2 can validate a whole document as it is parsed, but its errors then carry only a line, and
a line does not name an event (a document on one line has all its events on line 1) nor lets the
reader go on with the next event. So the reader validates each event on its own, against the
event's own type in the official schema (a small schema of ours imports the official one and
declares each event type as a global element), and the rest of the document (root, header,
everything around the events) once the events have been taken out. Together that is the same
check as validating the document at once: the official schemas have no identity constraints that
span events."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

STANDARDS = Path(__file__).resolve().parent.parent / "standards" / "epcis"

EPCIS_1 = "urn:epcglobal:epcis:xsd:1"
EPCIS_2 = "urn:epcglobal:epcis:xsd:2"
MASTER_DATA_1 = "urn:epcglobal:epcis-masterdata:xsd:1"
MASTER_DATA_2 = "urn:epcglobal:epcis-masterdata:xsd:2"


@dataclass(frozen=True)
class Version:
    """One EPCIS XML version: its namespaces, its schema files, the events its EventList holds."""

    name: str  # "1.2" or "2.0"
    namespace: str
    master_data_namespace: str
    folder: str
    document_xsd: str
    master_data_xsd: str
    event_types: tuple[str, ...]  # allowed directly in the EventList (1.2: also TransformationEvent, wrapped)


V1_2 = Version(
    "1.2",
    EPCIS_1,
    MASTER_DATA_1,
    "xsd-1.2",
    "EPCglobal-epcis-1_2.xsd",
    "EPCglobal-epcis-masterdata-1_2.xsd",
    ("ObjectEvent", "AggregationEvent", "QuantityEvent", "TransactionEvent"),
)
V2_0 = Version(
    "2.0",
    EPCIS_2,
    MASTER_DATA_2,
    "xsd-2.0",
    "EPCglobal-epcis-2_0.xsd",
    "EPCglobal-epcis-masterdata-2_0.xsd",
    ("ObjectEvent", "AggregationEvent", "TransformationEvent", "TransactionEvent", "AssociationEvent"),
)
VERSIONS = {V1_2.namespace: V1_2, V2_0.namespace: V2_0}
MASTER_DATA_VERSIONS = {V1_2.master_data_namespace: V1_2, V2_0.master_data_namespace: V2_0}
# Every event type either version knows (1.2 wraps TransformationEvent and, for 2.0 events sent
# in a 1.2 document, AssociationEvent in <extension> elements).
ALL_EVENT_TYPES = (*V1_2.event_types, "TransformationEvent", "AssociationEvent")


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str


def _xsd_path(version: Version, file: str) -> Path:
    return STANDARDS / version.folder / file


def _load(document: etree._Element) -> etree.XMLSchema:
    return etree.XMLSchema(document)


def _parse_schema_file(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(path), parser).getroot()


def _events_schema_text(version: Version) -> str:
    """Our schema: the official one imported, each event type a global element of no namespace
    (EPCIS event elements are unqualified), so one event can be validated on its own."""
    location = _xsd_path(version, version.document_xsd).as_uri()
    names = dict.fromkeys((*version.event_types, "TransformationEvent"))
    elements = "".join(f'<xsd:element name="{name}" type="epcis:{name}Type"/>' for name in names)
    return (
        f'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:epcis="{version.namespace}">'
        f'<xsd:import namespace="{version.namespace}" schemaLocation="{location}"/>{elements}</xsd:schema>'
    )


class Schemas:
    """The compiled schemas of one version. lxml keeps a schema's error log on the schema object,
    so each thread compiles its own (`for_version`): two captures never read each other's errors."""

    def __init__(self, version: Version) -> None:
        self.version = version
        self.document = _load(_parse_schema_file(_xsd_path(version, version.document_xsd)))
        self.master_data = _load(_parse_schema_file(_xsd_path(version, version.master_data_xsd)))
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        self.events = _load(etree.fromstring(_events_schema_text(version).encode(), parser))

    def check(self, schema: etree.XMLSchema, element: etree._Element) -> list[Problem]:
        if schema.validate(element):
            return []
        return [Problem(entry.line or None, entry.message) for entry in schema.error_log]


_local = threading.local()


def for_version(version: Version) -> Schemas:
    cache: dict[str, Schemas] = _local.__dict__.setdefault("schemas", {})
    if version.name not in cache:
        cache[version.name] = Schemas(version)
    return cache[version.name]
