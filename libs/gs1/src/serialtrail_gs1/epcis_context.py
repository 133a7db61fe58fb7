"""What a captured document may declare in its @context, and hold in its events, so that its
events can be answered among other documents' under one @context (a query answer), in JSON-LD and
in XML, without changing how those others read: the EPCIS 2.0 context's URL, plain prefixes, type
coercions of one's own terms; extensions of XML names and XML text, with no JSON-LD keyword."""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterator
from typing import Any

import orjson
from lxml import etree
from serialtrail_kit.errors import Rule, Violation

CONTEXT_FILE = "epcis-context.jsonld"  # official, byte for byte (gs1/EPCIS): package data, see standards/README.md
MOST_PROBLEMS = 5  # per document or event: the first few say what is wrong

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
    return (problems + redefined_terms(context, at))[:MOST_PROBLEMS]


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
    return [CONTEXT_DECLARATION.at(where, message) for where in _prefixed_keys(event, declared, at)][:MOST_PROBLEMS]


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
_OWN_CONTEXT = "an event's own @context (or one inside it) is not kept: declare prefixes in the document's @context"


def event_shape_violations(event: dict[str, Any], at: str) -> list[Violation]:
    """What an event holds that no answer among others' events could carry: a @context of its
    own or one inside it (it is not kept), and in an extension (a key of one's own prefix,
    wherever it is) a JSON-LD keyword or its alias (a processor refuses every answer holding the
    event), a name that is no XML name, text XML 1.0 cannot hold (every XML answer would be 406)."""
    own = event.get("@context")
    kept = own is None or own in STANDARD_CONTEXTS or own == [STANDARD_CONTEXTS[0]]
    found = [] if kept else [(f"{at}.@context", _OWN_CONTEXT)]
    found += _shape_problems({k: v for k, v in event.items() if k != "@context"}, at, inside=False)
    return [CONTEXT_DECLARATION.at(where, why) for where, why in found[:MOST_PROBLEMS]]


def _shape_problems(value: Any, at: str, *, inside: bool) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            where = f"{at}.{key[:100]}"
            extension = ":" in key and key.partition(":")[0].lower() not in URI_SCHEMES
            if (why := _key_problem(key, inner, in_extension=inside or extension)) is not None:
                yield where, why
                continue
            yield from _shape_problems(inner, where, inside=inside or extension)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _shape_problems(inner, f"{at}[{index}]", inside=inside)
    elif inside and isinstance(value, str) and _NOT_XML_TEXT.search(value):
        yield at, "holds a character XML 1.0 cannot (a control character, U+FFFE …)"


def _key_problem(key: str, inner: Any, *, in_extension: bool) -> str | None:
    if key == "@context":
        return _OWN_CONTEXT
    return _extension_key_problem(key, inner) if in_extension else None


def _extension_key_problem(key: str, inner: Any) -> str | None:
    if key == "#text":  # an XML element's text beside its attributes
        return None if isinstance(inner, str | int | float | bool) else "#text holds text, nothing else"
    if key.startswith("@") or key in _KEYWORD_ALIASES:
        return f"{key[:40]!r} is a JSON-LD keyword (or the EPCIS context's alias of one): not inside an extension"
    prefix, colon, local = key.partition(":")
    if not _NCNAME.fullmatch(local if colon else prefix) or (colon and not _NCNAME.fullmatch(prefix)):
        return f"{key[:100]!r} is no XML name (a letter or _, then letters, digits, . _ -)"
    return None


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
    ][:MOST_PROBLEMS]
