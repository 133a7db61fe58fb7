"""What serial issuance does with an EPCIS capture: the commissioning events EPCIS reporting
routed to it are commissioned here, with the same rules as a commissioning posted to its API
(serials issued for the product and batch, commissioned once, on a registered line, while the
batch exists), and its decision is recorded for the capture job.

A document's events arrive in several messages, then the one that ends the capture: the
commissionings are kept until then and decided at once, so that under `rollback` one refused
event leaves every other unrecorded too (each is tried in a unit nested in the decision's: it
fails alone; the decision's savepoint then undoes those that did not)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from serialtrail_contracts.epcis import (
    PER_EVENT,
    CaptureFinished,
    CaptureReceived,
    ErrorBehaviour,
    EventError,
    EventsCaptured,
    refusal_records,
)
from serialtrail_contracts.identity import Scope
from serialtrail_contracts.serials import CaptureDecided
from serialtrail_kit.errors import DomainError
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import UnitOfWork
from serialtrail_kit.writes.reactor import keep_part, take_parts

from serial_issuance.application.commands import Commission
from serial_issuance.application.handlers import SerialIssuanceHandlers
from serial_issuance.domain import captured
from serial_issuance.domain.owners import batch_owner, line_owner
from serial_issuance.domain.rules import COMMISSIONED

OWNER = "serial_issuance"  # as EPCIS reporting names the owner of commissioning events


class _Undo(Exception):
    """Under rollback, a refused event undoes the others."""


def stream_id(capture_id: str) -> str:
    return f"capture-{capture_id}"


class CapturedCommissionings:
    name = "epcis_commissioning"
    source = "epcis_reporting"
    event_types = (CaptureReceived.EVENT_TYPE, EventsCaptured.EVENT_TYPE, CaptureFinished.EVENT_TYPE)

    def __init__(self, handlers: SerialIssuanceHandlers) -> None:
        self.handlers = handlers

    async def react(self, event: RecordedEvent, work: UnitOfWork) -> None:
        payload = event.payload
        capture_id = str(payload["capture_id"])
        if event.event_type == CaptureReceived.EVENT_TYPE:  # whose behalf the capture is on
            await keep_part(work, self.name, capture_id, event.stream_version, {"scope": payload["scope"]})
        elif event.event_type == EventsCaptured.EVENT_TYPE:
            share = [e for e in payload["events"] if e.get("owner") == OWNER]
            if share:
                await keep_part(work, self.name, capture_id, event.stream_version, share)
        elif event.event_type == CaptureFinished.EVENT_TYPE:
            parts = await take_parts(work, self.name, capture_id)
            if OWNER not in payload.get("owners", ()):
                return
            # Whose behalf: its sender's scope (none known, as good as none: nothing is within it).
            scopes = [Scope.from_json(part["scope"]) for part in parts if isinstance(part, dict)]
            capturer = scopes[0] if scopes else Scope.nothing()
            share = [e for part in parts if isinstance(part, list) for e in part]
            finished = CaptureFinished.model_validate(payload)
            work.record(stream_id(capture_id), 0, await self._decide(finished, capturer, share, work))

    async def _decide(
        self, finished: CaptureFinished, capturer: Scope, share: list[dict[str, Any]], work: UnitOfWork
    ) -> list[CaptureDecided]:
        applied, refusals = 0, list[list[EventError]]()
        rollback = finished.behaviour is ErrorBehaviour.rollback
        try:
            async with work.conn.transaction():
                for event in share:
                    errors = await self._commission(finished.capture_id, capturer, event, work)
                    if errors:
                        refusals.append(errors)
                    else:
                        applied += 1
                if refusals and rollback:
                    raise _Undo
        except _Undo:
            applied = 0
        records = refusal_records(refusals)
        return [
            CaptureDecided(
                capture_id=finished.capture_id,
                owner=OWNER,
                applied=applied if last else 0,
                refused_count=len({error.index for error in errors}),
                refused=errors,
                rolled_back=bool(refusals) and rollback,
                last=last,
            )
            for number, errors in enumerate(records, start=1)
            if (last := number == len(records)) or errors
        ]

    async def _commission(
        self, capture_id: uuid.UUID, capturer: Scope, event: dict[str, Any], work: UnitOfWork
    ) -> list[EventError]:
        index, event_id = event["index"], event["event_id"]
        body = orjson.loads(event["event_json"])
        try:
            proposed = captured.read(body)
            load = self.handlers.loader_in(work)
            line_id = None if proposed.place is None else await load.directory.line_at_place(*proposed.place)
            if line_id is None:
                raise captured.line_unknown(body)
            line = await load.line(line_id)
            batch = await load.batch(proposed.gtin, proposed.lot)
            captured.check_scope(capturer, proposed, line_owner(line), batch_owner(batch))
            command = Commission(
                commissioning_id=uuid.uuid5(capture_id, event_id),  # the same event, the same commissioning
                gtin=proposed.gtin,
                serials=proposed.serials,
                epcs=[],
                scans=[],
                lot=proposed.lot,
                expiry=proposed.expiry,
                line=line,
                event_time=proposed.event_time,
            )
            await self.handlers.commission(command, work.meta, within=work)
        except DomainError as error:
            problems = error.violations or [COMMISSIONED.at("", error.detail)]
            if len(problems) > PER_EVENT:
                more = f"{len(problems) - PER_EVENT} more problem(s) with this event, not listed"
                problems = [*problems[:PER_EVENT], COMMISSIONED.at("", more)]
            return [
                EventError(
                    index=index,
                    event_id=event_id,
                    field=".".join(filter(None, (f"eventList[{index}]", captured.event_field(problem.field)))),
                    rule=problem.rule,
                    message=problem.message,
                    status=error.status,
                )
                for problem in problems
            ]
        return []
