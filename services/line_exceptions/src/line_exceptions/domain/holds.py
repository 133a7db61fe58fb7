"""Containment holds, decided without I/O: what a hold names, and that it is lifted once, with
a QA signature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.exceptions import HoldLifted, HoldPlaced
from serialtrail_kit.errors import Conflict, InvalidInput, Violation

from line_exceptions.domain import rules
from line_exceptions.domain.records import Batch, Below, Line, parents_of_batch


def stream_id(hold_id: UUID) -> str:
    return f"hold-{hold_id}"


@dataclass(frozen=True)
class PlaceHold:
    hold_id: UUID
    batch: Batch
    whole_batch: bool
    serials: tuple[str, ...]
    parents: tuple[str, ...]
    reason: str
    event_time: datetime
    line: Line | None = None  # the line whose hold it is; none: the batch's, at every line
    window: tuple[datetime, datetime] | None = None  # the line's output in [start, end)


@dataclass(frozen=True)
class Hold:
    hold_id: UUID
    active: bool
    version: int


def fold(events: Sequence[EventContract]) -> Hold | None:
    hold: Hold | None = None
    for event in events:
        if isinstance(event, HoldPlaced):
            hold = Hold(event.hold_id, True, 0)
        elif isinstance(event, HoldLifted) and hold is not None:
            hold = Hold(hold.hold_id, False, 0)
    return None if hold is None else Hold(hold.hold_id, hold.active, len(events))


def place(
    command: PlaceHold, lot_of: Mapping[str, str], below: Mapping[str, Below], output: Sequence[str] = ()
) -> HoldPlaced:
    """`lot_of`: the lot each named serial, and each unit below a named parent, was commissioned
    into (of the batch's GTIN); `below`: what is below each parent named; `output`: for a window
    hold, the batch's units known as commissioned on the line in the window so far."""
    _refuse_scope(command)
    # A window may hold no unit known yet: a line often sends its commissioning after the fact,
    # and what it then sends for the window is held as it arrives (aggregation holds it by line
    # and time).
    found: list[Violation] = []
    for index, serial in enumerate(command.serials):
        lot = lot_of.get(serial)
        if lot is None:
            message = f"GTIN {command.batch.gtin} serial {serial} is not known as commissioned"
            found.append(rules.COMMISSIONED.at(f"units[{index}]", message))
        elif lot != command.batch.lot:
            message = (
                f"GTIN {command.batch.gtin} serial {serial} was commissioned into batch {lot}, not {command.batch.lot}"
            )
            found.append(rules.UNIT_OF_BATCH.at(f"units[{index}]", message))
    found += parents_of_batch(command.parents, below, lot_of, command.batch.lot)
    if found:
        raise InvalidInput(found[0].message, found)
    return HoldPlaced(
        hold_id=command.hold_id,
        gtin=command.batch.gtin,
        lot=command.batch.lot,
        whole_batch=command.whole_batch,
        serials=tuple(dict.fromkeys((*command.serials, *output))),
        parents=tuple(dict.fromkeys(command.parents)),
        cmo_id=command.batch.cmo_id,
        reason=command.reason,
        event_time=command.event_time,
        line_id=command.line.line_id if command.line else None,
        window_start=command.window[0] if command.window else None,
        window_end=command.window[1] if command.window else None,
    )


def _refuse_scope(command: PlaceHold) -> None:
    """A hold holds one of: its whole batch, a line's output in a window, or units and parents."""
    ways = [command.whole_batch, command.window is not None, bool(command.serials or command.parents)]
    if sum(ways) != 1:
        message = "hold the whole batch, or a line's output in a window, or name units or parents (one of them)"
        raise InvalidInput(message, [rules.HOLD_NAMES_UNITS.at("whole_batch", message)])
    if command.window is not None and command.line is None:
        message = "a window holds a line's output: name the line"
        raise InvalidInput(message, [rules.WINDOW_HOLDS_UNITS.at("line_id", message)])
    if command.window is not None and command.window[0] >= command.window[1]:
        message = "a window starts before it ends"
        raise InvalidInput(message, [rules.WINDOW_HOLDS_UNITS.at("window.end", message)])


def lift(hold: Hold, reason: str, *, signed: bool) -> HoldLifted:
    if not hold.active:
        message = "the hold was lifted already; a lifted hold changes no more"
        raise Conflict(message, [rules.HOLD_ACTIVE.at("state", message)])
    if not signed:
        message = "lifting a hold releases product: it needs a QA signature"
        raise InvalidInput(message, [rules.SIGNED_BY_QA.at("signature", message)])
    return HoldLifted(hold_id=hold.hold_id, reason=reason)
