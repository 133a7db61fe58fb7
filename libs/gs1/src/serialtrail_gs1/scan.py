"""What a line's scanner, vision system or CMO sends, read into the object it names plus every
other Application Identifier it carried (lot, expiry, national reimbursement numbers …).

Accepted forms: raw scanner data with a symbology identifier (`]d2` GS1 DataMatrix, `]C1`
GS1-128, `]Q3` GS1 QR Code, `]e0` GS1 DataBar, `]J1` GS1 DotCode; `]d1`/`]Q1` carrying a
Digital Link URI), element strings with GS (FNC1) separators and AIs in any order, HRI with
AIs in parentheses, GS1 Digital Link URIs (any resolver host, any case of scheme and host,
key qualifiers in the path, attributes in the query), EPC pure identity and tag URIs, and
plain 18-digit SSCCs. GS1's AI table, check digits and formats come from `biip`; our rules
on top: an unknown AI, a wrong check digit, AIs GS1 forbids together or a missing associated
AI, two values for one AI, and anything that could be read two ways are refused with the AI
and the rule named, never guessed.

HRI follows GS1's bracketed syntax: a `(` inside a value must be escaped as `\\(`. So
`(21)12345(17)271231` is serial 12345 with expiry 2027-12-31, and `(21)A(B` is refused."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import NamedTuple

from biip import ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message
from epcpy.utils.parsers import tag_uri_to_tag_encodable
from serialtrail_kit.errors import Rule

from serialtrail_gs1 import rules
from serialtrail_gs1.ai_rules import broken_rule
from serialtrail_gs1.identity import (
    SGTIN,
    IdentifierError,
    ObjectId,
    plain_sgtin,
    quick_object,
    sgtin_object,
    sscc_object,
)
from serialtrail_gs1.keys import gtin_problem

GS = "\x1d"
GS1_SYMBOLOGIES = {
    "]d2": "GS1 DataMatrix",
    "]C1": "GS1-128",
    "]Q3": "GS1 QR Code",
    "]e0": "GS1 DataBar",
    "]J1": "GS1 DotCode",
}
URI_SYMBOLOGIES = {"]d1": "DataMatrix", "]Q1": "QR Code"}  # plain symbologies: a Digital Link URI
KEY_AIS = frozenset({"00", "01", "21"})
DATE_AIS = frozenset({"11", "12", "13", "15", "16", "17"})  # YYMMDD
_SGTIN96_SERIAL = re.compile(r"\.(0|[1-9]\d{0,11})\Z")  # TDS: numeric, at most 274877906943
_HRI_AI = re.compile(r"(?<!\\)\((\d{2,4})\)")
# The shape most pharmaceutical DataMatrix codes carry: GTIN, expiry, lot, serial; the lot in
# GS1's character set 82, the serial in characters a Digital Link needs no escaping for (any
# other serial takes the full parser).
_COMMON = re.compile(
    r"^\]d2\x1d?(01(\d{14})17(\d{6})10([!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}))\x1d21([A-Za-z0-9._-]{1,20})$"
)


class ScanError(IdentifierError):
    """A scan refused: `rule` names the GS1 rule, `ai` the Application Identifier, if one."""

    def __init__(self, rule: Rule, message: str, ai: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.ai = ai


def rule_of(error: IdentifierError) -> Rule:
    """The GS1 rule an identifier broke (`gs1-check-digit`, `gs1-ambiguous` …), else `gs1-identifier`."""
    return error.rule if isinstance(error, ScanError) else rules.IDENTIFIER


_NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})


class Scan(NamedTuple):
    """A named tuple, as `ObjectId` is: a line sends them by the hundred thousand."""

    object: ObjectId
    attributes: Mapping[str, str] = _NO_ATTRIBUTES  # AI → value (read-only)
    form: str = "identifier"  # what it was read from: a symbology's name, "HRI", "GS1 Digital Link" …

    @property
    def lot(self) -> str | None:
        return self.attributes.get("10")

    @property
    def expiry(self) -> date | None:
        value = self.attributes.get("17")
        return None if value is None else gs1_date(value)


@functools.lru_cache(maxsize=4096)
def gs1_date(yymmdd: str, ai: str = "17") -> date:
    """A GS1 YYMMDD date: the century from GS1's sliding window, and day 00 meaning the last
    day of the month (GS1 General Specifications §7.12)."""
    try:
        parsed = GS1ElementString.extract(f"{ai}{yymmdd}").date
    except ParseError:
        parsed = None
    if parsed is None:
        raise ScanError(rules.DATE, f"{yymmdd!r} in AI ({ai}) is not a date (YYMMDD; day 00: the month's last)", ai)
    return parsed


def parse_object_id(text: str) -> ObjectId:
    """The object any accepted form names (its other AIs dropped); raises ScanError."""
    try:
        quick = quick_object(text)  # first: a pallet's thousands of canonical ids skip the rest
    except IdentifierError:
        quick = None
    return quick[0] if quick is not None else parse_scan(text).object


def parse_scan(text: str) -> Scan:
    """Read any accepted form; raises ScanError naming the AI and the rule."""
    raw = text.rstrip("\r\n")
    if (common := _COMMON.match(raw)) is not None and (fast := _common_shape(common)) is not None:
        return fast
    try:
        quick = quick_object(raw)
    except IdentifierError:
        quick = None  # the full parser names the AI and the rule
    if quick is not None:
        return Scan(quick[0], _NO_ATTRIBUTES, quick[1])
    if raw.startswith("]"):
        return _with_symbology(raw)
    if raw.startswith("("):
        return _from_elements(_hri_elements(raw), "HRI")
    if raw[:8].lower().startswith(("http://", "https://")):
        return _digital_link(raw)
    if raw.startswith("urn:epc:"):
        return _epc_uri(raw)
    if len(raw) == 18 and raw.isascii() and raw.isdigit():  # no element string is 18 digits: always a plain SSCC
        return _from_elements(_element_string("00" + raw), "SSCC")
    if (raw[:1].isascii() and raw[:1].isdigit()) or raw[:1] == GS:
        return _from_elements(_element_string(raw), "element string")
    raise ScanError(
        rules.SYNTAX,
        "expected scanner data, an element string, HRI, a GS1 Digital Link or EPC URI, or an 18-digit SSCC",
    )


def _common_shape(common: re.Match[str]) -> Scan | None:
    """The common DataMatrix without biip, for throughput; None sends anything unusual to the
    full parser (the tests check both agree). What precedes the serial (GTIN, expiry, lot) is
    checked once: a line scans one batch for hours."""
    head, serial = common.group(1, 5)
    known = _HEADS.get(head)
    if known is None:
        known = _head(common.group(2), common.group(3), common.group(4))
        if len(_HEADS) >= _MAX_HEADS:  # bounded: scans of endless made-up lots cost no memory
            _HEADS.clear()
        _HEADS[head] = known
    if known is _INVALID:
        return None
    gtin, uri_prefix, attributes = known
    return Scan(ObjectId(SGTIN, gtin, serial, None, uri_prefix + serial), attributes, _DATAMATRIX)


_DATAMATRIX = GS1_SYMBOLOGIES["]d2"]
_Head = tuple[str, str, Mapping[str, str]]  # GTIN, its Digital Link up to the serial, the AIs
_INVALID: _Head = ("", "", _NO_ATTRIBUTES)
_HEADS: dict[str, _Head] = {}
_MAX_HEADS = 4096


def _head(gtin: str, expiry: str, lot: str) -> _Head:
    """_INVALID when the GTIN or the date is not valid (the full parser names the problem)."""
    if gtin_problem(gtin) is not None:
        return _INVALID
    try:
        gs1_date(expiry)
    except ScanError:
        return _INVALID
    return gtin, plain_sgtin(gtin, "").uri, MappingProxyType({"17": expiry, "10": lot})


def _with_symbology(raw: str) -> Scan:
    identifier, body = raw[:3], raw[3:]
    if identifier in GS1_SYMBOLOGIES:
        return _from_elements(_element_string(body), GS1_SYMBOLOGIES[identifier])
    if identifier in URI_SYMBOLOGIES and body[:8].lower().startswith(("http://", "https://")):
        return _digital_link(body)
    raise ScanError(
        rules.SYMBOLOGY,
        f"symbology identifier {identifier!r} carries no GS1 data (expected one of "
        f"{', '.join(GS1_SYMBOLOGIES)}, or {', '.join(URI_SYMBOLOGIES)} with a GS1 Digital Link URI)",
    )


def _element_string(body: str) -> list[tuple[str, str]]:
    """AI and value pairs of an element string; the values read back must spell the input
    exactly (less separators), so nothing is dropped or read past."""
    try:
        message = GS1Message.parse(body)
    except ParseError as error:
        raise _parse_problem(error, body) from error
    elements = [(e.ai.ai, e.value) for e in message.element_strings]
    if "".join(a + v for a, v in elements) != body.replace(GS, ""):
        raise ScanError(rules.AMBIGUOUS, f"{body!r} does not read as a whole into AIs and values")
    for element in message.element_strings:
        _refuse_wrong_check_digit(element)
    return elements


def _refuse_wrong_check_digit(element: GS1ElementString) -> None:
    problem = element.gtin_error or element.sscc_error or element.gln_error
    if problem:
        raise ScanError(rules.CHECK_DIGIT, problem, element.ai.ai)


def _hri_elements(raw: str) -> list[tuple[str, str]]:
    """`(ai)value…` split at unescaped parentheses; each value checked by the element-string
    parser, which must read exactly that one AI and value back."""
    parts = _HRI_AI.split(raw)
    if parts[0] != "":
        raise ScanError(rules.HRI_SYNTAX, "HRI starts with an AI in parentheses")
    elements = []
    for ai, escaped in zip(parts[1::2], parts[2::2], strict=True):
        if "(" in escaped.replace("\\(", ""):
            raise ScanError(
                rules.AMBIGUOUS,
                f"an unescaped '(' in the value of AI ({ai}): {escaped!r} could be read as another AI; "
                "write '\\(' if it is part of the value",
                ai,
            )
        value = escaped.replace("\\(", "(")
        known = _known_ai(ai)
        if known is None:
            raise ScanError(rules.UNKNOWN_AI, f"({ai}) is not a GS1 Application Identifier", ai)
        if not re.match(known.pattern, ai + value):
            raise _format_problem(known, value)
        try:
            element = GS1ElementString.extract(ai + value)
        except ParseError as error:  # a date that does not exist
            raise _parse_problem(error, ai + value) from error
        _refuse_wrong_check_digit(element)
        elements.append((ai, value))
    return elements


def digital_link_elements(uri: str) -> dict[str, str]:
    """The AIs and values of any GS1 Digital Link URI (a location's, a party's, a class's, not only
    an SGTIN's or SSCC's), check digits checked; raises ScanError naming the rule."""
    try:
        link = GS1DigitalLinkURI.parse(uri)
    except ParseError as error:
        raise ScanError(rules.DIGITAL_LINK, f"not a valid GS1 Digital Link URI: {error}") from error
    for element in link.element_strings:
        _refuse_wrong_check_digit(element)
    return {element.ai.ai: element.value for element in link.element_strings}


def _digital_link(uri: str) -> Scan:
    try:
        link = GS1DigitalLinkURI.parse(uri)
    except ParseError as error:
        raise ScanError(rules.DIGITAL_LINK, f"not a valid GS1 Digital Link URI: {error}") from error
    for element in link.element_strings:
        _refuse_wrong_check_digit(element)
    return _from_elements([(e.ai.ai, e.value) for e in link.element_strings], "GS1 Digital Link")


def _epc_uri(uri: str) -> Scan:
    """Pure identity URIs as they are; tag URIs (what RFID encoders and readers print) through
    `epcpy` to their pure identity first."""
    form = "EPC URI"
    if uri.startswith("urn:epc:tag:"):
        form = "EPC tag URI"
        serial96 = _SGTIN96_SERIAL.search(uri)
        if uri.startswith("urn:epc:tag:sgtin-96:") and (serial96 is None or int(serial96.group(1)) >= 2**38):
            raise ScanError(rules.EPC_URI, "an SGTIN-96 serial is a number below 2^38 without leading zeros", "21")
        try:
            uri = tag_uri_to_tag_encodable(uri).epc_uri
        except Exception as error:
            raise ScanError(rules.EPC_URI, f"not a valid SGTIN or SSCC EPC tag URI: {error}") from error
    try:
        found = quick_object(uri)
    except IdentifierError as error:
        raise ScanError(rules.EPC_URI, str(error)) from error
    if found is None:
        raise ScanError(rules.EPC_URI, "not a valid SGTIN or SSCC EPC URI")
    return Scan(found[0], form=form)


def _from_elements(elements: Sequence[tuple[str, str]], form: str) -> Scan:
    values: dict[str, str] = {}
    for ai, value in elements:
        if values.setdefault(ai, value) != value:
            raise ScanError(rules.AI_REPEATED, f"AI ({ai}) appears twice with different values", ai)
    for ai in DATE_AIS.intersection(values):
        gs1_date(values[ai], ai)
    broken = broken_rule(values)
    if broken is not None:
        raise ScanError(broken.rule, broken.message, broken.ai)
    attributes = MappingProxyType({ai: v for ai, v in values.items() if ai not in KEY_AIS})
    if "00" in values and "01" in values and "21" in values:
        raise ScanError(rules.AMBIGUOUS, "names two objects: an SSCC (00) and a serialised GTIN (01)+(21)", "00")
    try:
        if "00" in values:
            return Scan(sscc_object(values["00"]), attributes, form)
        if "01" in values and "21" in values:
            return Scan(sgtin_object(values["01"], values["21"]), attributes, form)
    except IdentifierError as error:
        raise ScanError(rules.FORMAT, str(error), "00" if "00" in values else "21") from error
    raise ScanError(
        rules.INSTANCE_KEY, "names no single object: expected an SSCC (00) or a GTIN (01) with a serial (21)"
    )


def _known_ai(ai: str) -> GS1ApplicationIdentifier | None:
    try:
        known = GS1ApplicationIdentifier.extract(ai)
    except ParseError:
        return None
    return known if known.ai == ai else None


def _format_problem(known: GS1ApplicationIdentifier, value: str) -> ScanError:
    ai = known.ai
    return ScanError(
        rules.FORMAT, f"{value!r} is not a valid value of AI ({ai}) {known.data_title}: format {known.format}", ai
    )


def _parse_problem(error: ParseError, body: str) -> ScanError:
    text = str(error)
    unknown = re.search(r"Failed to get GS1 Application Identifier from '(.*)'", text, re.DOTALL)
    if unknown is not None:
        rest = unknown.group(1)
        return ScanError(rules.UNKNOWN_AI, f"no GS1 Application Identifier begins {rest[:12]!r} (in {body!r})")
    if "date/time" in text and (found := re.search(r"GS1 AI \((\d+)\) date/time from '(\d+)'", text)):
        return ScanError(rules.DATE, f"{found.group(2)!r} in AI ({found.group(1)}) is not a date", found.group(1))
    mismatch = re.search(r"Failed to match '(.*)' with GS1 AI \((\d+)\)", text, re.DOTALL)
    if mismatch is not None and (known := _known_ai(mismatch.group(2))) is not None:
        return _format_problem(known, mismatch.group(1)[len(known.ai) :])
    return ScanError(rules.FORMAT, text)
