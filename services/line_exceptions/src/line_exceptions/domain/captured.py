"""A decommissioning, destroying or sampling captured through EPCIS (an ObjectEvent, checked by
EPCIS reporting against the schema, GS1 syntax and the CBV), read as the exception record it is
here: its type, its units, its line (the read point), its time. What is wrong with it is named
where the sender wrote it, in the event.

What the event means, by the one reason vocabulary (`exception_vocabulary.VOCABULARY`, which
renders each exception type as a CBV 2.0 business step and disposition) read backwards:

| bizStep         | action            | disposition                 | exception type | decommission reason |
|-----------------|-------------------|-----------------------------|----------------|---------------------|
| decommissioning | DELETE            | inactive                    | label-misprint | misprint            |
| decommissioning | DELETE            | damaged                     | damaged        | damaged             |
| decommissioning | DELETE            | destroyed                   | destroyed      | destroyed           |
| decommissioning | DELETE            | stolen                      | stolen         | stolen              |
| decommissioning | DELETE            | unavailable                 | lost           | lost                |
| destroying      | DELETE            | destroyed, or none          | destroyed      | destroyed           |
| sampling        | DELETE            | non_sellable_other, or none | qc-sample      | sample              |
| sampling        | OBSERVE           | non_sellable_other          | qc-sample      | sample              |

Every row takes its units out of the supply chain, as the record's type does. Why these:

- decommissioning + inactive: CBV 2.0 decommissioning takes the identifier off the object; in the
  vocabulary that pair is a line reject whose serial is retired (reason misprint, EU FMD
  Destroyed, DSCSA never distributed, never undone), shared by label-misprint, wrong-label and
  rework. The reason is the vocabulary's, not a guess; of the three types, label-misprint claims
  nothing more than the pair says. A wrong label (another product's or batch's data) and a
  rework (which names its replacement serial) say more than an EPCIS event can: they are
  recorded through `POST /v1/exceptions`.
- decommissioning + destroyed: the pack is destroyed, however the sender named the step.
- destroying without a disposition, and a DELETE sampling without one: the step alone names one
  type (destroying is only `destroyed`, sampling only `qc-sample`), and DELETE says the units left.
- A sampling OBSERVE leaves its units existing: only `non_sellable_other` says they left the
  saleable supply chain (as a sample does: EU FMD Sample); without it the units may still be
  sellable, and nothing is recorded for them here.

Refused, never guessed (`captured-exception`, at the field): another event type, action or
business step; a decommissioning without a disposition, or with one the vocabulary does not
give a decommission (expired, recalled, non_sellable_other …: not what went wrong on a line);
a destroying or sampling with a disposition that contradicts it; anything but SGTINs in the
epcList (a case or pallet is recorded whole through the API, where `cascade` says whether its
contents went with it: EPCIS does not say); quantities of a class; units of more than one
product.

What a record needs that EPCIS does not carry:

- its batch: the one its first unit the sender may be told of was commissioned into (EPCIS
  names a lot only at commissioning); units of another batch are refused (`unit-of-batch`), as
  the API refuses them for the batch a request names, and so is a Digital Link whose lot or
  expiry is not the batch's (`label-matches-batch`, as for a scan);
- `description`: the step, action and disposition as captured, and the event's CBV 2.0 Event
  Hash ID (`captured through EPCIS: ni:///sha-256;…`), which finds the event in EPCIS queries;
- `observed_by`: the sender of the capture (who saw it on the line is not in EPCIS; the
  capture job names the key that sent it);
- its id: derived from the capture and the event's hash id, so deciding it again (a check
  first, then the commit) makes the same record.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from serialtrail_contracts.exceptions import ExceptionType
from serialtrail_contracts.identity import Scope
from serialtrail_gs1.captured_share import OutOfScope
from serialtrail_gs1.epcis_checks import cbv_word, moment, place_of
from serialtrail_gs1.identity import SGTIN, IdentifierError
from serialtrail_gs1.scan import parse_scan, rule_of
from serialtrail_kit.errors import InvalidInput, Violation

from line_exceptions.domain import owners, rules
from line_exceptions.domain.records import MAX_UNITS, Batch, Line, label_mix_up

# bizStep → the exception type it records, by disposition (None: the event gives none).
_TYPES: dict[str, dict[str | None, ExceptionType]] = {
    "decommissioning": {
        "inactive": ExceptionType.label_misprint,
        "damaged": ExceptionType.damaged,
        "destroyed": ExceptionType.destroyed,
        "stolen": ExceptionType.stolen,
        "unavailable": ExceptionType.lost,
    },
    "destroying": {"destroyed": ExceptionType.destroyed, None: ExceptionType.destroyed},
    "sampling": {"non_sellable_other": ExceptionType.qc_sample, None: ExceptionType.qc_sample},
}
_ACTIONS = {"decommissioning": ("DELETE",), "destroying": ("DELETE",), "sampling": ("DELETE", "OBSERVE")}
# What must be stated when the action alone does not say the units left (an OBSERVE sampling).
_STATED = {("sampling", "OBSERVE"): "non_sellable_other"}

# Where a record's fields were read from, in the captured event.
_FIELDS = {
    "units": "epcList",
    "batch": "epcList",  # the units' batch
    "line_id": "readPoint.id",
    "event_time": "eventTime",
}
_INDEXED = re.compile(r"^(\w+)(\[\d+\])?")


@dataclass(frozen=True)
class CapturedException:
    exception_type: ExceptionType
    gtin: str
    serials: tuple[str, ...]  # each unit's serial, in epcList order
    labels: tuple[tuple[str | None, date | None], ...]  # the lot and expiry a Digital Link carried, if any
    place: tuple[str, str] | None  # the read point's (GLN, extension)
    event_time: datetime
    captured_as: str  # the step, action and disposition, as the record's description tells them

    def description(self, event_id: str) -> str:
        return f"{self.captured_as} captured through EPCIS: {event_id}"


@dataclass(frozen=True)
class Commissioned:
    """What is known of a unit's commissioning: its batch's lot and CMO, its line."""

    lot: str
    line_id: str
    cmo_id: str | None


def read(event: dict[str, Any]) -> CapturedException:
    """Raises InvalidInput naming the event's fields (`epcList[2]`, `disposition`, `bizStep` …)."""
    kind, step, disposition = _meaning(event)
    problems: list[Violation] = []
    gtins: dict[str, int] = {}  # the first position of each GTIN
    serials: list[str] = []
    labels: list[tuple[str | None, date | None]] = []
    epcs = event.get("epcList") or []
    for position, epc in enumerate(epcs):
        found = _unit(epc, f"epcList[{position}]", problems)
        if found is not None:
            gtins.setdefault(found.gtin, position)
            serials.append(found.serial)
            labels.append((found.lot, found.expiry))
    if not epcs:
        problems.append(rules.CAPTURED_EXCEPTION.at("epcList", "name the units (SGTINs) that went wrong: epcList"))
    elif len(epcs) > MAX_UNITS:
        message = f"a record names at most {MAX_UNITS:,} units; split the event"
        problems.append(rules.CAPTURED_EXCEPTION.at("epcList", message))
    for gtin, position in list(gtins.items())[1:]:
        message = f"the units of one record are of one product: {next(iter(gtins))}, not {gtin}"
        problems.append(rules.CAPTURED_EXCEPTION.at(f"epcList[{position}]", message))
    if event.get("quantityList"):
        message = "line exceptions records serialised units (SGTINs); quantities of a class are not recorded here"
        problems.append(rules.CAPTURED_EXCEPTION.at("quantityList", message))
    when = _time(event.get("eventTime"), problems)
    if problems:
        raise InvalidInput(rules.summary(problems), problems)
    assert when is not None
    place = place_of(str((event.get("readPoint") or {}).get("id") or ""))
    captured_as = f"{step} (action {event['action']}, disposition {disposition or 'none'})"
    return CapturedException(kind, next(iter(gtins)), tuple(serials), tuple(labels), place, when, captured_as)


def exception_id(capture_id: uuid.UUID, event_id: str) -> uuid.UUID:
    """The same event of the same capture, the same record (a check first, then the commit)."""
    return uuid.uuid5(capture_id, event_id)


def observer(capture_id: uuid.UUID) -> str:
    """Who saw it, as far as EPCIS tells: the sender of the capture (its job names the key)."""
    return f"the sender of EPCIS capture {capture_id}"


def check_scope(capturer: Scope, proposed: CapturedException, line: Line) -> None:
    """What the capturing key may record, as if it had posted the record itself: the Target the
    API's ownership check builds from a request (its product, its line). Its line first: where
    the line is not the key's, whether the product is is not its business either."""
    if capturer.missing(owners.named(proposed.gtin, line)) is None:
        return
    if capturer.missing(owners.line_owner(line)) is not None:
        message = "the line at this read point is not within the capturing key's scope"
        raise OutOfScope(message, [rules.CAPTURER_SCOPE.at("line_id", message)])
    message = f"GTIN {proposed.gtin} is not within the capturing key's scope"
    raise OutOfScope(message, [rules.CAPTURER_SCOPE.at("units", message)])


def batch_lot(capturer: Scope, proposed: CapturedException, known: Mapping[str, Commissioned]) -> str:
    """The lot of the batch the record is of: that of the first unit the capturer may be told of
    (another CMO's unit, or another line's for a key narrowed to lines, reads as unknown). None
    such: each unit is answered as the API answers a unit not known as commissioned."""
    for serial in proposed.serials:
        found = known.get(serial)
        if found is not None and owners.unit_visible(capturer, found.line_id, found.cmo_id, of_the_batch=False):
            return found.lot
    problems = [
        rules.COMMISSIONED.at(f"units[{i}]", f"GTIN {proposed.gtin} serial {serial} is not known as commissioned")
        for i, serial in enumerate(proposed.serials)
    ]
    raise InvalidInput(rules.summary(problems), problems)


def check_batch_scope(capturer: Scope, gtin: str, lot: str, batch: Batch | None) -> Batch:
    """Another party's batch is answered as an unknown one, as the API answers it."""
    if batch is None or capturer.missing(owners.batch_owner(batch)) is not None:
        message = f"no batch {lot!r} is known for GTIN {gtin}"
        raise InvalidInput(message, [rules.KNOWN_BATCH.at("batch.lot", message)])
    return batch


def check_labels(proposed: CapturedException, batch: Batch) -> None:
    """A unit named with its lot or expiry (a GS1 Digital Link may carry them) names its
    batch's, as the API holds a scan of it to."""
    problems = [
        rules.LABEL_MATCHES_BATCH.at(f"units[{i}]", f"serial {serial}: {mix_up}")
        for i, (serial, (lot, expiry)) in enumerate(zip(proposed.serials, proposed.labels, strict=True))
        if (mix_up := label_mix_up(lot, expiry, batch)) is not None
    ]
    if problems:
        raise InvalidInput(rules.summary(problems), problems)


def line_unknown(event: dict[str, Any]) -> InvalidInput:
    read_point = (event.get("readPoint") or {}).get("id")
    message = (
        f"the read point {read_point!r} is no registered line's: an exception record names the line it happened "
        "on (a line registered moments ago may not have reached line exceptions yet)"
    )
    return InvalidInput(message, [rules.REGISTERED_LINE.at("line_id", message)])


def event_field(field: str) -> str:
    """Where a record's field (`units[3]`, `event_time`) was read from in the event (`epcList[3]`)."""
    match = _INDEXED.match(field)
    if match is None or match.group(1) not in _FIELDS:
        return field  # read from the event: named there already
    name = match.group(1)
    return _FIELDS[name] + (match.group(2) or "" if name == "units" else "")


def _meaning(event: dict[str, Any]) -> tuple[ExceptionType, str, str | None]:
    """The exception type an event records, its step and its disposition; anything the table
    does not map is refused, never guessed."""
    kind, action = event.get("type"), event.get("action")
    step, disposition = cbv_word(event.get("bizStep"), "BizStep"), cbv_word(event.get("disposition"), "Disp")
    problem: Violation | None = None
    if kind != "ObjectEvent":
        message = f"line exceptions records ObjectEvents (decommissioning, destroying, sampling), not {kind!r}"
        problem = rules.CAPTURED_EXCEPTION.at("type", message)
    elif step not in _TYPES:
        message = f"line exceptions records bizStep decommissioning, destroying or sampling, not {step!r}"
        problem = rules.CAPTURED_EXCEPTION.at("bizStep", message)
    elif action not in _ACTIONS[step]:
        message = f"a {step} takes units out of the supply chain: action {' or '.join(_ACTIONS[step])}, not {action!r}"
        problem = rules.CAPTURED_EXCEPTION.at("action", message)
    elif disposition not in _TYPES[step] or (disposition != _STATED.get((step, action), disposition)):
        problem = rules.CAPTURED_EXCEPTION.at("disposition", _disposition_expected(step, action, disposition))
    if problem is not None:
        raise InvalidInput(problem.message, [problem])
    assert step is not None
    return _TYPES[step][disposition], step, disposition


def _disposition_expected(step: str, action: str, disposition: str | None) -> str:
    stated = _STATED.get((step, action))
    allowed = [stated] if stated else [d for d in _TYPES[step] if d is not None]
    none = "" if stated or None not in _TYPES[step] else ", or none"
    given = "none" if disposition is None else repr(disposition)
    return (
        f"a {step} ({action}) is recorded with disposition {', '.join(allowed)}{none}, "
        f"which says what became of its units; not {given}"
    )


@dataclass(frozen=True)
class _Unit:
    gtin: str
    serial: str
    lot: str | None
    expiry: date | None


def _unit(epc: Any, where: str, problems: list[Violation]) -> _Unit | None:
    """An SGTIN in any form EPCIS names one (EPC URI; GS1 Digital Link, which may also carry
    its lot and expiry, as a scan does)."""
    if not isinstance(epc, str) or not epc:
        problems.append(rules.CAPTURED_EXCEPTION.at(where, f"{epc!r} is not an identifier"))
        return None
    try:
        scan = parse_scan(epc)
        expiry = scan.expiry
    except IdentifierError as error:
        problems.append(rule_of(error).at(where, f"{epc!r}: {error}"))
        return None
    found = scan.object
    if found.kind is not SGTIN or found.gtin is None or found.serial is None:
        message = (
            f"{epc!r} is not a unit (an SGTIN): a case or pallet is recorded whole through POST /v1/exceptions, "
            "where cascade says whether its contents went with it"
        )
        problems.append(rules.CAPTURED_EXCEPTION.at(where, message))
        return None
    return _Unit(found.gtin, found.serial, scan.lot, expiry)


def _time(text: Any, problems: list[Violation]) -> datetime | None:
    """The event time with the offset it was written with."""
    try:
        when = moment(str(text))
    except (ValueError, OverflowError):
        when = None
    if when is None or when.tzinfo is None:
        message = f"{text!r} is not a date-time with its offset"
        problems.append(rules.CAPTURED_EXCEPTION.at("eventTime", message))
        return None
    return when
