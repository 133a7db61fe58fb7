"""Loading aggregates from their streams, with "unknown" turned into precise errors. Reads
go through the write model's port: in a unit of work when a decision depends on them,
outside one for facts that never change once recorded (a product, a batch)."""

from __future__ import annotations

from serialtrail_contracts.serials import BatchRegistered, ProductRegistered
from serialtrail_gs1.keys import require_gtin
from serialtrail_kit.errors import DomainError, InvalidInput, Violation
from serialtrail_kit.writes.model import Stream, UnitOfWork, WriteModel

from serial_issuance.domain import batch as batches
from serial_issuance.domain import product, serial_pool
from serial_issuance.domain.serial_pool import SerialPool

Source = WriteModel | UnitOfWork


class Loader:
    def __init__(self, writes: WriteModel) -> None:
        self.writes = writes

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
        found = (await self.writes.stream(batches.stream_id(gtin, lot))).of(BatchRegistered)
        if not found:
            message = f"no batch {lot!r} is registered for GTIN {gtin}"
            raise missing(message, [Violation(field, "registered-batch", message)])
        return found[-1]

    async def pool(self, gtin: str, source: Source | None = None) -> tuple[SerialPool, int]:
        stream: Stream = await (source or self.writes).stream(serial_pool.stream_id(gtin))
        return SerialPool.fold(gtin, stream.events), stream.version
