"""What serial issuance does with an EPCIS capture: the commissioning events EPCIS reporting
routed to it are commissioned here, with the same rules as a commissioning posted to its API
(serials issued for the product and batch, commissioned once, on a registered line of the
sender's, into a batch of the sender's, while the batch exists). How a capture's events are
kept until it ends and decided at once is every owner's (`serialtrail_gs1.captured_share`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from serialtrail_contracts.serials import CaptureDecided
from serialtrail_gs1.captured_share import Captured, CapturedShare
from serialtrail_kit.writes.model import UnitOfWork

from serial_issuance.application.commands import Commission
from serial_issuance.application.handlers import SerialIssuanceHandlers
from serial_issuance.application.loading import RememberingLoader
from serial_issuance.domain import captured
from serial_issuance.domain.owners import batch_owner, line_owner
from serial_issuance.domain.rules import COMMISSIONED


class CapturedCommissionings(CapturedShare):
    name = "epcis_commissioning"
    owner = "serial_issuance"  # as EPCIS reporting names the owner of commissioning events
    decision = CaptureDecided
    event_fields = captured.FIELDS
    refused = COMMISSIONED

    def __init__(self, handlers: SerialIssuanceHandlers) -> None:
        self.handlers = handlers
        self._loading: tuple[UnitOfWork, RememberingLoader, dict[tuple[str, str], str | None]] | None = None

    async def apply(self, event: Captured, work: UnitOfWork) -> None:
        load, _ = self._loader(work)
        await self.handlers.commission(await self._command(event, work), work.meta, within=work, load=load)

    async def apply_together(self, events: Sequence[Captured], work: UnitOfWork) -> bool:
        load, _ = self._loader(work)
        commands = [await self._command(event, work) for event in events]
        return await self.handlers.commission_all(commands, work.meta, within=work, load=load)

    async def _command(self, event: Captured, work: UnitOfWork) -> Commission:
        """The commissioning the event is, its line and batch the sender's own."""
        proposed = captured.read(event.event)
        load, lines = self._loader(work)
        line_id = None if proposed.place is None else await self._line_at(load, lines, proposed.place)
        if line_id is None:
            raise captured.line_unknown(event.event)
        line = await load.line(line_id)
        captured.check_line_scope(event.capturer, proposed, line_owner(line))  # before a batch is looked at
        batch = await load.batch(proposed.gtin, proposed.lot)
        captured.check_batch_scope(event.capturer, proposed, batch_owner(batch))
        return Commission(
            commissioning_id=uuid.uuid5(event.capture_id, event.event_id),  # the same event, the same commissioning
            gtin=proposed.gtin,
            serials=proposed.serials,
            epcs=[],
            scans=[],
            lot=proposed.lot,
            expiry=proposed.expiry,
            line=line,
            event_time=proposed.event_time,
        )

    def _loader(self, work: UnitOfWork) -> tuple[RememberingLoader, dict[tuple[str, str], str | None]]:
        """One loader per decision (its unit): master data and pools read once for all its events."""
        if self._loading is None or self._loading[0] is not work:
            self._loading = (work, self.handlers.loader_in(work), {})
        return self._loading[1], self._loading[2]

    @staticmethod
    async def _line_at(
        load: RememberingLoader, lines: dict[tuple[str, str], str | None], place: tuple[str, str]
    ) -> str | None:
        if place not in lines:
            lines[place] = await load.directory.line_at_place(*place)
        return lines[place]
