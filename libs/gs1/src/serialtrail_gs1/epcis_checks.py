"""What an EPCIS 2.0 event captured from outside must be before anything of it is believed,
checked in layers, each naming the field and the rule it breaks:

1. the EPCIS 2.0 JSON Schema (the official file, formats asserted: times with their offset,
   URIs), which also holds the bare CBV words a field may take;
2. GS1 identifier syntax of every object it names (EPC URIs and GS1 Digital Links, check
   digits), read by the line parser, so one identifier reads the same whether a line scanned
   it or a document carried it;
3. CBV vocabulary written as a URI in the CBV's own namespace (`https://ref.gs1.org/cbv/…`),
   which the schema lets through, must name a CBV term.

What the current state says (issued, commissioned once, held, whose it is) is the capturing
service's business, not this module's: it only returns the keys each event names."""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import orjson
from epcpy.utils.common import ConvertException
from epcpy.utils.parsers import epc_pure_identity_to_scheme
from lxml import etree
from serialtrail_kit.errors import Rule, Violation

from serialtrail_gs1 import rules
from serialtrail_gs1.event_hash import digital_link
from serialtrail_gs1.identity import CANONICAL_RESOLVER, SGTIN, IdentifierError
from serialtrail_gs1.keys import check_digit, sgtin_of
from serialtrail_gs1.locations import SGLN_PREFIX, canonical_sgln
from serialtrail_gs1.scan import ScanError, digital_link_elements, parse_object_id, rule_of

SCHEMA_FILE = "EPCIS-JSON-Schema.json"  # official, byte for byte (gs1/EPCIS): package data, see standards/README.md
CONTEXT_FILE = "epcis-context.jsonld"  # official, as SCHEMA_FILE
MAX_SCHEMA_ERRORS = 5  # per event: the first few say what is wrong; a thousand say nothing more

EPCIS_SCHEMA = Rule(
    "epcis-schema",
    "the event validates against the EPCIS 2.0 JSON Schema (times with an offset, URIs, CBV words)",
    "eventList[0].bizStep",
    "'shipped' is not valid under any of the given schemas",
)
PROTECTED_TERM = Rule(
    "protected-term",
    "a @context (the document's or an event's) does not redefine a term of the EPCIS 2.0 context other than its "
    "prefixes (bizStep, ObjectEvent, epcList …): that context is @protected, JSON-LD processors refuse what "
    "redefines one, and no renaming would keep the event's meaning",
    "document.@context",
    "the @context binds 'bizStep' to 'https://example.com/step', not to {'@id': 'epcis:bizStep', ...}",
)
CONTEXT_DECLARATION = Rule(
    "context-declaration",
    "a document's @context is the EPCIS 2.0 context's URL and objects declaring prefixes "
    "({'ex': 'https://example.com/ns/'}) and type coercions of terms of one's own prefixes "
    "({'ex:id': {'@type': '@id'}}): no other remote context (never fetched), no keyword but @version 1.1 "
    "(@vocab, @language, @base, @import ...), no @context of an event's own or inside one. Answers gather "
    "many documents' events under one @context: what else a document declared would change how the others' "
    "events read",
    "document.@context",
    "'https://example.com/ctx.jsonld' is a remote context this server does not fetch",
)
EPCIS_DOCUMENT = Rule(
    "epcis-document",
    "the document (outside its events) validates against the EPCIS 2.0 schema: an EPCISDocument or "
    "EPCISQueryDocument with its @context, schemaVersion and creationDate",
    "document.schemaVersion",
    "'schemaVersion' is a required property",
)
CBV_TERM = Rule(
    "cbv-term",
    "a URI in the CBV's namespace (https://ref.gs1.org/cbv/…) names a CBV 2.0 term",
    "eventList[0].bizStep",
    "https://ref.gs1.org/cbv/BizStep-shipped is not a CBV 2.0 business step",
)

# Fields whose values are objects (EPCs), and where the class-level ones are.
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_CBV_URI = re.compile(r"^https?://ref\.gs1\.org/cbv/([A-Za-z]+)-(.*)\Z", re.DOTALL)
_PLAIN_SGTIN_URN = r"urn:epc:id:sgtin:\d{6,12}\.\d{1,7}\.[A-Za-z0-9_-]{1,20}"
_PLAIN_SGTIN_URNS = re.compile(rf"(?:{_PLAIN_SGTIN_URN}\n)*{_PLAIN_SGTIN_URN}")
_SGTIN_OR_SSCC = re.compile(r"^(urn:epc:id:(sgtin|sscc):|https?://[^/]+(/[^?#]*)?/(00/|01/[^/]+/21/))")
_GS1_LOOKING = re.compile(r"^(urn:epc:|https?://[^/]+(/[^?#]*)?/(00|01|253|255|414|417|8003|8004|8006|8010)/)")


@dataclass
class Keys:
    """The GS1 keys an event names: the GTINs of its units and classes, its SSCCs, and the
    company prefixes of what only names one (other EPC schemes, as URIs)."""

    gtins: set[str] = field(default_factory=set)
    ssccs: set[str] = field(default_factory=set)
    company_prefixes: set[str] = field(default_factory=set)
    unowned: set[str] = field(default_factory=set)  # valid, but whose it is cannot be told
    read_point: tuple[str, str] | None = None  # (GLN, extension) of an SGLN read point
    biz_location: tuple[str, str] | None = None  # (GLN, extension) of an SGLN business location
    serials: dict[str, set[str]] = field(default_factory=dict)  # GTIN → serials named


@dataclass(frozen=True)
class Checked:
    """One event after the checks: what it breaks (empty: nothing) and what it names."""

    index: int
    violations: tuple[Violation, ...]
    keys: Keys


@functools.cache
def _schema() -> dict[str, Any]:
    text = importlib.resources.files("serialtrail_gs1").joinpath("standards", "epcis", SCHEMA_FILE).read_bytes()
    schema: dict[str, Any] = orjson.loads(text)
    return schema


@functools.cache
def _event_validator() -> Any:
    """The schema's own definition of an event in a document, formats asserted."""
    schema = _schema()
    event_schema = {"$ref": "#/definitions/EPCIS-Document-Event", "definitions": schema["definitions"]}
    return jsonschema_rs.Draft7Validator(event_schema, validate_formats=True)


@functools.cache
def _document_validator() -> Any:
    return jsonschema_rs.Draft7Validator(_schema(), validate_formats=True)


@functools.cache
def cbv_terms() -> dict[str, frozenset[str]]:
    """The CBV words by URI type (`BizStep`, `Disp`, `BTT`, `SDT`, `ER`), as the schema lists them."""
    definitions = _schema()["definitions"]

    def words(name: str) -> frozenset[str]:
        return frozenset(next(a["enum"] for a in definitions[name]["anyOf"] if "enum" in a))

    return {
        "BizStep": words("bizStep"),
        "Disp": words("disposition"),
        "BTT": words("bizTransaction-type"),
        "SDT": words("source-dest-type"),
        "ER": words("error-reason"),
    }


DOCUMENT_TYPES = ("EPCISDocument", "EPCISQueryDocument")


def envelope_violations(envelope: dict[str, Any]) -> list[Violation]:
    """The document without its events against the document schema (its header, context, type).
    The schema also takes a lone event; a document to capture holds its events in a list."""
    if envelope.get("type") not in DOCUMENT_TYPES:
        given = envelope.get("type")
        stated = "missing" if given is None else f"{given!r}"[:100]
        message = f"the document's type is {stated}, not one of {', '.join(DOCUMENT_TYPES)}"
        return [EPCIS_DOCUMENT.at("document.type", message)]
    return [
        EPCIS_DOCUMENT.at(_path(error.instance_path, "document"), error.message)
        for error in _limited(_document_validator().iter_errors(envelope))
    ] + context_violations(envelope.get("@context"), "document.@context")


@functools.cache
def _standard_terms() -> dict[str, Any]:
    text = importlib.resources.files("serialtrail_gs1").joinpath("standards", "epcis", CONTEXT_FILE).read_bytes()
    context: dict[str, Any] = orjson.loads(text)["@context"]
    return {term: definition for term, definition in context.items() if not term.startswith("@")}


@functools.cache
def standard_prefixes() -> dict[str, str]:
    """The prefixes the EPCIS 2.0 context binds (cbvmda, gs1, cbv …) to their namespaces."""
    return {
        term: iri
        for term, iri in _standard_terms().items()
        if isinstance(iri, str) and iri.startswith(("http://", "https://", "urn:"))
    }


# The EPCIS 2.0 context, at its URL and at the address an official example still names.
STANDARD_CONTEXTS = (
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    "https://gs1.github.io/EPCIS/epcis-context.jsonld",
)
_IRI = ("http://", "https://", "urn:")


def context_violations(context: Any, at: str) -> list[Violation]:
    """What a captured document's @context declares beyond what its events can be answered with
    among others' (`CONTEXT_DECLARATION`), and the EPCIS context's terms it redefines."""
    items = context if isinstance(context, list) else [context]
    declared = {
        term: iri
        for item in items
        if isinstance(item, dict)
        for term, iri in item.items()
        if ":" not in term and _prefix_problem(term, iri) is None
    }
    found = []
    declarations = sum(len(item) for item in items if isinstance(item, dict))
    if declarations > MOST_DECLARATIONS or len(orjson.dumps(context)) > MOST_CONTEXT_BYTES:
        found.append(f"at most {MOST_DECLARATIONS} declarations, {MOST_CONTEXT_BYTES} bytes written out")
    for item in items:
        if isinstance(item, str):
            if item not in STANDARD_CONTEXTS:
                found.append(f"{item[:100]!r} is a remote context this server does not fetch: declare prefixes inline")
        elif isinstance(item, dict):
            found += [why for term, definition in item.items() if (why := _undeclarable(term, definition, declared))]
        else:
            found.append("an item of @context is the EPCIS 2.0 context's URL or an object of prefixes")
    problems = [CONTEXT_DECLARATION.at(at, why) for why in found]
    return (problems + redefined_terms(context, at))[:MAX_SCHEMA_ERRORS]


# URI schemes of the identifiers events hold: a prefix of that name would read every such identifier
# of an answer (urn:epc:…, https://id.gs1.org/…, ni:///…) as a compact IRI of the document's namespace.
URI_SCHEMES = frozenset({"urn", "http", "https", "ni", "tag", "mailto", "file", "ftp", "data", "did", "uuid"})
MOST_DECLARATIONS, MOST_CONTEXT_BYTES = 64, 8192  # every answer holding the document's events carries them
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,99}")
_CLEAN_IRI = re.compile(r"(?:https?://|urn:)[!-~]{1,2000}")  # printable ASCII, no space: what an XML namespace takes


def reserved_prefix(name: str) -> bool:
    """Whether a document's own prefix may not take `name`: a term of the EPCIS context, a URI
    scheme, or a name XML reserves (xml…)."""
    return name in _standard_terms() or name.lower() in URI_SCHEMES or name.lower().startswith("xml")


@functools.lru_cache(maxsize=4096)
def usable_namespace(iri: str) -> bool:
    """Whether `iri` can be a prefix's namespace in JSON-LD and in XML alike: absolute, printable,
    and a URI libxml2 takes as a namespace (it refuses `urn:%zz%`, `http://[::1`)."""
    if _CLEAN_IRI.fullmatch(iri) is None or any(c in iri for c in '<>"{}|\\^`'):
        return False
    try:
        etree.fromstring(f'<a xmlns:p="{iri.replace("&", "&amp;")}"/>'.encode())
    except etree.XMLSyntaxError:
        return False
    return True


def _prefix_problem(term: str, iri: Any) -> str | None:
    if not _NCNAME.fullmatch(term):
        return f"{term[:40]!r} is no prefix: a letter or _, then letters, digits, . _ - (at most 100)"
    if term.lower() in URI_SCHEMES:
        return f"{term[:40]!r} is a URI scheme: as a prefix, every {term}: identifier of an answer would change meaning"
    if term.lower().startswith("xml"):
        return f"{term[:40]!r}: XML reserves names starting with xml; no XML answer could declare it"
    if term in standard_prefixes():
        return None  # bound elsewhere: renamed where its events are answered (and the IRI checked below)
    if not isinstance(iri, str) or not usable_namespace(iri):
        return f"{term[:40]!r} is declared as a prefix: its namespace IRI (http, https or urn; printable, no space)"
    return None


def _undeclarable(term: str, definition: Any, declared: dict[str, Any]) -> str | None:
    if term == "@version" and definition == 1.1:  # JSON-LD 1.1, as the EPCIS context itself: changes nothing
        return None
    if term.startswith("@"):
        return f"{term[:40]} is not taken: it would change how other documents' events read where they are answered"
    prefix, colon, local = term.partition(":")
    if not colon:
        problem = _prefix_problem(term, definition)
        if problem is None and term in standard_prefixes() and not usable_namespace(str(definition)):
            return f"{term[:40]!r} is declared as a prefix: its namespace IRI (http, https or urn; printable, no space)"
        return problem
    if prefix in standard_prefixes():
        return f"{term[:100]!r} is a term of the EPCIS 2.0 context's vocabulary: it is not redefined"
    if prefix in declared and _NCNAME.fullmatch(local) and _coercion(definition):
        return None
    return (
        f"{term[:100]!r}: a term of a prefix the document declares takes a type coercion, "
        "{'@type': '@id' | '@vocab' | 'xsd:<type>' | an absolute IRI}, nothing else"
    )


def _coercion(definition: Any) -> bool:
    if not isinstance(definition, dict) or set(definition) != {"@type"} or not isinstance(definition["@type"], str):
        return False
    given: str = definition["@type"]
    xsd = given.startswith("xsd:") and _NCNAME.fullmatch(given[4:]) is not None
    return given in ("@id", "@vocab") or xsd or usable_namespace(given)


def undeclared_prefixes(event: dict[str, Any], context: Any, at: str) -> list[Violation]:
    """Keys of a prefix neither the document's @context nor the EPCIS context declares: they name
    no namespace (no XML element can be written of them), and another document's prefix of that
    name would give them its meaning."""
    declared = set(_standard_terms())
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, dict):
            declared.update(term for term in item if ":" not in term)
    message = "the key's prefix is declared by neither the document's @context nor the EPCIS context"
    return [CONTEXT_DECLARATION.at(where, message) for where in _prefixed_keys(event, declared, at)][:MAX_SCHEMA_ERRORS]


def _prefixed_keys(value: Any, declared: set[str], at: str) -> list[str]:
    """Where a key of a prefix not in `declared` is, in `value` (an absolute IRI key is no prefix's)."""
    if isinstance(value, dict):
        inner = [(f"{at}.{key[:100]}", v) for key, v in value.items()]
        here = [where for (where, _), key in zip(inner, value, strict=True) if _undeclared(key, declared)]
    elif isinstance(value, list):
        here, inner = [], [(f"{at}[{i}]", v) for i, v in enumerate(value)]
    else:
        return []
    return here + [
        path for where, v in inner if isinstance(v, dict | list) for path in _prefixed_keys(v, declared, where)
    ]


def _undeclared(key: str, declared: set[str]) -> bool:
    prefix, colon, rest = key.partition(":")  # a URN or URL key is an absolute IRI, no prefix's
    return bool(colon) and not rest.startswith("//") and prefix not in declared and prefix.lower() not in URI_SCHEMES


_NOT_XML_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_KEYWORD_ALIASES = frozenset({"id", "type"})  # the EPCIS context's aliases of @id and @type


def extension_violations(event: dict[str, Any], at: str) -> list[Violation]:
    """What an extension (a key of one's own prefix, wherever it is) holds that no answer could
    carry: a JSON-LD keyword or its alias inside it (a processor refuses every answer holding the
    event), a name that is no XML name, text XML 1.0 cannot hold (every XML answer would be 406)."""
    found = [CONTEXT_DECLARATION.at(where, why) for where, why in _extension_problems(event, at, inside=False)]
    return found[:MAX_SCHEMA_ERRORS]


def _extension_problems(value: Any, at: str, *, inside: bool) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            where = f"{at}.{key[:100]}"
            extension = ":" in key and key.partition(":")[0].lower() not in URI_SCHEMES
            if (inside or extension) and (why := _extension_key_problem(key, inner)) is not None:
                yield where, why
                continue
            yield from _extension_problems(inner, where, inside=inside or extension)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _extension_problems(inner, f"{at}[{index}]", inside=inside)
    elif inside and isinstance(value, str) and _NOT_XML_TEXT.search(value):
        yield at, "holds a character XML 1.0 cannot (a control character, U+FFFE …)"


def _extension_key_problem(key: str, inner: Any) -> str | None:
    if key == "#text":  # an XML element's text beside its attributes
        return None if isinstance(inner, str | int | float | bool) else "#text holds text, nothing else"
    if key.startswith("@") or key in _KEYWORD_ALIASES:
        return f"{key[:40]!r} is a JSON-LD keyword (or the EPCIS context's alias of one): not inside an extension"
    prefix, colon, local = key.partition(":")
    if not _NCNAME.fullmatch(local if colon else prefix) or (colon and not _NCNAME.fullmatch(prefix)):
        return f"{key[:100]!r} is no XML name (a letter or _, then letters, digits, . _ -)"
    return None


def event_context_violations(event: dict[str, Any], at: str) -> list[Violation]:
    """An event's own @context, or one inside it: answered among others' events, it is not kept."""
    own = event.get("@context")
    kept = own is None or own in STANDARD_CONTEXTS or own == [STANDARD_CONTEXTS[0]]
    found = ([] if kept else [f"{at}.@context"]) + _nested_contexts(
        {k: v for k, v in event.items() if k != "@context"}, at
    )
    message = "an event's own @context (or one inside it) is not kept: declare prefixes in the document's @context"
    return [CONTEXT_DECLARATION.at(where, message) for where in found[:MAX_SCHEMA_ERRORS]]


def _nested_contexts(value: Any, at: str) -> list[str]:
    """Where a @context is inside `value` (an event's fields): its paths."""
    if isinstance(value, dict):
        here = [f"{at}.@context"] if "@context" in value else []
        inner = [(f"{at}.{key}", v) for key, v in value.items() if isinstance(v, dict | list)]
    elif isinstance(value, list):
        here, inner = [], [(f"{at}[{i}]", v) for i, v in enumerate(value) if isinstance(v, dict | list)]
    else:
        return []
    return here + [path for where, v in inner for path in _nested_contexts(v, where)]


def redefined_terms(context: Any, at: str) -> list[Violation]:
    """The terms of the (protected) EPCIS 2.0 context, other than its prefixes, that `context`
    binds otherwise (`bizStep`, `ObjectEvent` …: no renaming keeps such a document's meaning). A
    prefix bound otherwise (an official example binds cbvmda to a namespace of its own) is taken,
    and renamed where the document's events are answered."""
    standard, prefixes = _standard_terms(), standard_prefixes()
    return [
        PROTECTED_TERM.at(at, f"the @context binds {term[:100]!r} to {definition!r:.100}, not to {standard[term]!r}")
        for item in (context if isinstance(context, list) else [context])
        if isinstance(item, dict)
        for term, definition in item.items()
        if term in standard and term not in prefixes and definition != standard[term]
    ][:MAX_SCHEMA_ERRORS]


def check_event(index: int, event: Any, where: str = "eventList") -> Checked:
    at = f"{where}[{index}]"
    schema = [
        EPCIS_SCHEMA.at(_path(error.instance_path, at), _explained(error))
        for error in _limited(_event_validator().iter_errors(event))
    ]
    keys = Keys()
    if schema:  # the later layers read fields the schema vouches for
        return Checked(index, tuple(schema), keys)
    found = [*_identifier_violations(event, at, keys), *_vocabulary_violations(event, at)]
    found += event_context_violations(event, at) + extension_violations(event, at)
    return Checked(index, tuple(found), keys)


_TIME = "a date-time with its offset, e.g. 2026-11-30T09:15:00.000+01:00"
_WORD = "a CBV 2.0 {} as its bare word (e.g. {}) or a URI of a vocabulary of one's own (CBV 1.2 URNs are not EPCIS 2.0)"
# What a field takes, said with the schema's own message, which alone names no fix.
_EXPECTED = {
    "eventTime": _TIME,
    "recordTime": _TIME,
    "eventTimeZoneOffset": "its offset as +hh:mm or -hh:mm",
    "bizStep": _WORD.format("business step", "commissioning"),
    "disposition": _WORD.format("disposition", "active"),
    "action": "ADD, OBSERVE or DELETE",
}


def _explained(error: Any) -> str:
    field = next((part for part in reversed(list(error.instance_path)) if isinstance(part, str)), None)
    expected = _EXPECTED.get(field) if field is not None else None
    return f"{error.message}; expected {expected}" if expected else str(error.message)


def _limited(errors: Iterator[Any]) -> Iterator[Any]:
    for count, error in enumerate(errors):
        if count == MAX_SCHEMA_ERRORS:
            return
        yield error


def _path(parts: Any, at: str = "") -> str:
    path = at
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _identifier_violations(event: dict[str, Any], at: str, keys: Keys) -> Iterator[Violation]:
    for name in _EPC_LISTS:
        epcs = event.get(name) or ()
        if _plain_sgtin_urns(epcs, keys):
            continue
        for position, epc in enumerate(epcs):
            yield from _object(epc, f"{at}.{name}[{position}]", keys)
    if isinstance(event.get("parentID"), str):
        yield from _object(event["parentID"], f"{at}.parentID", keys)
    for name in _QUANTITY_LISTS:
        for position, element in enumerate(event.get(name) or ()):
            yield from _class(element["epcClass"], f"{at}.{name}[{position}].epcClass", keys)
    yield from _places(event, at, keys)


def _places(event: dict[str, Any], at: str, keys: Keys) -> Iterator[Violation]:
    """Where it happened, and the parties and places it came from and went to."""
    for name in ("readPoint", "bizLocation"):
        place = (event.get(name) or {}).get("id")
        if isinstance(place, str):
            found, problem = _place(place, f"{at}.{name}.id")
            yield from problem
            if name == "readPoint":
                keys.read_point = found
            else:
                keys.biz_location = found
    for name in ("sourceList", "destinationList"):
        for position, element in enumerate(event.get(name) or ()):
            yield from _gs1_key(element.get(name[:-4]), f"{at}.{name}[{position}].{name[:-4]}")


def _plain_sgtin_urns(epcs: Any, keys: Keys) -> bool:
    """An EPC list of SGTIN URNs with plain serials, as lines send them by the hundred: checked in
    one pass in C, each GTIN worked out once (True), or left to the one-by-one reading (False)."""
    if not epcs or not all(isinstance(epc, str) for epc in epcs):
        return False
    joined = "\n".join(epcs)
    if joined.count("\n") != len(epcs) - 1 or _PLAIN_SGTIN_URNS.fullmatch(joined) is None:
        return False
    found: dict[str, set[str]] = {}
    for epc in epcs:
        gtin, serial = _plain_sgtin(epc)
        if gtin is None:
            return False
        found.setdefault(gtin, set()).add(serial)
    for gtin, serials in found.items():
        keys.gtins.add(gtin)
        keys.serials.setdefault(gtin, set()).update(serials)
    return True


def _plain_sgtin(urn: str) -> tuple[str | None, str]:
    """(GTIN or None when prefix and item are not 13 digits, serial) of an SGTIN URN known to be
    `_PLAIN_SGTIN_URN`'s shape: no escapes, no '.' in its serial."""
    prefix, item, serial = urn[len("urn:epc:id:sgtin:") :].split(".", 2)
    return sgtin_of(prefix, item), serial


def _object(text: str, at: str, keys: Keys) -> Iterator[Violation]:
    try:
        found = parse_object_id(text)
    except IdentifierError as error:
        if _SGTIN_OR_SSCC.match(text):  # one of ours, wrong: named by the rule it breaks
            yield rule_of(error).at(at, f"{text!r}: {error}")
            return
        yield from _other_key(text, at, keys, error)
        return
    if found.kind is SGTIN:
        assert found.gtin is not None
        assert found.serial is not None
        keys.gtins.add(found.gtin)
        keys.serials.setdefault(found.gtin, set()).add(found.serial)
    else:
        assert found.sscc is not None
        keys.ssccs.add(found.sscc)


def place_of(text: str) -> tuple[str, str] | None:
    """(GLN, extension) of an SGLN URI or a GS1 Digital Link of a location; None for anything else."""
    return _place(text, "")[0]


def _place(text: str, at: str) -> tuple[tuple[str, str] | None, list[Violation]]:
    """(GLN, extension) of a location named by an SGLN URI or a GS1 Digital Link (/414/…/254/…),
    or the problem with it; a private location id is taken as written."""
    if text[:16].lower() == SGLN_PREFIX:
        found = canonical_sgln(text)
        if found is None:
            return None, [rules.EPC_URI.at(at, f"{text!r}: not a valid SGLN pure identity URI")]
        return (found[1], found[2]), []
    if _GS1_LOOKING.match(text) or "/414/" in text:
        try:
            elements = digital_link_elements(text)
        except ScanError as error:
            return None, [error.rule.at(at, f"{text!r}: {error}")]
        if "414" in elements:
            return (elements["414"], elements.get("254", "0")), []
    return None, []


def _gs1_key(text: Any, at: str) -> Iterator[Violation]:
    """A source's or destination's party or location: GS1 identifiers in either form checked."""
    if not isinstance(text, str):
        return
    if text.startswith("urn:epc:id:"):
        try:
            epc_pure_identity_to_scheme(text)
        except (ConvertException, ValueError) as error:
            yield rules.EPC_URI.at(at, f"{text!r}: not a valid EPC pure identity URI ({error})")
    elif _GS1_LOOKING.match(text) or re.search(r"/(414|417)/", text):
        try:
            digital_link_elements(text)
        except ScanError as error:
            yield error.rule.at(at, f"{text!r}: {error}")


def _class(text: str, at: str, keys: Keys) -> Iterator[Violation]:
    """A class of objects (a GTIN, or a GTIN and lot): EPC class URIs or Digital Links."""
    if text.startswith("urn:epc:class:lgtin:") or text.startswith("urn:epc:idpat:sgtin:"):
        parts = text.split(":", 4)[4].split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() and len(parts[0] + parts[1]) == 13:
            body = parts[1][0] + parts[0] + parts[1][1:]
            keys.gtins.add(body + str(check_digit(body)))
            return
        yield rules.EPC_URI.at(at, f"{text!r}: not a valid LGTIN class or SGTIN pattern URI")
        return
    yield from _other_key(text, at, keys, None)  # a Digital Link /01/{gtin}[/10/{lot}] among them


def _other_key(text: str, at: str, keys: Keys, first: IdentifierError | None) -> Iterator[Violation]:
    """An identifier other than an SGTIN or SSCC: another EPC scheme, another GS1 key's Digital
    Link, or a private URI (EPCIS allows those; whose it is cannot be told)."""
    if text.startswith("urn:epc:"):
        try:
            epc_pure_identity_to_scheme(text)
        except (ConvertException, ValueError) as error:
            yield rules.EPC_URI.at(at, f"{text!r}: not a valid EPC pure identity URI ({error})")
            return
        # Every GS1 scheme's URI starts its value with the company prefix (TDS §6.3).
        keys.company_prefixes.add(text.split(":", 4)[4].split(".", 1)[0])
        return
    if _GS1_LOOKING.match(text):
        try:
            elements = digital_link_elements(text)
        except ScanError as error:
            yield error.rule.at(at, f"{text!r}: {error}")
            return
        if "01" in elements:
            keys.gtins.add(elements["01"])
        else:
            keys.unowned.add(text)
        return
    if first is not None and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text):
        yield rule_of(first).at(at, f"{text!r}: {first}")
        return
    keys.unowned.add(text)


def _vocabulary_violations(event: dict[str, Any], at: str) -> Iterator[Violation]:
    terms = cbv_terms()
    for path, value in _vocabulary_values(event, at):
        match = _CBV_URI.match(value)
        if match is None:
            continue
        kind, word = match.groups()
        if kind in terms and word not in terms[kind]:
            yield CBV_TERM.at(path, f"{value} is not a CBV 2.0 term ({kind}-…)")


def _vocabulary_values(event: dict[str, Any], at: str) -> Iterator[tuple[str, str]]:
    for name in ("bizStep", "disposition"):
        if isinstance(event.get(name), str):
            yield f"{at}.{name}", event[name]
    persistent = event.get("persistentDisposition") or {}
    for name in ("set", "unset"):
        for position, value in enumerate(persistent.get(name) or ()):
            yield f"{at}.persistentDisposition.{name}[{position}]", value
    for name in ("bizTransactionList", "sourceList", "destinationList"):
        for position, element in enumerate(event.get(name) or ()):
            if isinstance(element.get("type"), str):
                yield f"{at}.{name}[{position}].type", element["type"]
    declaration = event.get("errorDeclaration") or {}
    if isinstance(declaration.get("reason"), str):
        yield f"{at}.errorDeclaration.reason", declaration["reason"]


_PLAIN_SGTIN_URN_ALONE = re.compile(rf"{_PLAIN_SGTIN_URN}\Z")
_CBV_URN_WORD = re.compile(r"^urn:epcglobal:cbv:(bizstep|disp|er):(.+)\Z")
_URN_KINDS = {"bizstep": "BizStep", "disp": "Disp", "er": "ER"}


def moment(text: str) -> datetime:
    """An EPCIS date-time as a datetime: RFC 3339 allows `t` and `z` in either case, which Python's
    parser does not. Raises ValueError for what is not one, OverflowError for what UTC cannot hold
    (year 1 with a positive offset, year 9999 with a negative one)."""
    when = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    when.astimezone(UTC)  # the Event Hash ID and every query compare instants in UTC
    return when


def canonical_epc(text: str) -> str:
    """One form per object, whatever form it was written in: an SGTIN's or SSCC's canonical GS1
    Digital Link; any other identifier as written. An EPC URN query then finds a Digital Link."""
    if _PLAIN_SGTIN_URN_ALONE.match(text):  # the common case, without the full parser
        gtin, serial = _plain_sgtin(text)
        if gtin is not None:
            return f"{CANONICAL_RESOLVER}/01/{gtin}/21/{serial}"
    try:
        return parse_object_id(text).uri
    except IdentifierError:
        return text


_BATCH_LINK = re.compile(rf"{re.escape(CANONICAL_RESOLVER)}/01/[0-9]{{14}}/10/[^/]+")
# The spellings of a CBV master data attribute's name (`cbvmda:lotNumber` …), one place for every reader.
MDA_PREFIXES = ("cbvmda:", "urn:epcglobal:cbv:mda:", "https://ref.gs1.org/cbv/mda/", "https://gs1.org/voc/")


def canonical_batch(text: str) -> str | None:
    """A class that is one batch (an LGTIN: `urn:epc:class:lgtin:…` or a Digital Link with a GTIN
    and a lot) as its canonical Digital Link; None for any other class (a GTIN alone, a pattern)."""
    link = digital_link(text)
    return link if _BATCH_LINK.fullmatch(link) else None


@functools.lru_cache(maxsize=4096)  # a document names few batches, each for thousands of serials
def batch_link(gtin: str, lot: str) -> str:
    """A batch as `canonical_batch` names it."""
    return digital_link(f"{CANONICAL_RESOLVER}/01/{gtin}/10/{quote(lot, safe='')}")


def ilmd_lot(event: dict[str, Any]) -> str | None:
    """The lot an event's ILMD names (`cbvmda:lotNumber` under any of its spellings), if exactly one."""
    ilmd = event.get("ilmd")
    if not isinstance(ilmd, dict):
        return None
    given = {ilmd[p + "lotNumber"] for p in (*MDA_PREFIXES, "") if isinstance(ilmd.get(p + "lotNumber"), str)}
    return given.pop() if len(given) == 1 else None


def cbv_word(value: str | None, kind: str) -> str | None:
    """A CBV term as its bare word (`commissioning`), whether written bare, as a CBV 2.0 URI or as
    a CBV 1.2 URN; any other value (a vocabulary of one's own) as written."""
    if value is None:
        return None
    match = _CBV_URI.match(value)
    if match is not None and match.group(1) == kind:
        return match.group(2)
    urn = _CBV_URN_WORD.match(value)
    if urn is not None and _URN_KINDS[urn.group(1)] == kind:
        return urn.group(2)
    return value
