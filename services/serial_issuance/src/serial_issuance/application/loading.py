"""Loading aggregates from their streams, with "unknown" turned into precise errors. Reads
go through the write model's port: in a unit of work when a decision depends on them,
outside one for facts that never change once recorded (a product, a batch)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from serialtrail_contracts.serials import BatchRegistered, LineRegistered, ProductRegistered, SiteRegistered
from serialtrail_gs1.keys import require_gln, require_gtin
from serialtrail_gs1.locations import canonical_sgln
from serialtrail_kit.errors import DomainError, InvalidInput, Rule
from serialtrail_kit.writes.model import Stream, UnitOfWork, WriteModel

from serial_issuance.application.read_points import LineDirectory
from serial_issuance.domain import batch as batches
from serial_issuance.domain import location, product, serial_pool
from serial_issuance.domain.rules import REGISTERED_BATCH, REGISTERED_LINE, REGISTERED_PRODUCT, REGISTERED_SITE
from serial_issuance.domain.serial_pool import SerialPool

Source = WriteModel | UnitOfWork
M = TypeVar("M", ProductRegistered, BatchRegistered, SiteRegistered, LineRegistered)
# What naming master data that was never registered breaks, by what it would have been.
REGISTERED: dict[type, Rule] = {
    ProductRegistered: REGISTERED_PRODUCT,
    BatchRegistered: REGISTERED_BATCH,
    SiteRegistered: REGISTERED_SITE,
    LineRegistered: REGISTERED_LINE,
}


class Loader:
    def __init__(self, writes: Source, directory: LineDirectory) -> None:
        self.writes, self.directory = writes, directory

    async def product(
        self, gtin: str, field: str = "gtin", *, missing: type[DomainError] = InvalidInput
    ) -> ProductRegistered:
        """`missing` is InvalidInput when a command refers to the product, NotFound when it is the resource read."""
        require_gtin(gtin, field)
        message = f"no product is registered with GTIN {gtin}"
        return (await self._registered(product.stream_id(gtin), ProductRegistered, field, message, missing))[0]

    async def batch(
        self, gtin: str, lot: str, field: str = "lot", *, missing: type[DomainError] = InvalidInput
    ) -> BatchRegistered:
        return (await self.registered_batch(gtin, lot, field, missing=missing))[0]

    async def registered_batch(
        self, gtin: str, lot: str, field: str = "lot", *, missing: type[DomainError] = InvalidInput
    ) -> tuple[BatchRegistered, datetime]:
        """The batch and when it was registered (server time)."""
        message = f"no batch {lot!r} is registered for GTIN {gtin}"
        return await self._registered(batches.stream_id(gtin, lot), BatchRegistered, field, message, missing)

    async def _registered(
        self, stream_id: str, kind: type[M], field: str, message: str, missing: type[DomainError]
    ) -> tuple[M, datetime]:
        """Master data as registered, and when; unknown answers `missing` with the rule
        `REGISTERED` names for its kind (registered-product, registered-batch …)."""
        stream = await self.writes.stream(stream_id)
        found = stream.of(kind)
        if not found:
            raise missing(message, [REGISTERED[kind].at(field, message)])
        return found[-1], stream.recorded_at[0]

    async def pool(self, gtin: str, source: Source | None = None) -> tuple[SerialPool, int]:
        stream: Stream = await (source or self.writes).stream(serial_pool.stream_id(gtin))
        return SerialPool.fold(gtin, stream.events), stream.version

    async def site(self, gln: str, field: str = "gln", *, missing: type[DomainError] = InvalidInput) -> SiteRegistered:
        require_gln(gln, field)
        message = f"no site is registered with GLN {gln}"
        return (await self._registered(location.site_stream(gln), SiteRegistered, field, message, missing))[0]

    async def line(self, named: str, field: str = "line_id") -> LineRegistered:
        """A registered line, named by its line id or by its read point's SGLN URI."""
        line_id: str | None = named
        if (sgln := canonical_sgln(named)) is not None:
            line_id = await self.directory.line_at(sgln[0])
        message = f"no line is registered as {named!r} (give a registered line id or its read point's SGLN)"
        stream = location.line_stream(line_id or named)  # an SGLN of no line names no stream either
        return (await self._registered(stream, LineRegistered, field, message, InvalidInput))[0]


class RememberingLoader(Loader):
    """A loader for one long decision (a capture's commissionings, under the log's lock from first
    to last): what does not change while it is held (master data, a product's pool of allocated
    serials: commissioning never changes it) is read once, not once per event."""

    def __init__(self, writes: Source, directory: LineDirectory) -> None:
        super().__init__(writes, directory)
        self._registrations: dict[str, tuple[Any, datetime]] = {}
        self._pools: dict[str, tuple[SerialPool, int]] = {}

    async def _registered(
        self, stream_id: str, kind: type[M], field: str, message: str, missing: type[DomainError]
    ) -> tuple[M, datetime]:
        if stream_id not in self._registrations:
            self._registrations[stream_id] = await super()._registered(stream_id, kind, field, message, missing)
        found, at = self._registrations[stream_id]
        return found, at

    async def pool(self, gtin: str, source: Source | None = None) -> tuple[SerialPool, int]:
        if gtin not in self._pools:
            self._pools[gtin] = await super().pool(gtin, source)
        return self._pools[gtin]
