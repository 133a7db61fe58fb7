"""Command handlers: check the request, then in a unit of work (the log's append lock held)
load the part of the hierarchy it touches, decide in the domain and record; the write side
("who holds whom") is folded from the recorded events in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import replace
from datetime import timedelta

from serialtrail_gs1.identity import ObjectId
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.errors import InvalidInput, Violation
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import UnitOfWork, WriteModel

from aggregation.application import write_side
from aggregation.application.write_side import Change
from aggregation.domain import hierarchy, rules
from aggregation.domain.hierarchy import Close, Hierarchy, InScope, Pack, Unpack
from aggregation.domain.objects import Knowledge, Label
from aggregation.projections.knowledge import lookups as knowledge


class AggregationHandlers:
    def __init__(self, writes: WriteModel, pool: Pool, skew: timedelta = timedelta(minutes=5)) -> None:
        self.writes = writes
        self.pool = pool
        self.skew = skew  # how far line clocks may differ from each other and from ours

    async def pack(
        self,
        packs: Sequence[Pack],
        objects: Mapping[str, ObjectId],
        in_scope: InScope,
        meta: RecordMetadata,
        labels: Mapping[str, Label] | None = None,
        *,
        narrowed: bool = False,
        within: UnitOfWork | None = None,
    ) -> list[Change]:
        """All packs or none. `objects` holds the parsed form of every id the packs name;
        `labels` the lot and expiry of those whose scan carried them. `within`: a unit this one
        is nested in (a reactor's: it fails alone, and reads through that unit's connection)."""
        violations = hierarchy.check_request(packs)
        async with self._reading(within) as conn:
            violations += await _unregistered_products(conn, packs, objects)
            # Units commissioned after the earliest pack time less the skew: the rest cannot be late.
            earliest = min(p.event_time for p in packs) + self.skew if packs else None
            known = await knowledge.snapshot(conn, objects.values(), earliest)
            if labels:
                known = await _with_labels(conn, known, objects, labels)
        if violations:
            raise InvalidInput(violations[0].message, violations)
        try:
            # Fast path: load only the parents' places; a child already packed elsewhere shows
            # up as a conflict on insert, and then we decide again knowing every child's place.
            return await self._pack_locked(packs, [p.parent for p in packs], known, in_scope, narrowed, meta, within)
        except write_side.AlreadyPacked:  # the unit is lost (nested: its savepoint alone)
            return await self._pack_locked(packs, list(objects), known, in_scope, narrowed, meta, within)

    async def _pack_locked(
        self,
        packs: Sequence[Pack],
        load: list[str],
        known: Knowledge,
        in_scope: InScope,
        narrowed: bool,
        meta: RecordMetadata,
        within: UnitOfWork | None,
    ) -> list[Change]:
        async with self._unit(meta, within) as work:
            h = await write_side.load(work.conn, load)
            decided: list[Change] = []
            violations: list[Violation] = []
            for command in packs:
                event, problems = hierarchy.pack(h, command, known, in_scope, narrowed=narrowed, skew=self.skew)
                decided.append(event)
                violations += problems
            if violations:
                raise hierarchy.rejected(violations)
            _record(work, h, decided)
        return decided

    async def unpack(
        self, command: Unpack, meta: RecordMetadata, *, within: UnitOfWork | None = None
    ) -> tuple[Change, RecordedEvent]:
        """`within`: as for `pack`."""
        async with self._reading(within) as conn:
            held = await knowledge.held(conn, [command.parent])
        async with self._unit(meta, within) as work:
            named = [*(command.children or ()), command.parent]
            h = await write_side.load(work.conn, named, whole=[command.parent] if command.children is None else [])
            event = hierarchy.unpack(h, command, self.skew, held)
            _record(work, h, [event])
        return event, work.recorded[-1]

    def _reading(self, within: UnitOfWork | None) -> AbstractAsyncContextManager[Connection]:
        """A connection to read knowledge through: the pool's, or the unit's a decision is nested in
        (never a second connection inside a write unit)."""
        return self.pool.acquire() if within is None else nullcontext(within.conn)

    def _unit(self, meta: RecordMetadata, within: UnitOfWork | None) -> AbstractAsyncContextManager[UnitOfWork]:
        return self.writes.unit(meta, conn=None if within is None else within.conn)

    async def close(self, command: Close, meta: RecordMetadata) -> tuple[Change, RecordedEvent]:
        async with self.writes.unit(meta) as work:
            h = await write_side.load(work.conn, [command.parent])
            event = hierarchy.close(h, command, self.skew)
            _record(work, h, [event])
        return event, work.recorded[-1]


def _record(work: UnitOfWork, h: Hierarchy, decided: list[Change]) -> None:
    """One stream per parent, appended after the version loaded under the lock."""
    by_parent: dict[str, list[Change]] = {}
    for event in decided:
        by_parent.setdefault(event.parent_id, []).append(event)
    for parent, events in by_parent.items():
        work.record(hierarchy.stream_id(parent), h.state(parent).version, events)


async def _with_labels(
    conn: Connection, known: Knowledge, objects: Mapping[str, ObjectId], labels: Mapping[str, Label]
) -> Knowledge:
    """What scans said against what the batches say; a pending unit's lot names its batch (and
    so, for a principal narrowed to CMOs, whether it may pack it)."""
    batch_label = await knowledge.batch_labels(conn, [uri for uri in labels if uri in known.owner])
    pending = {
        uri: (gtin, label.lot)
        for uri, label in labels.items()
        if uri not in known.known and label.lot is not None and (gtin := objects[uri].gtin) is not None
    }
    cmos = await knowledge.batch_cmos(conn, pending.values())
    pending_owner = {uri: cmos[batch] for uri, batch in pending.items() if batch in cmos}
    return replace(known, scanned=labels, batch_label=batch_label, pending_owner=pending_owner)


async def _unregistered_products(
    conn: Connection, packs: Sequence[Pack], objects: Mapping[str, ObjectId]
) -> list[Violation]:
    unknown = await knowledge.unregistered_gtins(conn, {o.gtin for o in objects.values() if o.gtin is not None})
    if not unknown:
        return []
    return [
        rules.REGISTERED_PRODUCT.at(where, f"{uri}: GTIN {objects[uri].gtin} is not registered")
        for command in packs
        for where, uri in hierarchy.named_ids(command)
        if objects[uri].gtin in unknown
    ]
