"""Identifiers of physical objects as they arrive from lines, partners and EPCIS: SGTIN and
SSCC EPC pure identity URIs, GS1 element strings in HRI form, plain 18-digit SSCCs. Each
normalises to one canonical key (the element string) so that the same object is the same
key whatever form it came in."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple
from urllib.parse import quote, unquote

from serialtrail_gs1.keys import check_digit, gtin_problem, parse_sgtin_uri, serial_problem

_SSCC_URI = re.compile(r"^urn:epc:id:sscc:(\d+)\.(\d+)$")
_SGTIN_HRI = re.compile(r"^\(01\)(\d{14})\(21\)(.{1,20})$")
_SSCC_HRI = re.compile(r"^\(00\)(\d{18})$")
# GS1 Digital Link on any resolver host; the path carries the key (query and fragment ignored).
_DL_SGTIN = re.compile(r"^https?://[^/]+(?:/[^?#]*)?/01/(\d{14})/21/([^/?#]+)(?:[?#].*)?$")
_DL_SSCC = re.compile(r"^https?://[^/]+(?:/[^?#]*)?/00/(\d{18})(?:[?#].*)?$")
CANONICAL_RESOLVER = "https://id.gs1.org"
_UNRESERVED = re.compile(r"^[A-Za-z0-9._~-]+$")  # RFC 3986: never percent-encoded
_PLAIN_SERIAL = re.compile(r"^[A-Za-z0-9._-]{1,20}$")  # valid AI (21) that needs no percent-encoding


class Kind(StrEnum):
    sgtin = "sgtin"
    sscc = "sscc"


class ObjectId(NamedTuple):
    """A named tuple: a pallet's worth is thousands of them, built in C rather than by a
    frozen dataclass's __init__. `uri` is the canonical GS1 Digital Link URI, an EPCIS 2.0
    identifier that needs no company prefix length, so it can be formed for objects whose
    master data is not known yet."""

    kind: Kind
    gtin: str | None
    serial: str | None
    sscc: str | None
    uri: str

    @property
    def key(self) -> str:
        """Canonical key: the GS1 element string."""
        if self.kind is Kind.sscc:
            return f"(00){self.sscc}"
        return f"(01){self.gtin}(21){self.serial}"


def sgtin_digital_link(gtin: str, serial: str) -> str:
    """Hot-path formatter: serials are percent-encoded except RFC 3986 unreserved characters."""
    encoded = serial if _UNRESERVED.match(serial) else quote(serial, safe="")
    return f"{CANONICAL_RESOLVER}/01/{gtin}/21/{encoded}"


def _unescape(serial: str) -> str:
    return unquote(serial) if "%" in serial else serial


class IdentifierError(ValueError):
    pass


def _sscc(digits: str) -> ObjectId:
    if len(digits) != 18 or not digits.isdigit():
        raise IdentifierError("an SSCC is 18 digits")
    if check_digit(digits[:-1]) != int(digits[-1]):
        raise IdentifierError(f"SSCC check digit is wrong: expected {check_digit(digits[:-1])}")
    return ObjectId(Kind.sscc, None, None, digits, f"{CANONICAL_RESOLVER}/00/{digits}")


def _sgtin(gtin: str, serial: str) -> ObjectId:
    if _PLAIN_SERIAL.match(serial) and gtin_problem(gtin) is None:  # the common case, checked once
        return ObjectId(Kind.sgtin, gtin, serial, None, f"{CANONICAL_RESOLVER}/01/{gtin}/21/{serial}")
    problem = gtin_problem(gtin) or serial_problem(serial)
    if problem is not None:
        raise IdentifierError(problem)
    return ObjectId(Kind.sgtin, gtin, serial, None, sgtin_digital_link(gtin, serial))


def parse_object_id(text: str) -> ObjectId:
    """Parse any accepted form; raises IdentifierError saying what is wrong."""
    parsed = _sgtin_form(text) or _sscc_form(text)
    if parsed is None:
        raise IdentifierError(
            "expected an SGTIN or SSCC as EPC URI, GS1 Digital Link URI, element string or 18-digit SSCC"
        )
    return parsed


def _sgtin_form(text: str) -> ObjectId | None:
    if text.startswith("(01)") and (match := _SGTIN_HRI.match(text)):  # the common forms first
        return _sgtin(*match.groups())
    if text.startswith("urn:epc:id:sgtin:"):
        parsed = parse_sgtin_uri(text)
        if parsed is None:
            raise IdentifierError("not a valid SGTIN pure identity URI")
        return _sgtin(*parsed)
    if match := _DL_SGTIN.match(text):
        return _sgtin(match.group(1), _unescape(match.group(2)))
    return None


def _sscc_form(text: str) -> ObjectId | None:
    if match := _SSCC_URI.match(text):
        prefix, rest = match.groups()
        if len(prefix) + len(rest) != 17:
            raise IdentifierError("an SSCC URI holds 17 digits before the check digit")
        body = rest[0] + prefix + rest[1:]
        return _sscc(body + str(check_digit(body)))
    if match := _DL_SSCC.match(text) or _SSCC_HRI.match(text):
        return _sscc(match.group(1))
    if text.isdigit():
        return _sscc(text)
    return None
