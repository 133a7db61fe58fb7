"""A whole EPCIS 2.0 JSON-LD document (as `serialtrail_gs1.epcis.document` renders it, or as a
partner sent it) as XML: its events, its @context, master data, sender/receiver and query
results go where EPCIS XML has them.

The document's own `id` (an IRI naming the JSON-LD document) has no place in EPCIS XML and is
not written; everything else is written or refused."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from serialtrail_gs1.epcis_xml_out.document import CHUNK_BYTES, Envelope, Header, QueryResults, write_document
from serialtrail_gs1.epcis_xml_out.epc_urn import CompanyPrefixes
from serialtrail_gs1.epcis_xml_out.errors import NotWritable
from serialtrail_gs1.epcis_xml_out.layouts import Version

_DOCUMENT_FIELDS = frozenset(
    {"@context", "id", "type", "schemaVersion", "creationDate", "instanceIdentifier", "sender", "receiver"}
    | {"epcisHeader", "epcisBody"}
)
_PARTIES = ("sender", "receiver", "instanceIdentifier")


def write_json_document(
    document: Mapping[str, Any],
    version: Version | str = Version.V2_0,
    *,
    company_prefixes: CompanyPrefixes | None = None,
    carry_2_0_only: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[bytes]:
    """An EPCISDocument or EPCISQueryDocument (JSON-LD, parsed) as EPCIS XML of `version`."""
    return write_document(
        events_of(document),
        envelope_of(document, version),
        company_prefixes=company_prefixes,
        carry_2_0_only=carry_2_0_only,
        chunk_bytes=chunk_bytes,
    )


def envelope_of(document: Mapping[str, Any], version: Version | str = Version.V2_0) -> Envelope:
    kind = document.get("type")
    if kind not in ("EPCISDocument", "EPCISQueryDocument"):
        raise NotWritable("document type", f"{kind!r} is not EPCISDocument or EPCISQueryDocument")
    unknown = sorted(set(document) - _DOCUMENT_FIELDS)
    if unknown:
        raise NotWritable(f"document {unknown[0]}", "EPCIS XML has no place for this document field")
    if "creationDate" not in document:
        raise NotWritable("document", "an EPCIS document needs its creationDate")
    return Envelope(
        creation_date=document["creationDate"],
        version=Version(version),
        context=document.get("@context"),
        vocabularies=_vocabularies(document),
        header=_header(document),
        query=_query(document) if kind == "EPCISQueryDocument" else None,
    )


def events_of(document: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    body = _object(document.get("epcisBody"), "epcisBody")
    if "queryResults" in body:
        results = _object(_object(body["queryResults"], "queryResults").get("resultsBody"), "resultsBody")
        if "vocabularyList" in results:
            raise NotWritable("resultsBody", "EPCIS XML query results hold events or vocabularies, not both")
        body = results
    events = body.get("eventList")
    if not isinstance(events, list):
        raise NotWritable("epcisBody", "expected an eventList")
    return events


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise NotWritable(where, f"expected an object, got {value!r}")
    return value


def _vocabularies(document: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    header = _object(document.get("epcisHeader", {}), "epcisHeader")
    if set(header) - {"epcisMasterData"}:
        raise NotWritable("epcisHeader", f"EPCIS XML has no place for {sorted(set(header) - {'epcisMasterData'})}")
    master_data = _object(header.get("epcisMasterData", {}), "epcisMasterData")
    vocabularies = master_data.get("vocabularyList", [])
    if not isinstance(vocabularies, list):
        raise NotWritable("epcisMasterData", "expected a vocabularyList")
    return vocabularies


def _header(document: Mapping[str, Any]) -> Header | None:
    """sender, receiver and instanceIdentifier are the XML Standard Business Document Header's,
    which needs all three."""
    given = [name for name in _PARTIES if name in document]
    if not given:
        return None
    if len(given) != len(_PARTIES):
        missing = ", ".join(name for name in _PARTIES if name not in document)
        raise NotWritable("document", f"the XML Standard Business Document Header needs {missing} too")
    return Header(str(document["sender"]), str(document["receiver"]), str(document["instanceIdentifier"]))


def _query(document: Mapping[str, Any]) -> QueryResults:
    results = _object(_object(document["epcisBody"], "epcisBody").get("queryResults"), "queryResults")
    name = results.get("queryName", "SimpleEventQuery")
    subscription = results.get("subscriptionID")
    return QueryResults(str(name), None if subscription is None else str(subscription))
