"""XML values as the EPCIS 2.0 JSON-LD binding writes them: CBV vocabulary as the bare words the
standard @context scopes to each field, numbers and booleans as JSON numbers and booleans, and
the XML namespaces of extension elements as JSON-LD prefixes declared in the document's @context."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any, cast

from lxml import etree

from serialtrail_gs1.epcis_context import reserved_prefix, usable_namespace
from serialtrail_gs1.event_hash import (
    BIZ_STEP,
    BIZ_TRANSACTION_TYPE,
    COMPONENT,
    DISPOSITION,
    MEASUREMENT_TYPE,
    SENSOR_EXCEPTION,
    SOURCE_DESTINATION_TYPE,
)

STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
_XSI_TYPE = f"{{{XSI}}}type"
_XSI_NIL = f"{{{XSI}}}nil"
GS1_VOC = "https://gs1.org/voc/"
CBV = "https://ref.gs1.org/cbv/"

# --- CBV vocabulary ----------------------------------------------------------------------------------
_ERROR_REASONS = {word: f"{CBV}ER-{word}" for word in ("did_not_occur", "incorrect_data")}
# Field → (its CBV 1.x URN infix, its CBV 2.0 web URI prefix, the words the @context knows)
_CBV_FIELDS: dict[str, tuple[str, str, Mapping[str, str]]] = {
    "bizStep": ("bizstep", "BizStep-", BIZ_STEP),
    "disposition": ("disp", "Disp-", DISPOSITION),
    "bizTransactionType": ("btt", "BTT-", BIZ_TRANSACTION_TYPE),
    "sourceDestType": ("sdt", "SDT-", SOURCE_DESTINATION_TYPE),
    "errorReason": ("er", "ER-", _ERROR_REASONS),
}
_CBV_URN = re.compile(r"urn:epcglobal:cbv:([a-z]+):(\w+)")
_CBV_WEB = re.compile(r"https://ref\.gs1\.org/cbv/([A-Za-z]+-)(\w+)")


@functools.lru_cache(maxsize=4096)  # a document repeats a handful of steps and dispositions
def cbv_word(field: str, text: str) -> str:
    """`urn:epcglobal:cbv:bizstep:shipping` or `https://ref.gs1.org/cbv/BizStep-shipping` → `shipping`
    when the word is one the standard @context defines for the field; anything else (a private
    vocabulary URI, a word CBV does not define) as written: it is a URI, valid as such."""
    urn_infix, web_prefix, words = _CBV_FIELDS[field]
    match = _CBV_URN.fullmatch(text)
    if match is not None and match[1] == urn_infix and match[2] in words:
        return match[2]
    match = _CBV_WEB.fullmatch(text)
    if match is not None and match[1] == web_prefix and match[2] in words:
        return match[2]
    return text


# Sensor attributes whose values are GS1 Web Vocabulary or CBV terms: written `gs1:Temperature` in
# XML (a prefix the standard fixes), a bare `Temperature` in JSON-LD.
_SENSOR_TERMS: dict[str, tuple[str, Mapping[str, str]]] = {
    "type": (GS1_VOC, MEASUREMENT_TYPE),
    "exception": (GS1_VOC, SENSOR_EXCEPTION),
    "component": (CBV + "Comp-", COMPONENT),
}
_FIXED_PREFIXES = {"gs1:": GS1_VOC, "cbv:": CBV}


def sensor_term(field: str, text: str) -> str:
    """A sensor vocabulary value: the bare word when the @context knows it; a `gs1:`/`cbv:` term it
    does not know as the full URI (those two prefixes mean the same in every EPCIS XML document);
    anything else as written."""
    base, words = _SENSOR_TERMS[field]
    for prefix, namespace in _FIXED_PREFIXES.items():
        if text.startswith(prefix):
            text = namespace + text[len(prefix) :]
            break
    if text.startswith(base) and text[len(base) :] in words:
        return text[len(base) :]
    return text


# --- typed values ------------------------------------------------------------------------------------
_INTEGER = re.compile(r"[+-]?\d+")
_INTEGER_TYPES = frozenset(
    {"integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger", "negativeInteger"}
    | {"nonPositiveInteger", "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte"}
)
_DECIMAL_TYPES = frozenset({"decimal", "double", "float"})


def number(text: str) -> int | float | str:
    """An XSD decimal or double as a JSON number (an integer when written as one); text that is no
    finite number is kept (the XSD check names it where the schema types it)."""
    text = text.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def boolean(text: str) -> bool | str:
    text = text.strip()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    return text


def tag_of(element: etree._Element) -> str:
    """`{namespace}local` or `local`: a parsed element's tag is a string (lxml's stubs also allow the
    other forms a tag can be *set* from)."""
    return cast(str, element.tag)


def text_of(element: etree._Element) -> str:
    return (element.text or "").strip()


def typed_text(element: etree._Element) -> Any:
    """An extension element's text, typed by its `xsi:type` when it names an XSD number or boolean
    (`<ext1:int xsi:type="xsd:integer">10</ext1:int>` → 10); otherwise the text, a string."""
    if element.get(_XSI_NIL) in ("true", "1"):
        return None
    text = text_of(element)
    declared = element.get(_XSI_TYPE)
    if declared is None:
        return text
    prefix, _, local = declared.rpartition(":")
    if element.nsmap.get(prefix or None) != XSD:
        return text
    if local in _INTEGER_TYPES:
        return number(text)
    if local in _DECIMAL_TYPES:
        value = number(text)
        return float(value) if isinstance(value, int) else value
    if local == "boolean":
        return boolean(text)
    return text


def is_xsi(name: str) -> bool:
    """xsi attributes (type, nil, schemaLocation) annotate the XML; they are not data."""
    return name.startswith("{" + XSI + "}")


# --- namespaces → JSON-LD prefixes -------------------------------------------------------------------
# XML namespaces the standard @context already names: never redeclared (the context protects them).
_STANDARD_PREFIXES = {
    "urn:epcglobal:cbv:mda": "cbvmda",
    "urn:epcglobal:cbv:mda:": "cbvmda",
    GS1_VOC: "gs1",
    CBV: "cbv",
}


class UnusableNamespace(ValueError):
    """An extension's XML namespace no JSON-LD prefix can stand for (relative, a keyword, spaces)."""

    def __init__(self, namespace: str) -> None:
        super().__init__(
            f"the namespace {namespace[:100]!r} is no absolute IRI (http, https or urn; printable, no space): "
            "an EPCIS 2.0 JSON-LD prefix cannot stand for it"
        )


class Prefixes:
    """The JSON-LD prefix of every XML namespace the events' keys use, as the document wrote it
    where it can (`example:myField` stays `example:myField`), and the @context that declares them.
    The namespace is kept exactly as the XML declares it (`http://ns.example.com/epcis`, no "/"
    added): the key `{namespace}myField` is what the event's identity is made of (CBV 2.0 §8.9)."""

    def __init__(self) -> None:
        self._by_namespace: dict[str, str] = {}
        self._declared: dict[str, str] = {}
        self._context: list[Any] = [STANDARD_CONTEXT]

    @property
    def context(self) -> list[Any]:
        """The @context for the events read so far; a new list whenever a prefix is added, so the
        context an event was given stays what it was."""
        return self._context

    def key(self, qualified_name: str, written_prefix: str | None) -> str:
        """`{namespace}local` (lxml's tag or attribute name) → `prefix:local`; no namespace → `local`."""
        if not qualified_name.startswith("{"):
            return qualified_name
        namespace, _, local = qualified_name[1:].partition("}")
        prefix = self._by_namespace.get(namespace)
        if prefix is None:
            prefix = self._declare(namespace, written_prefix)
        return f"{prefix}:{local}"

    def _declare(self, namespace: str, written_prefix: str | None) -> str:
        prefix = _STANDARD_PREFIXES.get(namespace)
        if prefix is None:
            if not usable_namespace(namespace):
                raise UnusableNamespace(namespace)
            prefix = self._free(written_prefix or "ns")
            self._declared[prefix] = namespace
            self._context = [STANDARD_CONTEXT, dict(self._declared)]
        self._by_namespace[namespace] = prefix
        return prefix

    def _free(self, wanted: str) -> str:
        """The prefix as written, unless the standard context owns it or another namespace of this
        document took it first (the same prefix may be bound to two namespaces in two places)."""
        candidate, number = wanted, 1
        while reserved_prefix(candidate) or candidate in self._declared:  # a standard term, a URI scheme
            number += 1
            candidate = f"{wanted}{number}"
        return candidate


def prefix_of(element: etree._Element, qualified_name: str) -> str | None:
    """The prefix the document itself uses for a namespace where `element` is (a hint only)."""
    if not qualified_name.startswith("{"):
        return None
    namespace = qualified_name[1:].partition("}")[0]
    for prefix, bound in element.nsmap.items():
        if bound == namespace and prefix:
            return prefix
    return None
