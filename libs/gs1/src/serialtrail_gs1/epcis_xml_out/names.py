"""JSON-LD names as XML names: a user extension `example:myField` of a document whose
`@context` declares `{"example": "http://ns.example.com/epcis/"}` is the element
`{http://ns.example.com/epcis/}myField`.

Prefixes come from the document's own `@context` first, then from the EPCIS 2.0 context. One
of those differs in XML on purpose: CBV master data attributes (`cbvmda:lotNumber` in ILMD) live
in the namespace `urn:epcglobal:cbv:mda` in EPCIS XML (CBV 1.2 and 2.0, and every official XML
example), while the JSON-LD context spells the same prefix `urn:epcglobal:cbv:mda:`.

Values: a CURIE of a prefix the document declares itself (`"ex:product"`) is written as the IRI
it stands for. XML has no CURIE mechanism for text, and the CBV 2.0 Event Hash ID (as the
reference implementation and `serialtrail_gs1.event_hash` compute it from JSON-LD) already
reads such a value as that IRI: written expanded, the XML event hashes as its source did."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from serialtrail_gs1.epcis_xml_out.errors import NotWritable
from serialtrail_gs1.epcis_xml_out.xmltext import quoted

CBV_MDA_XML = "urn:epcglobal:cbv:mda"
# The EPCIS 2.0 JSON-LD context's prefixes, as XML namespaces (cbvmda: see the module note).
STANDARD_PREFIXES: Mapping[str, str] = {
    "cbvmda": CBV_MDA_XML,
    "gs1": "https://gs1.org/voc/",
    "cbv": "https://ref.gs1.org/cbv/",
    "epcis": "https://ref.gs1.org/epcis/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}
# An XML 1.0 name without a colon (NCName), ASCII-only: what a prefix or local name may be.
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")
_RESERVED = ("xml", "xmlns")
_SCHEMES = ("urn:", "http://", "https://")
_REMEMBERED = 1024  # key sets whose declarations are kept per document


def declared_prefixes(context: Any) -> dict[str, str]:
    """The prefixes a JSON-LD `@context` declares as plain strings (`{"ex": "http://…/"}`);
    term definitions (`"rail:count": {"@type": …}`) and remote contexts are not prefixes."""
    declared: dict[str, str] = {}
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, Mapping):
            for prefix, namespace in entry.items():
                if isinstance(namespace, str) and namespace and _NCNAME.fullmatch(prefix):
                    declared[prefix] = namespace
    return declared


class XmlNames:
    """The XML namespaces of one document's JSON-LD prefixes."""

    def __init__(self, context: Any = None) -> None:
        self.declared = declared_prefixes(context)
        self.namespaces = {**STANDARD_PREFIXES, **self.declared}
        # ` xmlns:ex="…"` per usable prefix, formatted (and checked) once per document.
        self._declaration = {
            p: f" xmlns:{p}={quoted(ns, f'@context {p}')}"
            for p, ns in self.namespaces.items()
            if p.lower() not in _RESERVED
        }
        self._valid: set[str] = set()
        self._needed: dict[tuple[str, ...], str] = {}  # the events of a document repeat a few key sets

    def declarations(self, names: Iterable[str]) -> str:
        """The namespace declarations an element needs for its children (or attributes) named
        `names`: each element declares the prefixes of its own children (an event without
        extensions declares nothing). Names that do not resolve are left to `qualified`, which
        says why."""
        key = tuple(names)
        needed = self._needed.get(key)
        if needed is None:
            found = {name.partition(":")[0] for name in key if ":" in name}
            needed = "".join(self._declaration[p] for p in sorted(found) if p in self._declaration)
            if len(self._needed) < _REMEMBERED:
                self._needed[key] = needed
        return needed

    def qualified(self, name: str, where: str) -> str:
        """`prefix:local` as written, once checked: refused when the prefix is not declared (no
        namespace to write) or the local part is not an XML name."""
        if name not in self._valid:
            if not self._resolves(name):
                raise NotWritable(f"{where} {name}", self._why_not(name))
            self._valid.add(name)
        return name

    def _why_not(self, name: str) -> str:
        prefix, colon, _ = name.partition(":")
        if not colon:
            return "neither an EPCIS field here nor a namespaced (prefix:name) extension"
        if prefix not in self._declaration:
            return f"an extension field needs a namespace: the @context declares no prefix {prefix!r}"
        return "not an XML name after its prefix"

    def _resolves(self, name: str) -> bool:
        prefix, colon, local = name.partition(":")
        return bool(colon) and prefix in self._declaration and _NCNAME.fullmatch(local) is not None

    def inner(self, name: str, where: str) -> str:
        """A name inside an extension element: unqualified names are allowed there (the
        XSD's wildcard is processed laxly), prefixed ones must resolve."""
        if ":" not in name and _NCNAME.fullmatch(name):
            return name
        return self.qualified(name, where)

    def expand(self, value: str) -> str:
        """A CURIE of a prefix the document declares itself, as its IRI; any other text as is
        (URNs and web URIs never: their scheme is not a prefix, as the hash reads them)."""
        if not self.declared or value.startswith(_SCHEMES):
            return value
        prefix, colon, local = value.partition(":")
        namespace = self.declared.get(prefix) if colon else None
        return value if namespace is None else namespace + local
