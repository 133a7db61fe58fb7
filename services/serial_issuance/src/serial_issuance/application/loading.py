"""Loading aggregates from their streams, with "unknown" turned into precise errors."""

from __future__ import annotations

from typing import TypeVar

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.serials import BatchRegistered, ProductRegistered
from serialtrail_gs1.keys import require_gtin
from serialtrail_kit.errors import DomainError, InvalidInput, Violation
from serialtrail_kit.eventstore.postgres import PostgresEventStore

from serial_issuance.application.codec import decode
from serial_issuance.domain import batch as batches
from serial_issuance.domain import product, serial_pool
from serial_issuance.domain.serial_pool import SerialPool

E = TypeVar("E", bound=EventContract)


class Loader:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def stream(self, stream_id: str, kind: type[E]) -> tuple[list[E], int]:
        recorded = await self.store.read_stream(stream_id)
        events = [decode(r) for r in recorded]
        return [e for e in events if isinstance(e, kind)], (recorded[-1].stream_version if recorded else 0)

    async def product(
        self, gtin: str, field: str = "gtin", *, missing: type[DomainError] = InvalidInput
    ) -> ProductRegistered:
        """`missing` is InvalidInput when a command refers to the product, NotFound when it is the resource read."""
        require_gtin(gtin, field)
        found, _ = await self.stream(product.stream_id(gtin), ProductRegistered)
        if not found:
            message = f"no product is registered with GTIN {gtin}"
            raise missing(message, [Violation(field, "registered-product", message)])
        return found[-1]

    async def batch(
        self, gtin: str, lot: str, field: str = "lot", *, missing: type[DomainError] = InvalidInput
    ) -> BatchRegistered:
        found, _ = await self.stream(batches.stream_id(gtin, lot), BatchRegistered)
        if not found:
            message = f"no batch {lot!r} is registered for GTIN {gtin}"
            raise missing(message, [Violation(field, "registered-batch", message)])
        return found[-1]

    async def pool(self, gtin: str) -> tuple[SerialPool, int]:
        recorded = await self.store.read_stream(serial_pool.stream_id(gtin))
        pool = SerialPool.fold(gtin, (decode(r) for r in recorded))
        return pool, (recorded[-1].stream_version if recorded else 0)
