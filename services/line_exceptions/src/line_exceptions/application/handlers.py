"""Command handlers: check what the request names against what serial issuance published,
then in a unit of work (the log's append lock held) load what the decision needs, let the
domain decide and record. The units taken out are folded into the write side in the same
transaction, so no unit is taken out twice."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.exceptions import Outcome
from serialtrail_contracts.identity import Scope
from serialtrail_kit.access import signatures
from serialtrail_kit.access.resources import EXISTS
from serialtrail_kit.access.signatures import Signer
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.errors import InvalidInput, NotFound
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import UnitOfWork, WriteModel

from line_exceptions.application import write_side
from line_exceptions.domain import holds, owners, records
from line_exceptions.domain.holds import PlaceHold
from line_exceptions.domain.records import Batch, Below, Record, RecordException, UndoDecommission, Units
from line_exceptions.projections import hierarchy, knowledge


class ExceptionHandlers:
    def __init__(self, writes: WriteModel, pool: Pool) -> None:
        self.writes = writes
        self.pool = pool

    async def record(
        self, command: RecordException, meta: RecordMetadata, scope: Scope, *, within: UnitOfWork | None = None
    ) -> list[RecordedEvent]:
        """`scope`: the caller's; a unit of a batch outside it reads as unknown. `within`: a unit
        this one is nested in (a reactor's: it fails alone, and reads through that unit's
        connection, never a second one while the log's lock is held)."""
        violations = records.check_request(command)
        if violations:
            raise InvalidInput(violations[0].message, violations)
        replacement = [command.replacement] if command.replacement else []
        units = [*command.serials, *replacement]
        below, known = await self._units(command.batch, units, command.parents, scope, within)
        named = [*command.serials, *replacement, *(serial for each in below.values() for serial in each.serials)]
        lots = {serial: c.lot for serial, c in known.items()}
        since = {serial: c.event_time for serial, c in known.items()}
        async with self.writes.unit(meta, conn=None if within is None else within.conn) as work:
            taken_out, replaced = await write_side.units_of(work.conn, work.schema, command.batch.gtin, named)
            events = records.record(command, Units(lots, taken_out, replaced, below, since))
            work.record(records.stream_id(command.exception_id), 0, events)
        return work.recorded

    async def investigate(self, exception_id: UUID, note: str, meta: RecordMetadata) -> RecordedEvent:
        async with self.writes.unit(meta) as work:
            found = await _record(work, exception_id)
            _append(work, found, records.investigate(found, note))
        return work.recorded[-1]

    async def resolve(
        self, exception_id: UUID, outcome: Outcome, reason: str, signer: Signer | None, meta: RecordMetadata
    ) -> tuple[RecordedEvent, dict[str, Any] | None]:
        """The resolution and, when signed, its signature bound to it: committed together."""
        async with self.writes.together() as conn:
            async with self.writes.unit(meta, conn=conn) as work:
                found = await _record(work, exception_id)
                _append(work, found, records.resolve(found, outcome, reason, signed=signer is not None))
            signed = await signed_in(conn, self.writes, work.recorded[-1], signer, reason, meta)
        return work.recorded[-1], signed

    async def undo(self, command: UndoDecommission, meta: RecordMetadata) -> RecordedEvent:
        """Put units back in the supply chain, as far as the EU FMD rules allow."""
        async with self.writes.unit(meta) as work:
            found = await _record(work, command.exception_id)
            out = await write_side.out_by(work.conn, work.schema, found.gtin, found.exception_id)
            # On the unit's own connection: a second one taken while the append lock is held
            # waits for a pool that requests queued on the lock may hold entirely (a freeze).
            expiry = await knowledge.expiry(work.conn, found.gtin, found.lot)
            assert expiry is not None  # a record is made only for a known batch
            _append(work, found, records.undo(found, command, out, expiry, datetime.now(UTC)))
        return work.recorded[-1]

    async def cancel(self, exception_id: UUID, reason: str, meta: RecordMetadata) -> RecordedEvent:
        async with self.writes.unit(meta) as work:
            found = await _record(work, exception_id)
            _append(work, found, records.cancel(found, reason))
        return work.recorded[-1]

    async def place_hold(self, command: PlaceHold, meta: RecordMetadata, scope: Scope) -> RecordedEvent:
        below, known = await self._units(command.batch, command.serials, command.parents, scope)
        lots = {serial: c.lot for serial, c in known.items()}
        output: list[str] = []
        if command.window is not None and command.line is not None:
            async with self.pool.acquire() as conn:
                output = await knowledge.output_of(conn, command.batch, command.line.line_id, *command.window)
        placed = holds.place(command, lots, below, output)
        async with self.writes.unit(meta) as work:
            work.record(holds.stream_id(command.hold_id), 0, [placed])
        return work.recorded[-1]

    async def lift_hold(
        self, hold_id: UUID, reason: str, signer: Signer | None, meta: RecordMetadata
    ) -> tuple[RecordedEvent, dict[str, Any] | None]:
        """The lift and its QA signature, committed together."""
        async with self.writes.together() as conn:
            async with self.writes.unit(meta, conn=conn) as work:
                found = holds.fold((await work.stream(holds.stream_id(hold_id))).events)
                if found is None:
                    raise NotFound("no hold", [EXISTS.at("id", "unknown hold")])
                work.record(
                    holds.stream_id(hold_id), found.version, [holds.lift(found, reason, signed=signer is not None)]
                )
            signed = await signed_in(conn, self.writes, work.recorded[-1], signer, reason, meta)
        return work.recorded[-1], signed

    async def _units(
        self,
        batch: Batch,
        serials: Sequence[str],
        parents: Sequence[str],
        scope: Scope,
        within: UnitOfWork | None = None,
    ) -> tuple[dict[str, Below], dict[str, knowledge.Commissioning]]:
        """What is below each parent (as units of the batch's GTIN), and the commissioning of every
        unit named or below that the scope covers. A unit of another CMO's batch, or (for a
        principal narrowed to lines) of another line, is left out, so it reads exactly as an
        unknown one; below a parent it counts as something else, so the parent reads as unknown."""
        async with self._reading(within) as conn:
            found = await hierarchy.contents(conn, parents) if parents else {}
            below = {parent: records.of_batch(contents, batch.gtin) for parent, contents in found.items()}
            units = [*serials, *(serial for each in below.values() for serial in each.serials)]
            known = await knowledge.commissionings(conn, batch.gtin, units)
        hidden = {
            serial
            for serial, c in known.items()
            if not owners.unit_visible(scope, c.line_id, c.cmo_id, of_the_batch=c.lot == batch.lot)
        }
        for parent, each in below.items():
            seen = tuple(s for s in each.serials if s not in hidden)
            below[parent] = replace(each, serials=seen, others=each.others + len(each.serials) - len(seen))
        return below, {serial: c for serial, c in known.items() if serial not in hidden}

    def _reading(self, within: UnitOfWork | None) -> AbstractAsyncContextManager[Connection]:
        """A connection to read the read models through: the pool's, or the unit's a decision is
        nested in (never a second connection inside a write unit)."""
        return self.pool.acquire() if within is None else nullcontext(within.conn)


async def signed_in(
    conn: Connection,
    writes: WriteModel,
    record: RecordedEvent,
    signer: Signer | None,
    reason: str,
    meta: RecordMetadata,
) -> dict[str, Any] | None:
    """`record` signed by `signer` (if any) in the caller's transaction on `conn`: both commit, or neither."""
    if signer is None:
        return None
    return await signatures.sign(
        writes.store, signer.principal, record.global_position, signer.meaning, reason, meta, conn=conn
    )


async def _record(work: UnitOfWork, exception_id: UUID) -> Record:
    found = records.fold((await work.stream(records.stream_id(exception_id))).events)
    if found is None:
        raise NotFound("no exception", [EXISTS.at("id", "unknown exception")])
    return found


def _append(work: UnitOfWork, found: Record, event: EventContract) -> None:
    work.record(records.stream_id(found.exception_id), found.version, [event])
