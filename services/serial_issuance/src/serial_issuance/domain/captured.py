"""A commissioning captured through EPCIS (an ObjectEvent, action ADD, bizStep commissioning,
checked by EPCIS reporting against the schema, GS1 syntax and the CBV), read as the commissioning
it is here: its packs, its batch (ILMD lot and expiry), its line (the read point) and its time.
What is wrong with it is named where the sender wrote it, in the event."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from serialtrail_contracts.identity import Scope, Target
from serialtrail_gs1.captured_share import OutOfScope
from serialtrail_gs1.epcis_checks import MDA_PREFIXES, moment, place_of
from serialtrail_gs1.identity import IdentifierError
from serialtrail_gs1.scan import parse_object_id
from serialtrail_kit.errors import InvalidInput, Violation

from serial_issuance.domain.rules import (
    CAPTURED_BATCH,
    CAPTURER_SCOPE,
    REGISTERED_BATCH,
    REGISTERED_LINE,
    SGTIN,
    SINGLE_GTIN,
)

_LOT, _EXPIRY = "lotNumber", "itemExpirationDate"
# Where a commissioning's fields were read from, in the captured event.
FIELDS = {  # where each field of the command was read from in the event (`CapturedShare.event_fields`)
    "gtin": "epcList",
    "epcs": "epcList",
    "serials": "epcList",
    "lot": f"ilmd.cbvmda:{_LOT}",
    "expiry": f"ilmd.cbvmda:{_EXPIRY}",
    "event_time": "eventTime",
    "line_id": "readPoint.id",
}


@dataclass(frozen=True)
class CapturedCommissioning:
    gtin: str
    serials: list[str]
    lot: str
    expiry: date | None
    place: tuple[str, str] | None  # the read point's (GLN, extension)
    event_time: datetime


def read(event: dict[str, Any]) -> CapturedCommissioning:
    """Raises InvalidInput naming the event's fields (`epcList[2]`, `ilmd.cbvmda:lotNumber` …)."""
    problems: list[Violation] = []
    gtins: dict[str, None] = {}
    serials = []
    for position, epc in enumerate(event.get("epcList") or ()):
        try:
            found = parse_object_id(epc)
        except IdentifierError:
            found = None
        if found is None or found.gtin is None or found.serial is None:
            message = f"{epc!r} is not a pack (an SGTIN): serial issuance commissions packs"
            problems.append(SGTIN.at(f"epcList[{position}]", message))
            continue
        gtins[found.gtin] = None
        serials.append(found.serial)
    if len(gtins) > 1:
        message = f"the packs of one commissioning event are of one product; found {sorted(gtins)}"
        problems.append(SINGLE_GTIN.at("epcList", message))
    ilmd = event.get("ilmd") or {}
    lot, expiry = _ilmd(ilmd, _LOT, problems), _ilmd(ilmd, _EXPIRY, problems)
    if not isinstance(lot, str) or not lot:
        message = "a commissioning event names the batch its packs are in: ILMD cbvmda:lotNumber"
        problems.append(CAPTURED_BATCH.at(FIELDS["lot"], message))
    expires = _date(expiry, problems)
    if problems:
        raise InvalidInput(f"{len(problems)} problem(s) with the commissioning event", problems)
    assert isinstance(lot, str)
    place = place_of(str((event.get("readPoint") or {}).get("id") or ""))
    when = moment(event["eventTime"])  # checked by EPCIS reporting
    return CapturedCommissioning(next(iter(gtins)), serials, lot, expires, place, when)


def check_line_scope(capturer: Scope, proposed: CapturedCommissioning, line: Target) -> None:
    """What the capturing key may commission, as if it had posted the commissioning itself: on its
    own lines (checked before any batch is looked at: a batch's existence is not another party's to
    learn), into its own batches (`check_batch_scope`)."""
    if capturer.missing(Target(gtins=frozenset({proposed.gtin})) | line) is not None:
        message = "the line at this read point is not within the capturing key's scope"
        raise OutOfScope(message, [CAPTURER_SCOPE.at(FIELDS["line_id"], message)])


def check_batch_scope(capturer: Scope, proposed: CapturedCommissioning, batch: Target) -> None:
    """Another party's batch is answered as an unknown one (a CMO learns nothing of batches not its own)."""
    if capturer.missing(batch) is not None:
        message = f"no batch {proposed.lot!r} is registered for GTIN {proposed.gtin}"
        raise InvalidInput(message, [REGISTERED_BATCH.at(FIELDS["lot"], message)])


def line_unknown(event: dict[str, Any]) -> InvalidInput:
    read_point = (event.get("readPoint") or {}).get("id")
    message = f"the read point {read_point!r} is no registered line's: commissioning happens on a line"
    return InvalidInput(message, [REGISTERED_LINE.at(FIELDS["line_id"], message)])


def _ilmd(ilmd: dict[str, Any], name: str, problems: list[Violation]) -> Any:
    """The value ILMD gives `name` under any of its prefixes; two that disagree are refused."""
    given = [ilmd[prefix + name] for prefix in MDA_PREFIXES if prefix + name in ilmd]
    if len({repr(value) for value in given}) > 1:
        message = f"the ILMD names {name} more than once, differently: {given!r}"
        problems.append(CAPTURED_BATCH.at(f"ilmd.cbvmda:{name}", message))
    return given[0] if given else None


_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?\Z")  # xsd:date, its zone optional


def _date(value: Any, problems: list[Violation]) -> date | None:
    if value is None:
        return None
    found = _DATE.match(value) if isinstance(value, str) else None
    try:
        return date.fromisoformat(found.group(1)) if found else date.fromisoformat("not a date")
    except ValueError:
        message = f"{value!r} is not a date (YYYY-MM-DD)"
        problems.append(CAPTURED_BATCH.at(FIELDS["expiry"], message))
        return None
