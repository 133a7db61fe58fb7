"""EPCIS 2.0 JSON-LD events (as `serialtrail_gs1.epcis` renders what the services record, or as
the official examples write them) as EPCIS XML, 2.0 or 1.2, streamed in chunks of bytes.

    write_document(events, Envelope(creation_date=now, version=Version.V1_2, header=Header(…)),
                   company_prefixes=CompanyPrefixes.of({"9506000"}))
    write_json_document(document, "2.0")

What changes between the bindings, and why:
- structure: the XSDs' element order and names (`fields`, `layouts`); in 1.2 what 1.0 lacked
  sits in `extension` elements, and what only 2.0 has (AssociationEvent, sensor data,
  persistent dispositions, certification info) is carried where the EPCIS 2.0 work group put
  it for 1.2 readers, or refused (`carry_2_0_only=False`, `NotIn12`);
- CBV terms as URNs (`vocabulary`); user extensions, ILMD and master data attributes as
  namespaced elements (`names`, `extensions`, `master_data`);
- 1.2 only: GS1 Digital Links as EPC URNs, by company prefixes the caller or the master data
  state (`epc_urn`); a link nothing covers is refused (`UnknownCompanyPrefix`).
Nothing that identifies an event is lost: the tests check that the CBV 2.0 Event Hash ID of
the XML (computed by the reference implementation) is that of the JSON-LD source, read with
the bindings XML gives booleans and the standard prefixes (`cbvmda:` is `urn:epcglobal:cbv:mda`
in XML) where the reference's own JSON and XML readers disagree."""

from __future__ import annotations

from serialtrail_gs1.epcis_xml_out.document import Envelope, Header, QueryResults, write_document
from serialtrail_gs1.epcis_xml_out.epc_urn import CompanyPrefixes
from serialtrail_gs1.epcis_xml_out.errors import NotIn12, NotWritable, UnknownCompanyPrefix
from serialtrail_gs1.epcis_xml_out.json_document import envelope_of, events_of, write_json_document
from serialtrail_gs1.epcis_xml_out.layouts import Version

__all__ = [
    "CompanyPrefixes",
    "Envelope",
    "Header",
    "NotIn12",
    "NotWritable",
    "QueryResults",
    "UnknownCompanyPrefix",
    "Version",
    "envelope_of",
    "events_of",
    "write_document",
    "write_json_document",
]
