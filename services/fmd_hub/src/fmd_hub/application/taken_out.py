"""A reactor: when line exceptions takes packs out of the supply chain (or puts them back), note
it here, under this service's log lock, so that an upload planned after it leaves them out or
sends their state after them, and a pack already planned for the hub has the change sent (once
its chunk is acknowledged, after the pack's earlier changes). An undo in a batch recalled or
withdrawn at the hub is not sent (the EU rules forbid it): the note says why."""

from __future__ import annotations

import uuid

from serialtrail_contracts.exception_vocabulary import EuFmdPackState
from serialtrail_contracts.exceptions import DecommissionReason, DecommissionUndone, SerialsDecommissioned
from serialtrail_contracts.fmd import TakenOutNoted
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import UnitOfWork

from fmd_hub.application import write_side
from fmd_hub.domain.pack_states import state_of
from fmd_hub.projections import knowledge

SOURCE = "line_exceptions"


class TakenOut:
    name = "taken_out"
    source = SOURCE
    event_types = (SerialsDecommissioned.EVENT_TYPE, DecommissionUndone.EVENT_TYPE)

    async def react(self, event: RecordedEvent, work: UnitOfWork) -> None:
        if event.event_type not in self.event_types:
            return
        p = event.payload
        undone = event.event_type == DecommissionUndone.EVENT_TYPE
        serials = tuple(p["serials"])
        planned = await write_side.planned_lots(work.conn, work.schema, p["gtin"], serials)
        refused = await _recalled(work, p["gtin"], planned) if undone else {}
        noted = TakenOutNoted(
            exception_id=uuid.UUID(p["exception_id"]),
            gtin=p["gtin"],
            serials=serials,
            state=EuFmdPackState.active if undone else state_of(DecommissionReason(p["reason"])),
            undone=undone,
            location=await _location(work, p.get("line_id")),
            to_hub={serial: lot for serial, lot in planned.items() if serial not in refused},
            refused_undo=refused,
        )
        work.record(f"fmd-taken-out-{event.event_id}", 0, [noted])


async def _recalled(work: UnitOfWork, gtin: str, planned: dict[str, str]) -> dict[str, str]:
    why = {}
    for lot in set(planned.values()):
        state = await write_side.batch_state(work.conn, work.schema, gtin, lot)
        if state is not None:
            why[lot] = f"batch {lot} is {state.lower()} at the hub: an undo is never sent after that"
    return {serial: why[lot] for serial, lot in planned.items() if lot in why}


async def _location(work: UnitOfWork, line_id: str | None) -> str:
    """The line's site (its GLN), as the hub checks an undo against; the line itself if unknown."""
    if line_id is None:
        return "unknown"
    site = await knowledge.site_of(work.conn, line_id)
    return site or f"line:{line_id}"
