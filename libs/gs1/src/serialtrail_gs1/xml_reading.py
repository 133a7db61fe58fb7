"""For the tests that compare Event Hash IDs with the reference implementation's: a JSON-LD event
as its XML reader reads the event's XML. Booleans are spelled as XML Schema spells them (the
reference's JSON reader writes Python's `True`), and the standard context's prefixes are bound as
XML binds them, which the reference's JSON reader leaves as written: cbvmda: is CBV's XML namespace
(`<cbvmda:lotNumber>` is `{urn:epcglobal:cbv:mda}lotNumber` to any XML reader), and gs1: and cbv:
CURIEs in values are the web vocabulary they abbreviate (GS1's XML examples write
`type="gs1:Temperature"`, the reference's XML reader expands them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serialtrail_gs1.epcis_xml_out.names import CBV_MDA_XML, declared_prefixes

XML_BINDINGS = {"cbvmda": CBV_MDA_XML, "gs1": "https://gs1.org/voc/", "cbv": "https://ref.gs1.org/cbv/"}


def xml_booleans(value: Any) -> Any:
    """`value` with its booleans as XML Schema spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return {key: xml_booleans(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [xml_booleans(inner) for inner in value]
    return value


def xml_bindings(context: Any) -> dict[str, str]:
    """The standard prefixes as XML binds them, but those `context` declares itself."""
    declared = declared_prefixes(context)
    return {prefix: namespace for prefix, namespace in XML_BINDINGS.items() if prefix not in declared}
