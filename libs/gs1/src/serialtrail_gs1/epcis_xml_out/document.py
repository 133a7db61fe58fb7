"""The document around the events: `EPCISDocument` or `EPCISQueryDocument`, its header (a
Standard Business Document Header, master data) and its body, handed out as chunks of bytes
while the events are read. Only one event's XML and one chunk exist at a time, so a query
answer of a million events costs the memory of one event and a chunk.

The header is written before the first byte: a refusal there (1.2 master data without a
Standard Business Document Header, an identifier 1.2 cannot name) comes before any output. A
refusal of an event comes when the stream reaches it; a caller that must not send a partial
document writes into a buffer first (or checks the events first: they are small)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from serialtrail_gs1.epcis_xml_out.context import Context, Out, as_given, leaf
from serialtrail_gs1.epcis_xml_out.epc_urn import CompanyPrefixes, EpcUrns
from serialtrail_gs1.epcis_xml_out.errors import NotWritable
from serialtrail_gs1.epcis_xml_out.events import EventWriter
from serialtrail_gs1.epcis_xml_out.layouts import Version
from serialtrail_gs1.epcis_xml_out.master_data import identifiers, vocabulary_list
from serialtrail_gs1.epcis_xml_out.names import XmlNames
from serialtrail_gs1.epcis_xml_out.vocabulary import date_time_stamp
from serialtrail_gs1.epcis_xml_out.xmltext import escaped

EPCIS_NAMESPACES = {Version.V2_0: "urn:epcglobal:epcis:xsd:2", Version.V1_2: "urn:epcglobal:epcis:xsd:1"}
QUERY_NAMESPACES = {Version.V2_0: "urn:epcglobal:epcis-query:xsd:2", Version.V1_2: "urn:epcglobal:epcis-query:xsd:1"}
SBDH = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Header:
    """The Standard Business Document Header: who sends the document, to whom, under which id.
    EPCIS 1.2 requires one wherever there is an EPCISHeader (master data travels in it)."""

    sender: str
    receiver: str
    instance_identifier: str


@dataclass(frozen=True)
class QueryResults:
    """Makes the document an EPCISQueryDocument answering `query_name` (for a subscription)."""

    query_name: str = "SimpleEventQuery"
    subscription_id: str | None = None


@dataclass(frozen=True)
class Envelope:
    """Everything about a document but its events."""

    creation_date: str | datetime
    version: Version = Version.V2_0
    context: Any = None  # the JSON-LD @context: the namespaces of the events' extensions
    vocabularies: Sequence[Mapping[str, Any]] = ()  # epcisHeader.epcisMasterData.vocabularyList
    header: Header | None = None
    query: QueryResults | None = None


def write_document(
    events: Iterable[Mapping[str, Any]],
    envelope: Envelope,
    *,
    company_prefixes: CompanyPrefixes | None = None,
    carry_2_0_only: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[bytes]:
    """EPCIS XML of `envelope.version` for EPCIS 2.0 JSON-LD `events`, in chunks of about
    `chunk_bytes`. For 1.2: `company_prefixes` turn Digital Links into EPC URNs (EPC URNs in the
    master data add theirs); `carry_2_0_only` carries what only 2.0 has as extension elements
    (see `layouts`), else it is refused (`NotIn12`)."""
    version = Version(envelope.version)
    context = _context(envelope, version, company_prefixes)
    writer = EventWriter(context, version, carry_2_0_only)
    pending, size = [_opening(envelope, version, context)], 0
    for index, event in enumerate(events):
        written = writer.xml(event, index)
        pending.append(written)
        size += len(written)
        if size >= chunk_bytes:
            yield "".join(pending).encode()
            pending.clear()
            size = 0
    pending.append(_closing(envelope))
    yield "".join(pending).encode()


def _context(envelope: Envelope, version: Version, company_prefixes: CompanyPrefixes | None) -> Context:
    names = XmlNames(envelope.context)
    if version == Version.V2_0:
        return Context(names, as_given)
    known = (company_prefixes or CompanyPrefixes()).learned_from(identifiers(envelope.vocabularies))
    return Context(names, EpcUrns(known))


def _root(envelope: Envelope) -> str:
    return "epcis:EPCISDocument" if envelope.query is None else "epcisq:EPCISQueryDocument"


def _opening(envelope: Envelope, version: Version, context: Context) -> str:
    """Everything before the first event: declaration, root, header, body up to the EventList."""
    created = envelope.creation_date
    created_text = date_time_stamp(created.isoformat() if isinstance(created, datetime) else created, "creationDate")
    if envelope.query is None:
        declarations = f' xmlns:epcis="{EPCIS_NAMESPACES[version]}"'
    else:
        declarations = f' xmlns:epcisq="{QUERY_NAMESPACES[version]}"'
    if envelope.header is not None:
        declarations += f' xmlns:sbdh="{SBDH}"'
    out: Out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<{_root(envelope)}{declarations} schemaVersion="{version.value}" creationDate="{created_text}">',
    ]
    _epcis_header(out, envelope, version, created_text, context)
    out.append("<EPCISBody>")
    if envelope.query is not None:
        out.append("<epcisq:QueryResults>")
        leaf(out, "queryName", envelope.query.query_name, "query")
        if envelope.query.subscription_id is not None:
            leaf(out, "subscriptionID", envelope.query.subscription_id, "query")
        out.append("<resultsBody>")
    out.append("<EventList>")
    return "".join(out)


def _closing(envelope: Envelope) -> str:
    query = "" if envelope.query is None else "</resultsBody></epcisq:QueryResults>"
    return f"</EventList>{query}</EPCISBody></{_root(envelope)}>\n"


def _epcis_header(out: Out, envelope: Envelope, version: Version, created: str, context: Context) -> None:
    if envelope.header is None and not envelope.vocabularies:
        return
    if envelope.header is None and version == Version.V1_2:
        raise NotWritable(
            "header",
            "EPCIS 1.2 carries master data in an EPCISHeader, which must hold a Standard Business "
            "Document Header: pass the sender, receiver and instance identifier",
        )
    out.append("<EPCISHeader>")
    if envelope.header is not None:
        _sbdh(out, envelope.header, envelope, version, created, context)
    if envelope.vocabularies:
        out.append("<extension><EPCISMasterData>")
        out.append(vocabulary_list(envelope.vocabularies, context))
        out.append("</EPCISMasterData></extension>")
    out.append("</EPCISHeader>")


def _sbdh(out: Out, header: Header, envelope: Envelope, version: Version, created: str, context: Context) -> None:
    """As the GS1 US DSCSA guideline's examples write it: GS1 identifiers of both parties,
    standard `EPCglobal`, the type naming what the document is (events, a query answer)."""
    out.append("<sbdh:StandardBusinessDocumentHeader><sbdh:HeaderVersion>1.0</sbdh:HeaderVersion>")
    for tag, party in (("Sender", header.sender), ("Receiver", header.receiver)):
        identifier = context.identifier(party, f"header {tag.lower()}")
        out.append(f'<sbdh:{tag}><sbdh:Identifier Authority="GS1">')
        out.append(f"{escaped(identifier, 'header')}</sbdh:Identifier></sbdh:{tag}>")
    out.append("<sbdh:DocumentIdentification><sbdh:Standard>EPCglobal</sbdh:Standard>")
    leaf(out, "sbdh:TypeVersion", "1.0" if version == Version.V1_2 else version.value, "header")
    leaf(out, "sbdh:InstanceIdentifier", header.instance_identifier, "header instance identifier")
    leaf(out, "sbdh:Type", _document_type(envelope.query), "header")
    leaf(out, "sbdh:CreationDateAndTime", created, "header")
    out.append("</sbdh:DocumentIdentification></sbdh:StandardBusinessDocumentHeader>")


def _document_type(query: QueryResults | None) -> str:
    if query is None:
        return "Events"
    return "QueryCallback" if query.subscription_id is not None else "QueryControl-Response"
