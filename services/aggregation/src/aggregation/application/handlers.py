"""Command handlers: check the request, then in a unit of work (the log's append lock held)
load the part of the hierarchy it touches, decide in the domain and record; the write side
("who holds whom") is folded from the recorded events in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from serialtrail_gs1.identity import ObjectId
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.errors import InvalidInput, Violation
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import UnitOfWork, WriteModel

from aggregation.application import write_side
from aggregation.application.write_side import Change
from aggregation.domain import hierarchy
from aggregation.domain.hierarchy import Close, Hierarchy, InScope, Pack, Unpack
from aggregation.domain.objects import Knowledge
from aggregation.projections.knowledge import lookups as knowledge


class AggregationHandlers:
    def __init__(self, writes: WriteModel, pool: Pool) -> None:
        self.writes = writes
        self.pool = pool

    async def pack(
        self,
        packs: Sequence[Pack],
        objects: Mapping[str, ObjectId],
        in_scope: InScope,
        meta: RecordMetadata,
        lot_of: LotOf = lambda _uri: None,
    ) -> list[Change]:
        """All packs or none. `objects` holds the parsed form of every id the packs name;
        `lot_of` the lot a child's scan carried, if any."""
        violations = hierarchy.check_request(packs)
        async with self.pool.acquire() as conn:
            violations += await _unregistered_products(conn, packs, objects)
            known = await knowledge.snapshot(conn, objects.values())
            if in_scope is not None:  # a narrowed principal: pending children are scoped by their lot
                known = await _with_pending_owners(conn, known, objects, lot_of)
        if violations:
            raise InvalidInput(violations[0].message, violations)
        try:
            # Fast path: load only the parents' places; a child already packed elsewhere shows
            # up as a conflict on insert, and then we decide again knowing every child's place.
            return await self._pack_locked(packs, [p.parent for p in packs], known, in_scope, meta)
        except write_side.AlreadyPacked:
            return await self._pack_locked(packs, list(objects), known, in_scope, meta)

    async def _pack_locked(
        self, packs: Sequence[Pack], load: list[str], known: Knowledge, in_scope: InScope, meta: RecordMetadata
    ) -> list[Change]:
        async with self.writes.unit(meta) as work:
            h = await write_side.load(work.conn, load)
            decided: list[Change] = []
            violations: list[Violation] = []
            for command in packs:
                event, problems = hierarchy.pack(h, command, known, in_scope)
                decided.append(event)
                violations += problems
            if violations:
                raise hierarchy.rejected(violations)
            _record(work, h, decided)
        return decided

    async def unpack(self, command: Unpack, meta: RecordMetadata) -> tuple[Change, RecordedEvent]:
        async with self.writes.unit(meta) as work:
            named = [*(command.children or ()), command.parent]
            h = await write_side.load(work.conn, named, whole=[command.parent] if command.children is None else [])
            event = hierarchy.unpack(h, command)
            _record(work, h, [event])
        return event, work.recorded[-1]

    async def close(self, command: Close, meta: RecordMetadata) -> tuple[Change, RecordedEvent]:
        async with self.writes.unit(meta) as work:
            h = await write_side.load(work.conn, [command.parent])
            event = hierarchy.close(h, command)
            _record(work, h, [event])
        return event, work.recorded[-1]


def _record(work: UnitOfWork, h: Hierarchy, decided: list[Change]) -> None:
    """One stream per parent, appended after the version loaded under the lock."""
    by_parent: dict[str, list[Change]] = {}
    for event in decided:
        by_parent.setdefault(event.parent_id, []).append(event)
    for parent, events in by_parent.items():
        work.record(hierarchy.stream_id(parent), h.state(parent).version, events)


LotOf = Callable[[str], str | None]


async def _with_pending_owners(
    conn: Connection, known: Knowledge, objects: Mapping[str, ObjectId], lot_of: LotOf
) -> Knowledge:
    lots = {
        uri: (o.gtin, lot)
        for uri, o in objects.items()
        if o.gtin is not None and uri not in known.known and (lot := lot_of(uri)) is not None
    }
    if not lots:
        return known
    cmos = await knowledge.batch_cmos(conn, lots.values())
    return replace(known, pending_owner={uri: cmos[batch] for uri, batch in lots.items() if batch in cmos})


async def _unregistered_products(
    conn: Connection, packs: Sequence[Pack], objects: Mapping[str, ObjectId]
) -> list[Violation]:
    unknown = await knowledge.unregistered_gtins(conn, {o.gtin for o in objects.values() if o.gtin is not None})
    if not unknown:
        return []
    return [
        Violation(where, "registered-product", f"{uri}: GTIN {objects[uri].gtin} is not registered")
        for command in packs
        for where, uri in hierarchy.named_ids(command)
        if objects[uri].gtin in unknown
    ]
