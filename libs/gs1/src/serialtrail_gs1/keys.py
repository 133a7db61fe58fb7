"""GS1 keys: check digits, GTIN-14, GLN, SSCC, SGTIN EPC URI, AI 21 serials. Shared by every
service. Hot paths format strings directly; the tests cross-check them against `biip` and `epcpy`."""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote

from serialtrail_kit.errors import InvalidInput

from serialtrail_gs1.rules import GLN, GTIN, LOT

# GS1 General Specifications, figure 7.11-1: the 82 characters allowed in AI (21).
CHARSET_82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+\Z")
_LOT = re.compile(r"^.{1,20}\Z")
ALPHANUMERIC = re.compile(r"^[0-9A-Za-z]+\Z")
_SGTIN_URI = re.compile(r"^urn:epc:id:sgtin:(\d+)\.(\d+)\.(.+)\Z")


def check_digit(body: str) -> int:
    """GS1 mod-10: weights 3,1,3,… from the right of the body."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def has_valid_check_digit(key: str) -> bool:
    return key.isascii() and key.isdigit() and check_digit(key[:-1]) == int(key[-1])


@functools.lru_cache(maxsize=4096)
def gtin_problem(gtin: str) -> str | None:
    """Cached: a pallet names the same few GTINs thousands of times."""
    if not (len(gtin) == 14 and gtin.isascii() and gtin.isdigit()):
        return "must be 14 digits (GTIN-14; pad shorter GTINs with leading zeros)"
    if not has_valid_check_digit(gtin):
        return f"check digit is wrong: expected {check_digit(gtin[:-1])}, got {gtin[-1]}"
    return None


def require_gtin(gtin: str, field: str = "gtin") -> str:
    problem = gtin_problem(gtin)
    if problem is not None:
        raise InvalidInput(f"{field} {gtin!r} {problem}", [GTIN.at(field, problem)])
    return gtin


def lot_problem(lot: str) -> str | None:
    if not _LOT.match(lot) or not CHARSET_82.match(lot):
        return "a lot is 1 to 20 characters from GS1 character set 82 (AI 10)"
    return None


def require_lot(lot: str, field: str = "lot") -> str:
    problem = lot_problem(lot)
    if problem is not None:
        raise InvalidInput(problem, [LOT.at(field, problem)])
    return lot


def require_gln(gln: str, field: str) -> str:
    if not (len(gln) == 13 and gln.isascii() and gln.isdigit()):
        raise InvalidInput(f"{field} must be a 13-digit GLN", [GLN.at(field, "must be 13 digits")])
    if not has_valid_check_digit(gln):
        message = f"check digit is wrong: expected {check_digit(gln[:-1])}"
        raise InvalidInput(f"{field} {message}", [GLN.at(field, message)])
    return gln


def sscc(extension_digit: int, company_prefix: str, serial_reference: int) -> str:
    width = 16 - len(company_prefix)
    body = f"{extension_digit}{company_prefix}{serial_reference:0{width}d}"
    return body + str(check_digit(body))


def sgtin_uri_prefix(gtin: str, company_prefix_length: int) -> str:
    """`urn:epc:id:sgtin:<company prefix>.<indicator><item reference>.` (TDS 1.13 §6.3.1)."""
    prefix = gtin[1 : 1 + company_prefix_length]
    item = gtin[0] + gtin[1 + company_prefix_length : 13]
    return f"urn:epc:id:sgtin:{prefix}.{item}."


def parse_sgtin_uri(uri: str) -> tuple[str, str] | None:
    """(gtin, serial) of an SGTIN pure identity URI, or None if it is not one."""
    match = _SGTIN_URI.match(uri)
    if match is None:
        return None
    prefix, item, serial = match.groups()
    gtin = sgtin_of(prefix, item)
    if gtin is None:
        return None
    return gtin, unquote(serial) if "%" in serial else serial


@functools.lru_cache(maxsize=4096)
def sgtin_of(prefix: str, item: str) -> str | None:
    """The GTIN of an SGTIN URI's company prefix and indicator + item reference (None: not 13
    digits together). Cached: a document names the same few products by the thousand."""
    if len(prefix) + len(item) != 13 or not item:
        return None
    body = item[0] + prefix + item[1:]
    return body + str(check_digit(body))


def serial_problem(serial: str) -> str | None:
    if not 1 <= len(serial) <= 20:
        return "must be 1 to 20 characters (GS1 AI 21)"
    if not CHARSET_82.match(serial):
        return "contains characters outside GS1 character set 82"
    return None
