"""What aggregation does with an EPCIS capture: the packing and unpacking AggregationEvents
EPCIS reporting routed to it are packed and unpacked here, with the same rules and the same
ownership checks as a pack or unpack posted to its API (`POST /v1/pack`, `POST /v1/unpack`), on
the sender's behalf. How a capture's events are kept until it ends and decided at once is every
owner's (`serialtrail_gs1.captured_share`).

Everything is read through the unit the capture is decided in: the write side ("who holds
whom", current under the log's lock, earlier events of the same capture included) and the read
models (lines, what serial issuance published, whose a parent is). The hierarchy read model is
as far as it has got when the capture is decided: a unit cannot wait for it (it would hold the
log's lock while waiting), so what was packed in the last moments before (by the API, or earlier
in the same capture) may not count yet towards whose a parent is. What the domain decides on
(a child in one parent, no cycles, open parents, the same level) is current."""

from __future__ import annotations

from collections.abc import Sequence

from serialtrail_contracts.aggregation import CaptureDecided
from serialtrail_contracts.identity import Scope
from serialtrail_gs1.captured_share import Captured, CapturedShare
from serialtrail_kit.writes.model import UnitOfWork

from aggregation.application import write_side
from aggregation.application.handlers import AggregationHandlers
from aggregation.domain import captured, hierarchy, owners
from aggregation.domain.captured import CapturedAggregation
from aggregation.domain.hierarchy import Pack, Unpack
from aggregation.domain.objects import Line
from aggregation.domain.rules import PACKED_AS_CAPTURED
from aggregation.projections.hierarchy.queries import owner_of, packing_owner
from aggregation.projections.knowledge import lookups as knowledge


class CapturedPacking(CapturedShare):
    name = "epcis_packing"
    owner = "aggregation"  # as EPCIS reporting names the owner of packing and unpacking events
    decision = CaptureDecided
    event_fields = captured.FIELDS
    refused = PACKED_AS_CAPTURED

    def __init__(self, handlers: AggregationHandlers) -> None:
        self.handlers = handlers

    async def apply(self, event: Captured, work: UnitOfWork) -> None:
        proposed = captured.read(event.event)
        line = None if proposed.place is None else await knowledge.line_at_place(work.conn, *proposed.place)
        if line is None:
            raise captured.line_unknown(event.event)
        captured.check_scope(event.capturer, proposed, line)
        if proposed.packing:
            await self._pack(event.capturer, proposed, line, work)
        else:
            await self._unpack(event, proposed, line, work)

    async def apply_together(self, events: Sequence[Captured], work: UnitOfWork) -> bool:
        """A capture of packs only (a line's cases and pallets) as one request of many packs, as
        `POST /v1/pack` takes them: one knowledge snapshot, one unit. A parent packed earlier in the
        capture gives its level to what it is packed into, as it would from the write side."""
        proposals = [captured.read(event.event) for event in events]
        if not events or not all(p.packing for p in proposals):
            return False
        capturer = events[0].capturer  # one capture: one sender
        narrowed, lines = owners.narrowed(capturer), dict[tuple[str, str], Line | None]()
        ids = {uri for p in proposals for uri in p.objects}
        levels = await write_side.levels(work.conn, ids)
        commands, objects = [], {}
        for event, proposed in zip(events, proposals, strict=True):
            line = await self._line(work, lines, proposed)
            if line is None:
                raise captured.line_unknown(event.event)
            captured.check_scope(capturer, proposed, line)
            parent, children = proposed.parent.uri, tuple(c.uri for c in proposed.children)
            if narrowed and capturer.missing(await packing_owner(work.conn, [parent], proposed.children)) is not None:
                raise owners.outside_scope("parent")
            levels[parent] = captured.packaging_level(proposed, levels)
            commands.append(Pack(parent, levels[parent], children, line, proposed.event_time))
            objects.update(proposed.objects)
        in_scope = owners.children_in_scope(capturer)
        await self.handlers.pack(commands, objects, in_scope, work.meta, narrowed=narrowed, within=work)
        return True

    @staticmethod
    async def _line(
        work: UnitOfWork, lines: dict[tuple[str, str], Line | None], proposed: CapturedAggregation
    ) -> Line | None:
        if proposed.place is None:
            return None
        if proposed.place not in lines:
            lines[proposed.place] = await knowledge.line_at_place(work.conn, *proposed.place)
        return lines[proposed.place]

    async def _pack(self, capturer: Scope, proposed: CapturedAggregation, line: Line, work: UnitOfWork) -> None:
        """As `POST /v1/pack` by the capturer: a key narrowed to CMOs or lines packs into no parent,
        and packs no case or pallet, whose contents or line are not its own (answered as one)."""
        parent, children = proposed.parent.uri, tuple(c.uri for c in proposed.children)
        narrowed = owners.narrowed(capturer)
        if narrowed and capturer.missing(await packing_owner(work.conn, [parent], proposed.children)) is not None:
            raise owners.outside_scope("parent")
        levels = await write_side.levels(work.conn, [parent, *children])
        command = Pack(parent, captured.packaging_level(proposed, levels), children, line, proposed.event_time)
        in_scope = owners.children_in_scope(capturer)
        await self.handlers.pack([command], proposed.objects, in_scope, work.meta, narrowed=narrowed, within=work)

    async def _unpack(self, event: Captured, proposed: CapturedAggregation, line: Line, work: UnitOfWork) -> None:
        """As `POST /v1/unpack` by the capturer: a parent whose contents or line are not its own is
        answered as one that holds nothing."""
        parent = proposed.parent.uri
        if event.capturer.missing(await owner_of(work.conn, [parent])) is not None:
            raise hierarchy.nothing_packed_into(parent)
        children = tuple(c.uri for c in proposed.children) or None  # none named: every child
        comment = f"captured through EPCIS: {event.event_id}"
        command = Unpack(parent, children, proposed.reason, comment, line, proposed.event_time)
        meta = work.meta.model_copy(update={"reason": proposed.reason.value})
        await self.handlers.unpack(command, meta, within=work)
