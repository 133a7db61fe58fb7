"""Loading aggregates from their streams, with "unknown" turned into precise errors. Reads
go through the write model's port: in a unit of work when a decision depends on them,
outside one for facts that never change once recorded (a product, a batch)."""

from __future__ import annotations

from datetime import datetime

from serialtrail_contracts.serials import BatchRegistered, LineRegistered, ProductRegistered, SiteRegistered
from serialtrail_gs1.keys import require_gln, require_gtin
from serialtrail_gs1.locations import canonical_sgln
from serialtrail_kit.errors import DomainError, InvalidInput, Violation
from serialtrail_kit.writes.model import Stream, UnitOfWork, WriteModel

from serial_issuance.application.read_points import LineDirectory
from serial_issuance.domain import batch as batches
from serial_issuance.domain import location, product, serial_pool
from serial_issuance.domain.serial_pool import SerialPool

Source = WriteModel | UnitOfWork


class Loader:
    def __init__(self, writes: WriteModel, directory: LineDirectory) -> None:
        self.writes, self.directory = writes, directory

    async def product(
        self, gtin: str, field: str = "gtin", *, missing: type[DomainError] = InvalidInput
    ) -> ProductRegistered:
        """`missing` is InvalidInput when a command refers to the product, NotFound when it is the resource read."""
        require_gtin(gtin, field)
        found = (await self.writes.stream(product.stream_id(gtin))).of(ProductRegistered)
        if not found:
            message = f"no product is registered with GTIN {gtin}"
            raise missing(message, [Violation(field, "registered-product", message)])
        return found[-1]

    async def batch(
        self, gtin: str, lot: str, field: str = "lot", *, missing: type[DomainError] = InvalidInput
    ) -> BatchRegistered:
        return (await self.registered_batch(gtin, lot, field, missing=missing))[0]

    async def registered_batch(
        self, gtin: str, lot: str, field: str = "lot", *, missing: type[DomainError] = InvalidInput
    ) -> tuple[BatchRegistered, datetime]:
        """The batch and when it was registered (server time)."""
        stream = await self.writes.stream(batches.stream_id(gtin, lot))
        if not stream.of(BatchRegistered):
            message = f"no batch {lot!r} is registered for GTIN {gtin}"
            raise missing(message, [Violation(field, "registered-batch", message)])
        return stream.of(BatchRegistered)[-1], stream.recorded_at[0]

    async def pool(self, gtin: str, source: Source | None = None) -> tuple[SerialPool, int]:
        stream: Stream = await (source or self.writes).stream(serial_pool.stream_id(gtin))
        return SerialPool.fold(gtin, stream.events), stream.version

    async def site(self, gln: str, field: str = "gln", *, missing: type[DomainError] = InvalidInput) -> SiteRegistered:
        require_gln(gln, field)
        found = (await self.writes.stream(location.site_stream(gln))).of(SiteRegistered)
        if not found:
            message = f"no site is registered with GLN {gln}"
            raise missing(message, [Violation(field, "registered-site", message)])
        return found[-1]

    async def line(self, named: str, field: str = "line_id") -> LineRegistered:
        """A registered line, named by its line id or by its read point's SGLN URI."""
        line_id: str | None = named
        if (sgln := canonical_sgln(named)) is not None:
            line_id = await self.directory.line_at(sgln[0])
        found = [] if line_id is None else (await self.writes.stream(location.line_stream(line_id))).of(LineRegistered)
        if not found:
            message = f"no line is registered as {named!r} (give a registered line id or its read point's SGLN)"
            raise InvalidInput(message, [Violation(field, "registered-line", message)])
        return found[-1]
