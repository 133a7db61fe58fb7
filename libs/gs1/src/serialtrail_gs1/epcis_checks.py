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
from serialtrail_kit.errors import Rule, Violation

from serialtrail_gs1 import rules
from serialtrail_gs1.epcis_context import context_violations, event_shape_violations
from serialtrail_gs1.event_hash import digital_link
from serialtrail_gs1.identity import CANONICAL_RESOLVER, SGTIN, IdentifierError
from serialtrail_gs1.keys import check_digit, sgtin_of
from serialtrail_gs1.locations import SGLN_PREFIX, canonical_sgln
from serialtrail_gs1.scan import ScanError, digital_link_elements, parse_object_id, rule_of

SCHEMA_FILE = "EPCIS-JSON-Schema.json"  # official, byte for byte (gs1/EPCIS): package data, see standards/README.md
MAX_SCHEMA_ERRORS = 5  # per event: the first few say what is wrong; a thousand say nothing more

EPCIS_SCHEMA = Rule(
    "epcis-schema",
    "the event validates against the EPCIS 2.0 JSON Schema (times with an offset, URIs, CBV words)",
    "eventList[0].bizStep",
    "'shipped' is not valid under any of the given schemas",
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
    found += event_shape_violations(event, at)
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
