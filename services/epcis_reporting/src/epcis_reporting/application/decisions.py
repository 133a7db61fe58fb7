"""The owners' decisions on captured events, kept where the capture job is: a service that
captured events were routed to records on its own log what it applied and what it refused; the
decision is copied to the capture's stream, so the job, the repository and "captured once" are
folds of this service's log alone. When the owners of a capture's events first check their shares
(several owners, under rollback), the last one's answer commits the capture (`CaptureCommitted`)."""

from __future__ import annotations

from serialtrail_contracts.epcis import CaptureCommitted, OwnerDecided
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import UnitOfWork

from epcis_reporting.application.capture import stream_id
from epcis_reporting.application.write_side import checks_of


class OwnerDecisions:
    def __init__(self, owner: str, decision_type: str) -> None:
        self.name = f"decisions_of_{owner}"
        self.source = owner
        self.event_types = (decision_type,)

    async def react(self, event: RecordedEvent, work: UnitOfWork) -> None:
        if event.event_type not in self.event_types:
            return
        decided = OwnerDecided.model_validate(event.payload)
        stream = stream_id(decided.capture_id)
        work.record(stream, await work.version(stream), [decided, *await _committed(decided, work)])


async def _committed(decided: OwnerDecided, work: UnitOfWork) -> list[CaptureCommitted]:
    """The last owner's check of its share commits the capture: applied if none refused anything."""
    checks = await checks_of(work.conn, work.schema, decided.capture_id) if decided.prepared else None
    if checks is None or not decided.last:
        return []
    awaiting, refused = checks
    if set(awaiting) - {decided.owner}:
        return []
    return [CaptureCommitted(capture_id=decided.capture_id, apply=not (refused or decided.refused_count))]
