"""What line exceptions does with an EPCIS capture: the decommissioning, destroying and sampling
ObjectEvents EPCIS reporting routed to it become exception records here, with the same rules
and the same ownership checks as a record posted to its API (`POST /v1/exceptions`), on the
sender's behalf: units commissioned into one batch the sender may see, on a registered line of
its own, not taken out of the supply chain before, the record's time not before their
commissioning. How the event reads as a record (its type, what EPCIS does not carry) is
`domain.captured`; how a capture's events are kept until it ends and decided at once is every
owner's (`serialtrail_gs1.captured_share`).

Recording a record takes no QA signature, through the API or here: the record is made open,
and resolving one that took units out of the supply chain needs QA's e-signature, as always.

Everything is read through the unit the capture is decided in: the write side (which units are
out, current under the log's lock, earlier events of the same capture included) and the read
models (lines, batches, commissioned units, as serial issuance last told)."""

from __future__ import annotations

from serialtrail_contracts.exceptions import CaptureDecided
from serialtrail_gs1.captured_share import Captured, CapturedShare
from serialtrail_kit.declaration import NotAhead
from serialtrail_kit.writes.model import UnitOfWork

from line_exceptions.application.handlers import ExceptionHandlers
from line_exceptions.domain import captured
from line_exceptions.domain.captured import Commissioned
from line_exceptions.domain.records import RecordException
from line_exceptions.domain.rules import RECORDED_AS_CAPTURED
from line_exceptions.projections import knowledge


class CapturedExceptions(CapturedShare):
    name = "epcis_exceptions"
    owner = "line_exceptions"  # as EPCIS reporting names the owner of decommissioning, destroying, sampling
    decision = CaptureDecided
    refused = RECORDED_AS_CAPTURED

    def __init__(self, handlers: ExceptionHandlers, not_ahead: NotAhead) -> None:
        self.handlers = handlers
        self.not_ahead = not_ahead

    async def apply(self, event: Captured, work: UnitOfWork) -> None:
        proposed = captured.read(event.event)
        line = None if proposed.place is None else await knowledge.line_at_place(work.conn, *proposed.place)
        if line is None:
            raise captured.line_unknown(event.event)
        captured.check_scope(event.capturer, proposed, line)  # before any unit or batch is looked at
        found = await knowledge.commissionings(work.conn, proposed.gtin, proposed.serials)
        known = {serial: Commissioned(c.lot, c.line_id, c.cmo_id) for serial, c in found.items()}
        lot = captured.batch_lot(event.capturer, proposed, known)
        batch = captured.check_batch_scope(
            event.capturer, proposed.gtin, lot, await knowledge.batch(work.conn, proposed.gtin, lot)
        )
        captured.check_labels(proposed, batch)
        command = RecordException(
            exception_id=captured.exception_id(event.capture_id, event.event_id),
            exception_type=proposed.exception_type,
            batch=batch,
            serials=proposed.serials,
            replacement=None,
            parents=(),
            cascade=False,
            line=line,
            event_time=self.not_ahead(proposed.event_time, "event_time"),
            description=proposed.description(event.event_id),
            observed_by=captured.observer(event.capture_id),
        )
        await self.handlers.record(command, work.meta, event.capturer, within=work)

    @classmethod
    def field_in_event(cls, field: str) -> str:
        return captured.event_field(field)  # only the units' index is the event's (epcList[3])
