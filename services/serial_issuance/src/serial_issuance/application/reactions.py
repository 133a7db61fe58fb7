"""What serial issuance records when other services record something about its serials."""

from __future__ import annotations

from serialtrail_contracts.exceptions import ExceptionRecorded
from serialtrail_contracts.serials import SerialReplaced
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import UnitOfWork

from serial_issuance.domain import rework


class ReworkLinks:
    """A rework recorded by line exceptions (a pack relabelled with a replacement serial, which
    that service checked was commissioned, unused and of the same batch) becomes a
    `SerialReplaced` on the reworked serial's stream here: the serial's audit trail is kept
    where the serial was issued, and published with it on the serials topic."""

    name = "rework"
    source = "line_exceptions"
    event_types = (ExceptionRecorded.EVENT_TYPE,)  # decommissions, holds, deviations: not read

    async def react(self, event: RecordedEvent, work: UnitOfWork) -> None:
        if event.event_type != ExceptionRecorded.EVENT_TYPE or not event.payload.get("replacement_serial"):
            return
        recorded = ExceptionRecorded.model_validate(event.payload)
        assert recorded.replacement_serial is not None
        for serial in recorded.serials:  # a rework names exactly one
            stream = await work.stream(rework.stream_id(recorded.gtin, serial))
            replaced = SerialReplaced(
                exception_id=recorded.exception_id,
                gtin=recorded.gtin,
                lot=recorded.lot,
                serial=serial,
                replacement_serial=recorded.replacement_serial,
                line_id=recorded.line_id,
                event_time=recorded.event_time,
            )
            work.record(stream.id, stream.version, [replaced])
