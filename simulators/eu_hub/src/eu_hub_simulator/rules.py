"""The hub's published rules, as pure functions: product codes and their check characters, the
markets, the alphabets of batch ids and serials, expiry dates. Nothing here touches storage or HTTP,
so each rule can be read (and tested) on its own.

The simulator deliberately does not reuse serialtrail_gs1: it stands in for a system we do not
write, and a shared bug in a check-digit routine would let both sides agree on a wrong answer."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from datetime import date

# The EU/EEA countries connected to the European Hub, and XI (Northern Ireland, which stayed under
# the FMD after Brexit). Greece is GR (ISO 3166), as national systems spell it on the wire.
# fmt: off
FMD_MARKETS = frozenset((
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IS", "IE", "IT",
    "LV", "LI", "LT", "LU", "MT", "NL", "NO", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "XI",
))
# fmt: on

CODING_SCHEMES = ("GTIN", "NTIN", "PPN")

# A pack's states. Active is the only one a pack can be supplied from; the others are reached by a
# decommissioning and (except Stolen and Destroyed) left again by an undo within ten days.
ACTIVE = "Active"
PACK_STATES = (
    "Active",
    "Supplied",
    "Exported",
    "Checked-out",
    "Stolen",
    "Sample",
    "Free sample",
    "Locked",
    "Destroyed",
)
DECOMMISSIONED = frozenset(PACK_STATES) - {ACTIVE}
NOT_UNDOABLE = frozenset({ACTIVE, "Stolen", "Destroyed"})
UNDO_WINDOW_SECONDS = 10 * 24 * 3600

BATCH_STATES = ("Active", "Recalled", "Withdrawn")
MAX_SERIALS_PER_CHUNK = 250_000
MAX_DETAILS = 10

_DIGITS14 = re.compile(r"[0-9]{14}")
_PPN = re.compile(r"[0-9A-Z]{4,22}")
_BATCH_ID = re.compile(r"[0-9A-Za-z\-./_]{1,20}")
_SERIAL = re.compile(r"[0-9A-Za-z]{1,20}")
_EXPIRY = re.compile(r"[0-9]{6}")


class Refused(Exception):
    """A request the hub refuses: the HTTP status, the NMVS code and a sentence for a person."""

    def __init__(self, status: int, code: str, message: str, details: Iterable[str] = ()) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)[:MAX_DETAILS]

    def body(self) -> dict[str, object]:
        answer: dict[str, object] = {"code": self.code, "message": self.message}
        if self.details:
            answer["details"] = self.details
        return answer


def gs1_check_digit_ok(code: str) -> bool:
    """GS1 mod-10: from the right, the digits before the check weigh 3, 1, 3, 1 …"""
    if not _DIGITS14.fullmatch(code):
        return False
    body = code[:-1]
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == int(code[-1])


def ppn_check(body: str) -> str:
    """IFA's PPN check: each character's ASCII code times its position plus two, summed, mod 97."""
    return f"{sum(ord(c) * (i + 2) for i, c in enumerate(body)) % 97:02d}"


def ppn_ok(code: str) -> bool:
    return bool(_PPN.fullmatch(code)) and ppn_check(code[:-2]) == code[-2:]


def product_code_ok(scheme: str, code: str) -> bool:
    # NTINs are national numbers placed in the GS1 number space: the same 14 digits and check.
    return ppn_ok(code) if scheme == "PPN" else gs1_check_digit_ok(code)


def printable(text: str, longest: int) -> bool:
    """Printable ASCII, not blank, at most `longest` characters (what national systems can store)."""
    return 0 < len(text) <= longest and text.strip() != "" and all(" " <= c <= "~" for c in text)


def batch_id_ok(batch_id: str) -> bool:
    return bool(_BATCH_ID.fullmatch(batch_id))


def serial_ok(serial: object) -> bool:
    return isinstance(serial, str) and bool(_SERIAL.fullmatch(serial))


def bad_serials(serials: Sequence[object]) -> list[str]:
    """Up to MAX_DETAILS serials that break the alphabet or length (non-strings shown as JSON would)."""
    found: list[str] = []
    for serial in serials:
        if not serial_ok(serial):
            found.append(serial if isinstance(serial, str) else repr(serial))
            if len(found) == MAX_DETAILS:
                break
    return found


def repeated(items: Iterable[str]) -> list[str]:
    """Items given more than once, up to MAX_DETAILS, in the order they repeat."""
    seen: set[str] = set()
    twice: list[str] = []
    for item in items:
        if item in seen and item not in twice:
            twice.append(item)
            if len(twice) == MAX_DETAILS:
                break
        seen.add(item)
    return twice


def expiry_date(expiry: str) -> date | None:
    """YYMMDD as the pack's 2D code carries it; DD 00 is the last day of the month. Years are read
    as 20YY: every pack the hub will see expires in this century. None when it is no date."""
    if not _EXPIRY.fullmatch(expiry):
        return None
    year, month, day = 2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:])
    if not 1 <= month <= 12:
        return None
    last = calendar.monthrange(year, month)[1]
    if day == 0:
        day = last
    return date(year, month, day) if day <= last else None


def expired(expiry: str, today: date) -> bool:
    """A pack is usable through its expiry day (UTC) and expired from the day after."""
    until = expiry_date(expiry)
    return until is not None and today > until
