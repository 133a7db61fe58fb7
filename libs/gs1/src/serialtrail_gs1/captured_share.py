"""The events of an EPCIS capture routed to the service that owns what they mean, seen from that
service: one reactor shape for every owner (serial issuance's commissionings, aggregation's packing,
line exceptions' decommissions).

EPCIS reporting records a capture as `CaptureReceived` (whose behalf: the sender's scope), its
events in several `EventsCaptured` (each naming its owner), then `CaptureFinished` (the behaviour,
the owners that must answer). The owner keeps its share as it arrives (`keep_part`) and decides on it
at once when the capture ends: each event applied in a unit nested in the decision's (a savepoint:
it fails alone), under `rollback` one refusal undoing every other, and records its decision
(`CaptureDecision`, in as many records as its refusals need) on its own log, for the capture job.
A capture with several owners under rollback is decided in two steps: each owner checks its share
(everything undone, its decision `prepared`), and records it only when EPCIS reporting commits the
capture (`CaptureCommitted.apply`: no owner refused anything); otherwise none records anything.

An owner subclasses `CapturedShare`, names itself and its decision's contract, and applies one
event: `apply` records through the unit it is given, or raises a `DomainError` whose violations
name the fields of the command it would have been (`field_in_event` maps them to the event's)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from serialtrail_contracts.epcis import (
    PER_EVENT,
    CaptureCommitted,
    CaptureDecision,
    CaptureFinished,
    CaptureReceived,
    ErrorBehaviour,
    EventError,
    EventsCaptured,
    refusal_records,
)
from serialtrail_contracts.identity import Scope
from serialtrail_kit.errors import DomainError, Rule
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import UnitOfWork
from serialtrail_kit.writes.reactor import keep_part, read_parts, take_parts

SOURCE = "epcis_reporting"
_log = logging.getLogger(__name__)
_INDEXED = re.compile(r"^(\w+)(\[\d+\].*)?\Z")  # a field, and where in it: `serials[3]`


class OutOfScope(DomainError):
    """What an event names on the capturer's behalf that its key's scope does not cover (every owner
    refuses it so: 403, naming the field where the event names it, and no other party)."""

    kind, status, title = "forbidden", 403, "Not within the capturing key's scope"
    example = "the line at this read point is not within the capturing key's scope"


class _Undo(Exception):
    """Under rollback, a refused event undoes the others."""


@dataclass(frozen=True)
class Captured:
    """One event routed to its owner: the capture it came in, whose behalf, its hash id, itself."""

    capture_id: uuid.UUID
    capturer: Scope
    event_id: str  # its CBV 2.0 Event Hash ID: the same event, the same id
    event: dict[str, Any]  # EPCIS 2.0 JSON-LD, checked by EPCIS reporting


class CapturedShare:
    """A reactor on EPCIS reporting's log: what `owner` does with the events routed to it."""

    name: str
    owner: ClassVar[str]  # as EPCIS reporting names it (routing.owner_of)
    decision: ClassVar[type[CaptureDecision]]  # the owner's own contract for its decision
    refused: ClassVar[Rule]  # what a refusal without violations of its own is reported as
    source = SOURCE
    event_types = (
        CaptureReceived.EVENT_TYPE,
        EventsCaptured.EVENT_TYPE,
        CaptureFinished.EVENT_TYPE,
        CaptureCommitted.EVENT_TYPE,
    )

    async def apply(self, captured: Captured, work: UnitOfWork) -> None:
        """Record what the event means here, on the capturer's behalf, through `work`; raise a
        DomainError to refuse it."""
        raise NotImplementedError

    async def apply_together(self, events: Sequence[Captured], work: UnitOfWork) -> bool:
        """Record every event at once, when none would be refused (fewer round trips for hundreds of
        events): True. False, or a refusal raised, and nothing of it stays: each event is then
        applied alone, its refusal named. By default, never together."""
        return False

    # Where each field of the owner's command was read from in the event (`serials` → `epcList`).
    event_fields: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def field_in_event(cls, field: str) -> str:
        """Where the field a refusal names (`serials[3]`) was read from in the event (`epcList[3]`)."""
        match = _INDEXED.match(field)
        if match is None or match.group(1) not in cls.event_fields:
            return field
        return cls.event_fields[match.group(1)] + (match.group(2) or "")

    async def react(self, event: RecordedEvent, work: UnitOfWork) -> None:
        payload = event.payload
        capture_id = str(payload["capture_id"])
        if event.event_type == CaptureReceived.EVENT_TYPE:  # whose behalf the capture is on
            await keep_part(work, self.name, capture_id, event.stream_version, {"scope": payload["scope"]})
        elif event.event_type == EventsCaptured.EVENT_TYPE:
            share = [e for e in payload["events"] if e.get("owner") == self.owner]
            if share:
                await keep_part(work, self.name, capture_id, event.stream_version, share)
        elif event.event_type == CaptureFinished.EVENT_TYPE:
            finished = CaptureFinished.model_validate(payload)
            if self.owner not in finished.owners:
                await take_parts(work, self.name, capture_id)
            elif finished.prepare:  # checked now, recorded (or not) when the capture is committed
                parts = await read_parts(work, self.name, capture_id)
                work.record(stream_id(capture_id), 0, await self._decide(finished, parts, work, check_only=True))
            else:
                parts = await take_parts(work, self.name, capture_id)
                work.record(stream_id(capture_id), 0, await self._decide(finished, parts, work))
        elif event.event_type == CaptureCommitted.EVENT_TYPE:
            parts = await take_parts(work, self.name, capture_id)
            if not parts:
                return  # none of its events was this owner's
            stream = await work.version(stream_id(capture_id))
            committed = CaptureFinished(capture_id=uuid.UUID(capture_id), captured=0, owners=(self.owner,))
            if payload["apply"]:
                work.record(stream_id(capture_id), stream, await self._decide(committed, parts, work))
            else:  # another owner refused: nothing of the capture is recorded anywhere
                undone = self.decision(capture_id=committed.capture_id, owner=self.owner, applied=0, rolled_back=True)
                work.record(stream_id(capture_id), stream, [undone])

    async def _decide(
        self, finished: CaptureFinished, parts: Sequence[Any], work: UnitOfWork, *, check_only: bool = False
    ) -> list[CaptureDecision]:
        """Each event of the share applied in a nested unit; under rollback one refusal undoes the
        others; `check_only` undoes them all (what would be applied, and what refused)."""
        # Whose behalf: its sender's scope (none known, as good as none: nothing is within it).
        scopes = [Scope.from_json(part["scope"]) for part in parts if isinstance(part, dict)]
        capturer = scopes[0] if scopes else Scope.nothing()
        share = [event for part in parts if isinstance(part, list) for event in part]
        applied, refusals = 0, list[list[EventError]]()
        rollback = finished.behaviour is ErrorBehaviour.rollback
        try:
            async with work.conn.transaction():
                if await self._together(finished.capture_id, capturer, share, work):
                    applied = len(share)
                else:
                    for event in share:
                        errors = await self._applied(finished.capture_id, capturer, event, work)
                        if errors:
                            refusals.append(errors)
                        else:
                            applied += 1
                if (refusals and rollback) or check_only:
                    raise _Undo
        except _Undo:
            applied = applied if check_only and not (refusals and rollback) else 0
        records = refusal_records(refusals)
        return [
            self.decision(
                capture_id=finished.capture_id,
                owner=self.owner,
                applied=applied if last else 0,
                refused_count=len({error.index for error in errors}),
                refused=errors,
                rolled_back=bool(refusals) and rollback,
                last=last,
                prepared=check_only,
            )
            for number, errors in enumerate(records, start=1)
            if (last := number == len(records)) or errors
        ]

    async def _together(
        self, capture_id: uuid.UUID, capturer: Scope, share: Sequence[dict[str, Any]], work: UnitOfWork
    ) -> bool:
        events = [Captured(capture_id, capturer, e["event_id"], orjson.loads(e["event_json"])) for e in share]
        try:
            async with work.conn.transaction():  # what a failed attempt recorded is undone with it
                if not await self.apply_together(events, work):
                    raise _Undo
        except (_Undo, DomainError, ValueError, KeyError, TypeError, OverflowError):
            return False
        return True

    async def _applied(
        self, capture_id: uuid.UUID, capturer: Scope, event: dict[str, Any], work: UnitOfWork
    ) -> list[EventError]:
        """The event applied (no errors), or why it was not."""
        index, event_id = event["index"], event["event_id"]
        try:
            await self.apply(Captured(capture_id, capturer, event_id, orjson.loads(event["event_json"])), work)
        except (ValueError, KeyError, TypeError, OverflowError) as error:  # not one this owner can read
            _log.warning("%s: event %s of capture %s could not be read", self.name, index, capture_id, exc_info=True)
            problems, status = [self.refused.at("", f"the event could not be read here: {error}")], 422
        except DomainError as error:
            problems, status = error.violations or [self.refused.at("", error.detail)], error.status
        else:
            return []
        if len(problems) > PER_EVENT:
            more = f"{len(problems) - PER_EVENT} more problem(s) with this event, not listed"
            problems = [*problems[:PER_EVENT], self.refused.at("", more)]
        return [
            EventError(
                index=index,
                event_id=event_id,
                field=".".join(filter(None, (f"eventList[{index}]", self.field_in_event(problem.field)))),
                rule=problem.rule,
                message=problem.message,
                status=status,
            )
            for problem in problems
        ]


def stream_id(capture_id: str) -> str:
    """The owner's stream of its decision on a capture."""
    return f"capture-{capture_id}"
