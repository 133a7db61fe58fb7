"""Identifiers of physical objects as they arrive from lines, partners and EPCIS: SGTIN and
SSCC EPC pure identity URIs, GS1 element strings in HRI form, plain 18-digit SSCCs. Each
normalises to one canonical key (the element string) so that the same object is the same
key whatever form it came in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from typing import NamedTuple
from urllib.parse import quote, unquote

from serialtrail_gs1.keys import check_digit, gtin_problem, parse_sgtin_uri, serial_problem

# Anchored with \Z, not $: $ also matches before a final line break (which scanners append),
# and a quick reader must never take "S1\n" for a serial.
_SSCC_URI = re.compile(r"^urn:epc:id:sscc:(\d+)\.(\d+)\Z")
# Only a plain serial: "(" could start another AI (GS1's bracketed syntax), left to the full parser.
_SGTIN_HRI_BODY = r"^\(01\)(\d{14})\(21\)([A-Za-z0-9._-]{1,20})"
_SGTIN_HRI = re.compile(_SGTIN_HRI_BODY + r"\Z")
# Lines of such element strings, matched whole and nothing captured (`plain_sgtins`).
_SGTIN_HRI_LINE = r"\(01\)\d{14}\(21\)[A-Za-z0-9._-]{1,20}"
_SGTIN_HRI_LINES = re.compile(rf"(?:{_SGTIN_HRI_LINE}\n)*{_SGTIN_HRI_LINE}")
_GTIN_IN_HRI, _SERIAL_IN_HRI = slice(4, 18), slice(22, None)  # where `(01)` and `(21)` put them
_SSCC_HRI = re.compile(r"^\(00\)(\d{18})\Z")
# GS1 Digital Link on any resolver host, key in the path and no query (attributes such as
# ?17=… go to the full parser, which keeps them).
_DL_SGTIN = re.compile(r"^https?://[^/?#]+(?:/[^?#]*)?/01/(\d{14})/21/([^/?#]+)\Z")
_DL_SSCC = re.compile(r"^https?://[^/?#]+(?:/[^?#]*)?/00/(\d{18})\Z")
CANONICAL_RESOLVER = "https://id.gs1.org"
_UNRESERVED = re.compile(r"^[A-Za-z0-9._~-]+\Z")  # RFC 3986: never percent-encoded
_PLAIN_SERIAL = re.compile(r"^[A-Za-z0-9._-]{1,20}\Z")  # valid AI (21) that needs no percent-encoding


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
        if self.kind is SSCC:
            return f"(00){self.sscc}"
        return f"(01){self.gtin}(21){self.serial}"


# Looked up once: on Python 3.11 reading an enum member costs ~0.5 µs, and ids come by the thousand.
SGTIN, SSCC = Kind.sgtin, Kind.sscc


def sgtin_digital_link(gtin: str, serial: str) -> str:
    """Hot-path formatter: serials are percent-encoded except RFC 3986 unreserved characters."""
    encoded = serial if _UNRESERVED.match(serial) else quote(serial, safe="")
    return f"{CANONICAL_RESOLVER}/01/{gtin}/21/{encoded}"


def _unescape(serial: str) -> str:
    return unquote(serial) if "%" in serial else serial


class IdentifierError(ValueError):
    pass


def sscc_object(digits: str) -> ObjectId:
    if len(digits) != 18 or not (digits.isascii() and digits.isdigit()):
        raise IdentifierError("an SSCC is 18 digits")
    if check_digit(digits[:-1]) != int(digits[-1]):
        raise IdentifierError(f"SSCC check digit is wrong: expected {check_digit(digits[:-1])}")
    return ObjectId(SSCC, None, None, digits, f"{CANONICAL_RESOLVER}/00/{digits}")


_new_tuple = tuple.__new__  # a named tuple's own __new__ is Python code: twice the cost per id


def plain_sgtin(gtin: str, serial: str) -> ObjectId:
    """For callers that checked already: a valid GTIN, a serial of 1 to 20 of `[A-Za-z0-9._-]`
    (which a Digital Link URI carries unescaped)."""
    return _new_tuple(ObjectId, (SGTIN, gtin, serial, None, f"{CANONICAL_RESOLVER}/01/{gtin}/21/{serial}"))


def plain_sgtins(texts: Sequence[str]) -> list[ObjectId] | None:
    """The objects of element strings `(01)…(21)…` with plain serials, all checked in one pass
    in C (a pallet's 5,000 in about a millisecond); None unless every text is one and every
    GTIN is valid, and then each is read on its own (`quick_object`, the full parser). Nothing
    is captured: GTIN and serial are cut where the AIs put them, so the one object made per id
    that the collector tracks is the id itself (each tracked object brings a collection closer)."""
    joined = "\n".join(texts)
    if not texts or joined.count("\n") != len(texts) - 1:  # a text holding a line break is read alone
        return None
    if _SGTIN_HRI_LINES.fullmatch(joined) is None:
        return None
    if any(gtin_problem(gtin) for gtin in {text[_GTIN_IN_HRI] for text in texts}):
        return None
    return [plain_sgtin(text[_GTIN_IN_HRI], text[_SERIAL_IN_HRI]) for text in texts]


def sgtin_object(gtin: str, serial: str) -> ObjectId:
    if _PLAIN_SERIAL.match(serial) and gtin_problem(gtin) is None:  # the common case, checked once
        return plain_sgtin(gtin, serial)
    problem = gtin_problem(gtin) or serial_problem(serial)
    if problem is not None:
        raise IdentifierError(problem)
    return ObjectId(SGTIN, gtin, serial, None, sgtin_digital_link(gtin, serial))


def quick_object(text: str) -> tuple[ObjectId, str] | None:
    """The object and form of a canonical, unambiguous identifier: an HRI or Digital Link
    with a plain serial and no attributes, an EPC pure identity URI, an SSCC. None for
    anything else, which the full scan parser (`serialtrail_gs1.scan`) reads. A pallet names
    thousands of these: they skip the full parser."""
    if text.startswith("(01)") and (match := _SGTIN_HRI.match(text)):  # its serial is plain already
        gtin, serial = match.groups()
        problem = gtin_problem(gtin)
        if problem is not None:
            raise IdentifierError(problem)
        return plain_sgtin(gtin, serial), "HRI"
    if text.startswith("urn:epc:id:sgtin:"):
        parsed = parse_sgtin_uri(text)
        if parsed is None:
            raise IdentifierError("not a valid SGTIN pure identity URI")
        return sgtin_object(*parsed), "EPC URI"
    if match := _DL_SGTIN.match(text):
        return sgtin_object(match.group(1), _unescape(match.group(2))), "GS1 Digital Link"
    return _sscc_form(text)


def _sscc_form(text: str) -> tuple[ObjectId, str] | None:
    if match := _SSCC_URI.match(text):
        prefix, rest = match.groups()
        if len(prefix) + len(rest) != 17:
            raise IdentifierError("an SSCC URI holds 17 digits before the check digit")
        body = rest[0] + prefix + rest[1:]
        return sscc_object(body + str(check_digit(body))), "EPC URI"
    if match := _DL_SSCC.match(text):
        return sscc_object(match.group(1)), "GS1 Digital Link"
    if match := _SSCC_HRI.match(text):
        return sscc_object(match.group(1)), "HRI"
    if len(text) == 18 and text.isascii() and text.isdigit():  # no element string is 18 digits: always a plain SSCC
        return sscc_object(text), "SSCC"
    return None
