"""Command handlers: in a unit of work, load the streams a decision needs, decide in the
domain, record. The unit holds the log's append lock from load to append, so what a decision
was based on cannot change under it; write-side uniqueness is folded in the same transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from serialtrail_contracts.serials import (
    BatchRegistered,
    LineRegistered,
    ProductRegistered,
    SerialsAllocated,
    SerialsCommissioned,
    SerialsImported,
    SiteRegistered,
    SsccRangeAllocated,
)
from serialtrail_gs1.keys import parse_sgtin_uri, require_gtin
from serialtrail_kit.errors import Conflict, InvalidInput, Violation
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.writes.model import Stream, UnitOfWork, WriteModel

from serial_issuance.application.commands import Commission, ImportSerials, RequestSerials, RequestSsccs
from serial_issuance.application.loading import Loader, RememberingLoader
from serial_issuance.application.read_points import LineDirectory
from serial_issuance.application.scans import Label, check_labels, read_scans
from serial_issuance.application.write_side import AlreadyTaken, imported_among
from serial_issuance.domain import batch as batches
from serial_issuance.domain import commissioning, counter_bitmap, imports, location, product, serial_pool, sscc
from serial_issuance.domain.keys import SerialKeyring
from serial_issuance.domain.rules import (
    AFTER_BATCH_REGISTERED,
    ALREADY,
    BEFORE_EXPIRY,
    MATCHES_BATCH,
    ONE_OF,
    REQUIRED,
    SGTIN_URI,
    SINGLE_GTIN,
    SIZE,
)

E = TypeVar("E", ProductRegistered, BatchRegistered, SiteRegistered, LineRegistered)


class SerialIssuanceHandlers:
    def __init__(
        self,
        writes: WriteModel,
        keyring: SerialKeyring,
        directory: LineDirectory,
        *,
        skew: timedelta = timedelta(minutes=5),
        max_shelf_life: timedelta = timedelta(days=3650),
    ) -> None:
        self.writes = writes
        self.keyring = keyring
        self.load = Loader(writes, directory)
        self.skew = skew  # how far line clocks may differ from ours
        self.max_shelf_life = max_shelf_life

    async def register_product(self, proposed: ProductRegistered, meta: RecordMetadata) -> ProductRegistered:
        require_gtin(proposed.gtin)
        stream = product.stream_id(proposed.gtin)
        return await self._register_once(
            stream, ProductRegistered, lambda known, _: product.register(known, proposed), meta
        )

    async def register_batch(self, proposed: BatchRegistered, meta: RecordMetadata) -> BatchRegistered:
        await self.load.product(proposed.gtin)
        stream = batches.stream_id(proposed.gtin, proposed.lot)
        today = datetime.now(UTC).date()

        def decide(known: list[BatchRegistered], site: Stream | None) -> BatchRegistered:
            sites = site.of(SiteRegistered) if site is not None else []
            return batches.register(known, proposed, today, self.max_shelf_life, sites[-1] if sites else None)

        # The batch's site read in the same unit, under the log's lock: a site registered meanwhile is seen.
        return await self._register_once(
            stream, BatchRegistered, decide, meta, consulting=location.site_stream(proposed.site_gln)
        )

    async def register_site(self, proposed: SiteRegistered, meta: RecordMetadata) -> SiteRegistered:
        stream = location.site_stream(proposed.gln)
        return await self._register_once(
            stream, SiteRegistered, lambda known, _: location.register(known, proposed), meta
        )

    async def register_line(
        self, gln: str, line_id: str, name: str, extension: str | None, meta: RecordMetadata
    ) -> LineRegistered:
        proposed = location.line(await self.load.site(gln), line_id, name, extension)
        stream = location.line_stream(line_id)
        return await self._register_once(
            stream, LineRegistered, lambda known, _: location.register(known, proposed), meta
        )

    async def _register_once(
        self,
        stream: str,
        kind: type[E],
        decide: Callable[[list[E], Stream | None], E],
        meta: RecordMetadata,
        *,
        consulting: str | None = None,
    ) -> E:
        """Master data recorded once; registering the same again is answered, not recorded.
        `consulting`: another stream the decision reads, loaded in the same unit."""
        async with self.writes.unit(meta) as work:
            consulted = None if consulting is None else await work.stream(consulting)
            existing = await work.stream(stream)
            decided = decide(existing.of(kind), consulted)
            if not existing.events:
                work.record(stream, existing.version, [decided])
        return decided

    async def request_serials(self, command: RequestSerials, meta: RecordMetadata) -> SerialsAllocated:
        registered = await self.load.product(command.gtin)
        if command.lot is not None:
            await self.load.batch(command.gtin, command.lot, field="lot")
        fmt = product.serial_format(registered)
        async with self.writes.unit(meta) as work:
            pool, version = await self.load.pool(command.gtin, work)
            events = pool.open_if_needed(fmt, self.keyring.key_id)
            allocated = pool.allocate(fmt, command.quantity, command.lot, command.output_form, uuid.uuid4())
            work.record(serial_pool.stream_id(command.gtin), version, [*events, allocated])
        return allocated

    async def import_serials(self, command: ImportSerials, meta: RecordMetadata) -> SerialsImported:
        registered = await self.load.product(command.gtin)
        if command.lot is not None:
            await self.load.batch(command.gtin, command.lot, field="lot")
        if not 1 <= len(command.serials) <= imports.MAX_IMPORT:
            message = f"an import holds 1 to {imports.MAX_IMPORT:,} serials"
            raise InvalidInput(message, [SIZE.at("serials", message)])
        fmt = product.serial_format(registered)
        cipher = self.keyring.cipher(command.gtin, fmt)
        imported = SerialsImported(
            import_id=uuid.uuid4(),
            gtin=command.gtin,
            lot=command.lot,
            source=command.source,
            serials=tuple(command.serials),
        )
        try:
            async with self.writes.unit(meta) as work:
                pool, version = await self.load.pool(command.gtin, work)
                violations, reserved = imports.screen(command.serials, fmt, pool, cipher, eu=product.for_eu(registered))
                if violations:
                    raise InvalidInput(f"{len(violations)} serial(s) cannot be imported", violations)
                work.record(imports.stream_id(str(imported.import_id)), 0, [imported])
                if reserved:
                    events = [
                        *pool.open_if_needed(fmt, self.keyring.key_id),
                        pool.reserve(list(reserved.values()), imported.import_id),
                    ]
                    work.record(serial_pool.stream_id(command.gtin), version, events)
        except AlreadyTaken as taken:
            raise _refused(command.gtin, command.serials, taken.serials, taken.reason) from taken
        return imported

    async def request_ssccs(self, command: RequestSsccs, meta: RecordMetadata) -> SsccRangeAllocated:
        sscc.validate(command.company_prefix, command.extension_digit)
        stream = sscc.stream_id(command.extension_digit, command.company_prefix)
        async with self.writes.unit(meta) as work:
            history = await work.stream(stream)
            allocated = sscc.allocate(
                history.of(SsccRangeAllocated),
                command.company_prefix,
                command.extension_digit,
                command.quantity,
                uuid.uuid4(),
            )
            work.record(stream, history.version, [allocated])
        return allocated

    def loader_in(self, work: UnitOfWork) -> RememberingLoader:
        """Loads through `work`'s connection, for a decision made inside another unit (a reactor's),
        remembering what does not change while that unit holds the log's lock."""
        return RememberingLoader(work, LineDirectory(work.conn, self.load.directory.schema))

    async def commission(
        self, command: Commission, meta: RecordMetadata, *, within: UnitOfWork | None = None, load: Loader | None = None
    ) -> SerialsCommissioned:
        """Screening (decrypting every serial) runs before the unit, against the pool as loaded:
        allocations only ever grow, so a serial found allocated stays allocated. `within`: a unit
        this one is nested in (it fails alone; see `WriteModel.unit`), read through `load`."""
        load = load or (self.load if within is None else self.loader_in(within))
        screened = await self._screened(command, load)
        try:
            async with self.writes.unit(meta, conn=None if within is None else within.conn) as work:
                violations = list(screened.screening.violations)
                if screened.screening.not_from_pool:
                    violations += await _unissued(work, screened)
                if violations:
                    message = f"{len(violations)} serial(s) cannot be commissioned; nothing was recorded"
                    raise InvalidInput(message, violations)
                work.record(commissioning.stream_id(str(command.commissioning_id)), 0, [screened.event])
        except AlreadyTaken as taken:
            raise screened.refused(taken) from taken
        return screened.event

    async def commission_all(
        self, commands: Sequence[Commission], meta: RecordMetadata, *, within: UnitOfWork, load: Loader
    ) -> bool:
        """Many commissionings in one unit nested in `within`, when none breaks a rule: True. False
        (nothing recorded) when one would: `commission` each then names what is wrong. A capture's
        hundreds of commissionings take one append and one claim per product this way, not one each."""
        screened = [await self._screened(command, load) for command in commands]
        if any(s.screening.violations for s in screened):
            return False
        try:
            async with self.writes.unit(meta, conn=within.conn) as work:
                if await _any_unissued(work, screened):
                    raise _NotAll
                for one in screened:
                    work.record(commissioning.stream_id(str(one.event.commissioning_id)), 0, [one.event])
        except (_NotAll, AlreadyTaken):
            return False
        return True

    async def _screened(self, command: Commission, load: Loader) -> _Screened:
        """The commissioning checked against what does not change under it (master data, the pool),
        its serials screened; what needs the write side is checked in the unit."""
        gtin, serials, field, labels = await asyncio.to_thread(_identify, command)  # CPU: off the event loop
        registered = await load.product(gtin)
        registered_batch, registered_at = await load.registered_batch(gtin, command.lot, field="lot")
        if command.expiry is not None and command.expiry != registered_batch.expiry:
            message = f"batch {command.lot} expires {registered_batch.expiry}, not {command.expiry}"
            raise InvalidInput(message, [MATCHES_BATCH.at("expiry", message)])
        check_labels(labels, registered_batch, field)
        if (elsewhere := batches.made_on(command.line, registered_batch)) is not None:
            raise InvalidInput(elsewhere.message, [elsewhere])
        _check_time(command, registered_batch, registered_at - self.skew)
        fmt = product.serial_format(registered)
        pool, _ = await load.pool(gtin)
        screening = commissioning.screen(serials, fmt, pool, self.keyring.cipher(gtin, fmt), field, command.lot)
        event = SerialsCommissioned(
            commissioning_id=command.commissioning_id,
            gtin=gtin,
            lot=command.lot,
            expiry=registered_batch.expiry,
            line_id=command.line.line_id,
            read_point=command.line.read_point,
            biz_location=command.line.biz_location,
            event_time=command.event_time,
            serials=tuple(serials),
            counter_ranges=tuple(counter_bitmap.ranges_of(screening.counters)),
            unpooled_serials=tuple(screening.unpooled),
        )
        return _Screened(event, screening, field)


class _NotAll(Exception):
    """One of many commissionings would break a rule: none is recorded together."""


@dataclass(frozen=True)
class _Screened:
    event: SerialsCommissioned
    screening: commissioning.Screening
    field: str  # where the request named its serials

    def refused(self, taken: AlreadyTaken) -> Conflict:
        counters = set(taken.counters.tolist())
        fitting, screened = self.screening.fitting, self.screening.counters.tolist()
        hits = {s for s, c in zip(fitting, screened, strict=True) if c in counters}
        return _refused(self.event.gtin, list(self.event.serials), taken.serials | hits, taken.reason, self.field)


async def _unissued(work: UnitOfWork, screened: _Screened) -> list[Violation]:
    event, screening = screened.event, screened.screening
    imported = await imported_among(work.conn, work.schema, event.gtin, screening.not_from_pool, event.lot)
    return commissioning.unissued(event.serials, screening.not_from_pool, imported, event.gtin, screened.field)


async def _any_unissued(work: UnitOfWork, screened: Sequence[_Screened]) -> bool:
    """Whether any serial not from the pool was not imported for its product and batch: one query
    per product and batch, whatever the number of commissionings."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for one in screened:
        wanted.setdefault((one.event.gtin, one.event.lot), set()).update(one.screening.not_from_pool)
    for (gtin, lot), serials in wanted.items():
        if serials and len(await imported_among(work.conn, work.schema, gtin, sorted(serials), lot)) != len(serials):
            return True
    return False


def _check_time(command: Commission, batch: BatchRegistered, earliest: datetime) -> None:
    """Commissioning happens while the batch exists: after it was registered (less the clock
    skew lines may have) and no later than its expiry."""
    problem: Violation | None = None
    if command.event_time < earliest:
        message = f"commissioning at {command.event_time.isoformat()} is before batch {command.lot} was registered"
        problem = AFTER_BATCH_REGISTERED.at("event_time", message)
    elif command.event_time.date() > batch.expiry:
        when, expiry = command.event_time.date(), batch.expiry
        message = f"commissioning on {when} is after batch {command.lot}'s expiry {expiry}"
        problem = BEFORE_EXPIRY.at("event_time", message)
    if problem is not None:
        raise InvalidInput(problem.message, [problem])


def _refused(
    gtin: str, request: list[str], taken: frozenset[str] | set[str], reason: str, field: str = "serials"
) -> Conflict:
    rule = ALREADY[reason]
    violations = [rule.at(f"{field}[{i}]", f"{s} is already {reason}") for i, s in enumerate(request) if s in taken]
    return Conflict(f"{len(taken)} serial(s) of {gtin} are already {reason}", violations)


def _identify(command: Commission) -> tuple[str, list[str], str, list[Label]]:
    """(gtin, serials, field name, the lot and expiry each scan carried) from a GTIN + serials,
    a list of SGTIN EPCs, or what the line's scanners read."""
    if [bool(command.serials), bool(command.epcs), bool(command.scans)].count(True) != 1:
        message = "give one of gtin + serials, epcs (SGTIN URIs) or scans (as the line read them)"
        raise InvalidInput(message, [ONE_OF.at("serials", message)])
    if command.serials:
        if command.gtin is None:
            raise InvalidInput("gtin is required with serials", [REQUIRED.at("gtin", "required")])
        _check_size(len(command.serials), "serials")
        return require_gtin(command.gtin), command.serials, "serials", []
    if command.scans:
        _check_size(len(command.scans), "scans")
        return read_scans(command.scans, command.gtin)
    _check_size(len(command.epcs), "epcs")
    parsed = [parse_sgtin_uri(epc) for epc in command.epcs]
    violations = [
        SGTIN_URI.at(f"epcs[{i}]", f"{epc!r} is not an SGTIN pure identity URI")
        for i, (epc, result) in enumerate(zip(command.epcs, parsed, strict=True))
        if result is None
    ]
    gtins = {p[0] for p in parsed if p is not None}
    if not violations and len(gtins) != 1:
        message = f"all EPCs of one commissioning must share one GTIN; found {sorted(gtins)}"
        violations.append(SINGLE_GTIN.at("epcs", message))
    if violations:
        raise InvalidInput("invalid EPCs; nothing was recorded", violations)
    (gtin,) = gtins
    return require_gtin(gtin, "epcs"), [p[1] for p in parsed if p is not None], "epcs", []


def _check_size(size: int, field: str) -> None:
    if not 1 <= size <= commissioning.MAX_PER_REQUEST:
        message = f"a commissioning holds 1 to {commissioning.MAX_PER_REQUEST:,} serials"
        raise InvalidInput(message, [SIZE.at(field, message)])
