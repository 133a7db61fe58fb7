"""Command handlers: load the streams a decision needs, decide in the domain, append with
the expected versions. Concurrency conflicts on shared streams are retried."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from serialtrail_contracts.serials import (
    BatchRegistered,
    ProductRegistered,
    SerialsAllocated,
    SerialsCommissioned,
    SerialsImported,
    SsccRangeAllocated,
)
from serialtrail_gs1.keys import parse_sgtin_uri, require_gtin
from serialtrail_kit.db import Connection
from serialtrail_kit.errors import InvalidInput, Violation
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import ConcurrencyError
from serialtrail_kit.eventstore.postgres import PostgresEventStore

from serial_issuance.application import registry
from serial_issuance.application.codec import append_of
from serial_issuance.application.commands import Commission, ImportSerials, RequestSerials, RequestSsccs
from serial_issuance.application.loading import Loader
from serial_issuance.domain import batch as batches
from serial_issuance.domain import commissioning, counter_bitmap, imports, product, serial_pool, sscc
from serial_issuance.domain.keys import SerialKeyring

T = TypeVar("T")
RETRIES = 8


async def _retrying(attempt: Callable[[], Awaitable[T]]) -> T:
    for _ in range(RETRIES - 1):
        try:
            return await attempt()
        except ConcurrencyError:
            continue
    return await attempt()


class SerialIssuanceHandlers:
    def __init__(self, store: PostgresEventStore, keyring: SerialKeyring) -> None:
        self.store = store
        self.keyring = keyring
        self.load = Loader(store)

    async def register_product(self, proposed: ProductRegistered, meta: RecordMetadata) -> ProductRegistered:
        require_gtin(proposed.gtin)
        existing, version = await self.load.stream(product.stream_id(proposed.gtin), ProductRegistered)
        decided = product.register(existing, proposed)
        if not existing:
            await self.store.append([append_of(product.stream_id(proposed.gtin), version, [decided])], meta)
        return decided

    async def register_batch(self, proposed: BatchRegistered, meta: RecordMetadata) -> BatchRegistered:
        await self.load.product(proposed.gtin)
        stream = batches.stream_id(proposed.gtin, proposed.lot)
        existing, version = await self.load.stream(stream, BatchRegistered)
        decided = batches.register(existing, proposed)
        if not existing:
            await self.store.append([append_of(stream, version, [decided])], meta)
        return decided

    async def request_serials(self, command: RequestSerials, meta: RecordMetadata) -> SerialsAllocated:
        registered = await self.load.product(command.gtin)
        if command.lot is not None:
            await self.load.batch(command.gtin, command.lot, field="lot")
        fmt = product.serial_format(registered)
        request_id = uuid.uuid4()

        async def attempt() -> SerialsAllocated:
            pool, version = await self.load.pool(command.gtin)
            events = pool.open_if_needed(fmt, self.keyring.key_id)
            allocated = pool.allocate(fmt, command.quantity, command.lot, command.output_form, request_id)
            stream = serial_pool.stream_id(command.gtin)
            await self.store.append([append_of(stream, version, [*events, allocated])], meta)
            return allocated

        return await _retrying(attempt)

    async def import_serials(self, command: ImportSerials, meta: RecordMetadata) -> SerialsImported:
        registered = await self.load.product(command.gtin)
        if command.lot is not None:
            await self.load.batch(command.gtin, command.lot, field="lot")
        if not 1 <= len(command.serials) <= imports.MAX_IMPORT:
            message = f"an import holds 1 to {imports.MAX_IMPORT:,} serials"
            raise InvalidInput(message, [Violation("serials", "size", message)])
        fmt = product.serial_format(registered)
        cipher = self.keyring.cipher(command.gtin, fmt)
        import_id = uuid.uuid4()
        imported = SerialsImported(
            import_id=import_id,
            gtin=command.gtin,
            lot=command.lot,
            source=command.source,
            serials=tuple(command.serials),
        )

        async def attempt() -> SerialsImported:
            pool, version = await self.load.pool(command.gtin)
            violations, reserved = imports.screen(command.serials, fmt, pool, cipher, eu=product.for_eu(registered))
            if violations:
                raise InvalidInput(f"{len(violations)} serial(s) cannot be imported", violations)
            appends = [append_of(imports.stream_id(str(import_id)), 0, [imported])]
            if reserved:
                events = [
                    *pool.open_if_needed(fmt, self.keyring.key_id),
                    pool.reserve(list(reserved.values()), import_id),
                ]
                appends.append(append_of(serial_pool.stream_id(command.gtin), version, events))

            async def claim(conn: Connection) -> None:
                await registry.claim(
                    conn, "imported_serials", command.gtin, command.serials, "imported", command.serials
                )

            await self.store.append(appends, meta, in_transaction=claim)
            return imported

        return await _retrying(attempt)

    async def request_ssccs(self, command: RequestSsccs, meta: RecordMetadata) -> SsccRangeAllocated:
        sscc.validate(command.company_prefix, command.extension_digit)
        stream = sscc.stream_id(command.extension_digit, command.company_prefix)
        request_id = uuid.uuid4()

        async def attempt() -> SsccRangeAllocated:
            history, version = await self.load.stream(stream, SsccRangeAllocated)
            allocated = sscc.allocate(
                history, command.company_prefix, command.extension_digit, command.quantity, request_id
            )
            await self.store.append([append_of(stream, version, [allocated])], meta)
            return allocated

        return await _retrying(attempt)

    async def commission(self, command: Commission, meta: RecordMetadata) -> SerialsCommissioned:
        gtin, serials, field = _identify(command)
        registered = await self.load.product(gtin)
        registered_batch = await self.load.batch(gtin, command.lot, field="lot")
        if command.expiry is not None and command.expiry != registered_batch.expiry:
            message = f"batch {command.lot} expires {registered_batch.expiry}, not {command.expiry}"
            raise InvalidInput(message, [Violation("expiry", "matches-batch", message)])
        fmt = product.serial_format(registered)
        pool, _ = await self.load.pool(gtin)
        screening = commissioning.screen(serials, fmt, pool, self.keyring.cipher(gtin, fmt), field)
        violations = list(screening.violations)
        if screening.not_from_pool:
            async with self.store.pool.acquire() as conn:
                imported = await registry.imported_among(conn, gtin, screening.not_from_pool)
            violations += commissioning.unissued(serials, screening.not_from_pool, imported, gtin, field)
        if violations:
            raise InvalidInput(f"{len(violations)} serial(s) cannot be commissioned; nothing was recorded", violations)
        event = SerialsCommissioned(
            commissioning_id=command.commissioning_id,
            gtin=gtin,
            lot=command.lot,
            expiry=registered_batch.expiry,
            line_id=command.line_id,
            event_time=command.event_time,
            serials=tuple(serials),
            counter_ranges=tuple(counter_bitmap.ranges_of(screening.counters)),
            unpooled_serials=tuple(screening.unpooled),
        )

        async def claim(conn: Connection) -> None:
            await registry.claim_counters(conn, gtin, screening.fitting, screening.counters, serials)
            if screening.unpooled:
                await registry.claim(conn, "commissioned_serials", gtin, screening.unpooled, "commissioned", serials)

        stream = commissioning.stream_id(str(command.commissioning_id))
        await self.store.append([append_of(stream, 0, [event])], meta, in_transaction=claim)
        return event


def _identify(command: Commission) -> tuple[str, list[str], str]:
    """(gtin, serials, field name) from either a GTIN + serials or a list of SGTIN EPCs."""
    if bool(command.serials) == bool(command.epcs):
        message = "give either gtin + serials or epcs (SGTIN URIs), not both or neither"
        raise InvalidInput(message, [Violation("serials", "one-of", message)])
    if command.serials:
        if command.gtin is None:
            raise InvalidInput("gtin is required with serials", [Violation("gtin", "required", "required")])
        _check_size(len(command.serials), "serials")
        return require_gtin(command.gtin), command.serials, "serials"
    _check_size(len(command.epcs), "epcs")
    parsed = [parse_sgtin_uri(epc) for epc in command.epcs]
    violations = [
        Violation(f"epcs[{i}]", "sgtin-uri", f"{epc!r} is not an SGTIN pure identity URI")
        for i, (epc, result) in enumerate(zip(command.epcs, parsed, strict=True))
        if result is None
    ]
    gtins = {p[0] for p in parsed if p is not None}
    if not violations and len(gtins) != 1:
        message = f"all EPCs of one commissioning must share one GTIN; found {sorted(gtins)}"
        violations.append(Violation("epcs", "single-gtin", message))
    if violations:
        raise InvalidInput("invalid EPCs; nothing was recorded", violations)
    (gtin,) = gtins
    return require_gtin(gtin, "epcs"), [p[1] for p in parsed if p is not None], "epcs"


def _check_size(size: int, field: str) -> None:
    if not 1 <= size <= commissioning.MAX_PER_REQUEST:
        message = f"a commissioning holds 1 to {commissioning.MAX_PER_REQUEST:,} serials"
        raise InvalidInput(message, [Violation(field, "size", message)])
