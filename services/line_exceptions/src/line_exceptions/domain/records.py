"""An exception record's life, decided without I/O: what recording it means for the units it
names, and which state changes its history allows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.exception_vocabulary import VOCABULARY
from serialtrail_contracts.exceptions import (
    DecommissionUndone,
    ExceptionCancelled,
    ExceptionRecorded,
    ExceptionResolved,
    ExceptionType,
    InvestigationStarted,
    Outcome,
    SerialsDecommissioned,
)
from serialtrail_gs1.identity import SGTIN
from serialtrail_gs1.scan import parse_object_id
from serialtrail_kit.errors import Conflict, InvalidInput, Violation

from line_exceptions.domain import rules


class State(StrEnum):
    open = "open"
    under_investigation = "under-investigation"
    resolved = "resolved"
    cancelled = "cancelled"


CLOSED = frozenset({State.resolved, State.cancelled})
MAX_UNITS = 10_000  # units, and parents, one record names at most


def stream_id(exception_id: UUID) -> str:
    return f"exception-{exception_id}"


@dataclass(frozen=True)
class Line:
    line_id: str
    read_point: str
    biz_location: str
    site_gln: str
    cmo_id: str | None


@dataclass(frozen=True)
class Batch:
    gtin: str
    lot: str
    cmo_id: str | None
    expiry: date | None = None


def label_mix_up(lot: str | None, expiry: date | None, batch: Batch) -> str | None:
    """What is wrong with a unit's label (the lot and expiry its scan carried, if any) for
    `batch`: a label of another batch is a mix-up (a wrong-label record is what records one)."""
    if lot is not None and lot != batch.lot:
        return f"its label says lot {lot}, not {batch.lot} (a label of another batch is a wrong-label record)"
    if expiry is not None and batch.expiry is not None and expiry != batch.expiry:
        return f"its label says expiry {expiry}, but batch {batch.lot} expires {batch.expiry}"
    return None


@dataclass(frozen=True)
class Record:
    """A record as folded from its stream."""

    exception_id: UUID
    exception_type: ExceptionType
    takes_out: int  # how many units it took out of the supply chain (undone ones included)
    state: State
    version: int
    gtin: str
    lot: str
    site_gln: str  # where its units were taken out
    event_time: datetime


def fold(events: Sequence[EventContract]) -> Record | None:
    record: Record | None = None
    for event in events:
        if isinstance(event, ExceptionRecorded):
            record = Record(
                event.exception_id,
                event.exception_type,
                0,
                State.open,
                0,
                event.gtin,
                event.lot,
                event.site_gln,
                event.event_time,
            )
        elif record is None:
            continue
        elif isinstance(event, SerialsDecommissioned):
            record = _with(record, takes_out=record.takes_out + len(event.serials))
        elif isinstance(event, InvestigationStarted):
            record = _with(record, state=State.under_investigation)
        elif isinstance(event, ExceptionResolved):
            record = _with(record, state=State.resolved)
        elif isinstance(event, ExceptionCancelled):
            record = _with(record, state=State.cancelled)
    return None if record is None else _with(record, version=len(events))


def _with(record: Record, **changes: Any) -> Record:
    return replace(record, **changes)


@dataclass(frozen=True)
class RecordException:
    exception_id: UUID
    exception_type: ExceptionType
    batch: Batch
    serials: tuple[str, ...]  # as parsed: the SGTINs' serial numbers, each of the batch's GTIN
    replacement: str | None
    parents: tuple[str, ...]  # canonical Digital Link URIs of cases, pallets or bundles
    cascade: bool  # take out every unit below the parents too
    line: Line
    event_time: datetime
    description: str
    observed_by: str


@dataclass(frozen=True)
class Contents:
    """What is below one parent, as aggregation last said."""

    known: bool  # aggregation has seen something packed into it
    open_parents: tuple[str, ...] = ()  # itself or parents below it that are not closed
    units: tuple[str, ...] = ()  # the objects at the bottom (nothing packed into them)


@dataclass(frozen=True)
class Below:
    """A parent's contents as units of the record's batch: their serials (of the batch's GTIN),
    and how many objects at the bottom are anything else (another GTIN, an empty case)."""

    contents: Contents
    serials: tuple[str, ...]
    others: int


def of_batch(contents: Contents, gtin: str) -> Below:
    """A parent's contents as units of the batch's GTIN (stored ids are canonical URIs)."""
    serials: list[str] = []
    others = 0
    for uri in contents.units:
        found = parse_object_id(uri)
        if found.kind is SGTIN and found.gtin == gtin and found.serial is not None:
            serials.append(found.serial)
        else:
            others += 1
    return Below(contents, tuple(serials), others)


@dataclass(frozen=True)
class Units:
    """What the records say of the serials a command names (of the batch's GTIN), and of the
    units below the parents it names."""

    lot_of: Mapping[str, str]  # serial → the lot it was commissioned into
    taken_out_by: Mapping[str, UUID]  # serial → the record that took it out
    replaced_by: Mapping[str, UUID]  # serial → the rework record it is the replacement in
    below: Mapping[str, Below]  # parent URI → what is below it
    commissioned_at: Mapping[str, datetime]  # serial → when it was commissioned


def check_request(command: RecordException) -> list[Violation]:
    """What the request says of itself: each unit once; a replacement exactly for rework."""
    found = rules.named_twice(command.serials, "units", "serial")
    reworked = command.exception_type is ExceptionType.rework
    if reworked and (command.replacement is None or len(command.serials) != 1):
        message = "a rework names exactly one reworked unit and its replacement serial"
        found.append(rules.REPLACEMENT_FOR_REWORK.at("replacement", message))
    elif not reworked and command.replacement is not None:
        message = f"a {command.exception_type.value} record names no replacement (only a rework does)"
        found.append(rules.REPLACEMENT_FOR_REWORK.at("replacement", message))
    if reworked and command.parents:
        message = "a rework names one unit, not parents"
        found.append(rules.REPLACEMENT_FOR_REWORK.at("parents", message))
    if not (command.serials or command.parents):
        message = "name the units or parents that went wrong"
        found.append(rules.NAMES_UNITS.at("units", message))
    found += rules.named_twice(command.parents, "parents", "parent")
    if command.cascade and not (command.parents and VOCABULARY[command.exception_type].takes_out):
        message = f"a cascade takes out the units below the parents named; a {command.exception_type.value} record " + (
            "names none" if not command.parents else "takes no unit out of the supply chain"
        )
        found.append(rules.CASCADE.at("cascade", message))
    return found


def record(command: RecordException, units: Units) -> list[EventContract]:
    """The record, and the units it takes out of the supply chain when its type does."""
    _refuse_unknown_units(command, units)
    _refuse_before_commissioning(command, units)
    _refuse_parents(command, units)
    meaning = VOCABULARY[command.exception_type]
    if meaning.takes_out:
        _refuse_taken_out(command, units)
    if command.replacement is not None:
        _refuse_used_replacement(command, units)
    recorded = ExceptionRecorded(
        exception_id=command.exception_id,
        exception_type=command.exception_type,
        gtin=command.batch.gtin,
        lot=command.batch.lot,
        serials=command.serials,
        replacement_serial=command.replacement,
        parents=command.parents,
        cascade=command.cascade,
        line_id=command.line.line_id,
        read_point=command.line.read_point,
        biz_location=command.line.biz_location,
        site_gln=command.line.site_gln,
        cmo_id=command.batch.cmo_id,
        event_time=command.event_time,
        description=command.description,
        observed_by=command.observed_by,
    )
    if meaning.decommission is None:
        return [recorded]
    taken_out: list[EventContract] = []
    for parent_id, serials in [(None, command.serials), *_cascaded(command, units)]:
        if serials:
            taken_out.append(
                SerialsDecommissioned(
                    exception_id=command.exception_id,
                    gtin=command.batch.gtin,
                    serials=serials,
                    reason=meaning.decommission,
                    line_id=command.line.line_id,
                    event_time=command.event_time,
                    parent_id=parent_id,
                )
            )
    return [recorded, *taken_out]


def _cascaded(command: RecordException, units: Units) -> list[tuple[str, tuple[str, ...]]]:
    """Each parent's units still in the supply chain, each unit once (named units, and units
    below an earlier parent, are taken out there)."""
    if not command.cascade:
        return []
    done = set(command.serials)
    found: list[tuple[str, tuple[str, ...]]] = []
    for parent in command.parents:
        serials = [s for s in units.below[parent].serials if s not in done and s not in units.taken_out_by]
        done.update(serials)
        found.append((parent, tuple(serials)))
    return found


def parents_of_batch(
    parents: Sequence[str], below: Mapping[str, Below], lot_of: Mapping[str, str], lot: str
) -> list[Violation]:
    """Each parent is known to hold units of the batch, and none known to be of another (a unit
    not yet known as commissioned may be pending). Another party's parent answers exactly as an
    unknown one."""
    found: list[Violation] = []
    for index, parent in enumerate(parents):
        contents = below.get(parent)
        lots = {lot_of[s] for s in contents.serials if s in lot_of} if contents else set()
        if contents is None or not contents.contents.known or contents.others or lots != {lot}:
            message = f"{parent} is not known as a parent holding units of batch {lot} only"
            found.append(rules.PARENT_OF_BATCH.at(f"parents[{index}]", message))
    return found


def _refuse_parents(command: RecordException, units: Units) -> None:
    """Parents of the batch only; a cascade covers closed parents only."""
    found = parents_of_batch(command.parents, units.below, units.lot_of, command.batch.lot)
    if found:
        raise InvalidInput(rules.summary(found), found)
    opened: list[Violation] = []
    for index, parent in enumerate(command.parents if command.cascade else ()):
        below = units.below[parent]
        pending = [s for s in below.serials if s not in units.lot_of]
        if below.contents.open_parents:
            message = f"{below.contents.open_parents[0]} is open: units may still be packed or unpacked there"
            opened.append(rules.SETTLED_PARENT.at(f"parents[{index}]", message + "; close it first"))
        elif pending:
            message = f"serial {pending[0]} below {parent} is pending (not known as commissioned yet)"
            opened.append(rules.SETTLED_PARENT.at(f"parents[{index}]", message + "; a cascade would orphan it"))
    if opened:
        raise Conflict(rules.summary(opened), opened)


def _refuse_unknown_units(command: RecordException, units: Units) -> None:
    found: list[Violation] = []
    named = [(f"units[{i}]", s) for i, s in enumerate(command.serials)]
    if command.replacement is not None:
        named.append(("replacement", command.replacement))
    for where, serial in named:
        lot = units.lot_of.get(serial)
        if lot is None:
            found.append(
                rules.COMMISSIONED.at(where, f"GTIN {command.batch.gtin} serial {serial} is not known as commissioned")
            )
        elif lot != command.batch.lot:
            message = (
                f"GTIN {command.batch.gtin} serial {serial} was commissioned into batch {lot}, not {command.batch.lot}"
            )
            found.append(rules.UNIT_OF_BATCH.at(where, message))
    if found:
        raise InvalidInput(rules.summary(found), found)


def _refuse_before_commissioning(command: RecordException, units: Units) -> None:
    """Nothing goes wrong with a unit before it exists."""
    below = [serial for each in units.below.values() for serial in each.serials] if command.cascade else []
    found = [
        rules.AFTER_COMMISSIONING.at(
            "event_time", f"serial {serial} was commissioned at {units.commissioned_at[serial].isoformat()}, after it"
        )
        for serial in (*command.serials, *below)
        if serial in units.commissioned_at and command.event_time < units.commissioned_at[serial]
    ][:1]
    if found:
        raise Conflict(rules.summary(found), found)


def _refuse_taken_out(command: RecordException, units: Units) -> None:
    found = [
        rules.IN_SUPPLY_CHAIN.at(
            f"units[{i}]",
            f"serial {serial} was taken out of the supply chain by exception {units.taken_out_by[serial]}",
        )
        for i, serial in enumerate(command.serials)
        if serial in units.taken_out_by
    ]
    if found:
        raise Conflict(rules.summary(found), found)


def _refuse_used_replacement(command: RecordException, units: Units) -> None:
    replacement = command.replacement
    assert replacement is not None
    reasons = {
        "is among the units reworked": replacement in command.serials,
        f"was taken out of the supply chain by exception {units.taken_out_by.get(replacement)}": (
            replacement in units.taken_out_by
        ),
        f"already replaced a unit (exception {units.replaced_by.get(replacement)})": replacement in units.replaced_by,
    }
    for reason, applies in reasons.items():
        if applies:
            message = f"replacement serial {replacement} {reason}"
            raise Conflict(message, [rules.REPLACEMENT_UNUSED.at("replacement", message)])


def investigate(record: Record, note: str) -> InvestigationStarted:
    if record.state is not State.open:
        _refuse_state(record, "an investigation starts on an open record")
    return InvestigationStarted(exception_id=record.exception_id, note=note)


def resolve(record: Record, outcome: Outcome, reason: str, *, signed: bool) -> ExceptionResolved:
    if record.state in CLOSED:
        _refuse_state(record, "a closed record changes no more")
    if record.takes_out and not signed:
        message = (
            f"this record took {record.takes_out} unit(s) out of the supply chain: resolving it needs a QA signature"
        )
        raise InvalidInput(message, [rules.SIGNED_BY_QA.at("signature", message)])
    return ExceptionResolved(exception_id=record.exception_id, outcome=outcome, reason=reason)


def cancel(record: Record, reason: str) -> ExceptionCancelled:
    if record.state in CLOSED:
        _refuse_state(record, "a closed record changes no more")
    if record.takes_out:
        message = f"this record took {record.takes_out} unit(s) out of the supply chain: resolve it instead"
        raise Conflict(message, [rules.NOT_TAKEN_OUT.at("state", message)])
    return ExceptionCancelled(exception_id=record.exception_id, reason=reason)


def _refuse_state(record: Record, why: str) -> None:
    message = f"the record is {record.state.value}; {why}"
    raise Conflict(message, [rules.STATE.at("state", message)])


UNDO_WINDOW = timedelta(days=10)


@dataclass(frozen=True)
class UndoDecommission:
    exception_id: UUID
    serials: tuple[str, ...]  # the units to put back; none named: every unit still out by the record
    reason: str
    line: Line  # where it is undone
    event_time: datetime


def undo(
    record: Record, command: UndoDecommission, out: Sequence[str], expiry: date, now: datetime
) -> DecommissionUndone:
    """Put units the record took out back in the supply chain, as far as the EU FMD rules allow.
    `out`: the units still out by this record; `expiry`: its batch's; `now`: the server's clock,
    which the 10 days and the expiry are measured by (a client's clock may be set back)."""
    if record.state in CLOSED:
        _refuse_state(record, "a closed record changes no more")
    refusal = _undo_refusal(record, command, expiry, now)
    if refusal is not None:
        raise Conflict(refusal.message, [refusal])
    serials = command.serials or tuple(out)
    twice = rules.named_twice(command.serials, "units", "serial")
    if twice:
        raise InvalidInput(rules.summary(twice), twice)
    not_out = [
        rules.UNDO_TAKEN_OUT.at(f"units[{i}]", f"serial {serial} is not out of the supply chain by this record")
        for i, serial in enumerate(command.serials)
        if serial not in out
    ]
    if not serials:
        not_out.append(rules.UNDO_TAKEN_OUT.at("units", "no unit is out of the supply chain by this record"))
    if not_out:
        raise Conflict(rules.summary(not_out), not_out)
    return DecommissionUndone(
        exception_id=record.exception_id,
        gtin=record.gtin,
        serials=serials,
        reason=command.reason,
        line_id=command.line.line_id,
        event_time=command.event_time,
    )


def _undo_refusal(record: Record, command: UndoDecommission, expiry: date, now: datetime) -> Violation | None:
    """The first EU FMD rule the undo breaks, if any."""
    meaning = VOCABULARY[record.exception_type]
    since = min(command.event_time, now) - record.event_time
    late = now - record.event_time > UNDO_WINDOW
    if not meaning.undo_allowed:
        state = meaning.eu_fmd_state.value if meaning.eu_fmd_state else record.exception_type.value
        return rules.UNDO_ALLOWED.at("state", f"a {record.exception_type.value} pack ({state}) is never put back")
    if since < timedelta(0) or since > UNDO_WINDOW or late:
        message = f"the units were taken out at {record.event_time.isoformat()}: an undo is within 10 days after"
        return rules.UNDO_WITHIN_10_DAYS.at("event_time", message)
    if command.line.site_gln != record.site_gln:
        message = f"taken out at site {record.site_gln}; line {command.line.line_id} is at {command.line.site_gln}"
        return rules.UNDO_SAME_LOCATION.at("line_id", message)
    if expiry < max(command.event_time, now).date():
        message = f"batch {record.lot} expired on {expiry.isoformat()}: its packs are not put back"
        return rules.UNDO_BATCH_NOT_EXPIRED.at("batch", message)
    return None
