"""Staging what serial issuance and line exceptions publish, and master data bodies, for the
hub service's tests."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from fmd_hub.entrypoints.schemas import MASTER_DATA_EXAMPLE
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.exceptions import DecommissionReason, DecommissionUndone, SerialsDecommissioned
from serialtrail_contracts.serials import BatchRegistered, ProductRegistered, SerialsCommissioned
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import SYSTEM, Harness

GTIN = "09506000134352"
LOT = "L2026A"
EXPIRY = date(2029, 6, 30)
SERVICE = "fmd_hub"
WHEN = datetime.fromisoformat("2026-11-22T07:00:00+00:00")


def product(gtin: str = GTIN, markets: tuple[str, ...] = ("DE", "FR", "US")) -> ProductRegistered:
    return ProductRegistered(
        gtin=gtin,
        company_prefix_length=7,
        name="Paracetamol",
        target_markets=markets,
        serial_length=12,
        serial_alphabet="alphanumeric",
    )


def batch(lot: str = LOT, expiry: date = EXPIRY, cmo_id: str | None = None, gtin: str = GTIN) -> BatchRegistered:
    return BatchRegistered(gtin=gtin, lot=lot, expiry=expiry, site_gln="9506000000008", cmo_id=cmo_id)


def commissioned(serials: list[str], lot: str = LOT, gtin: str = GTIN) -> SerialsCommissioned:
    return SerialsCommissioned(
        commissioning_id=uuid.uuid4(),
        gtin=gtin,
        lot=lot,
        expiry=EXPIRY,
        line_id="LINE-1",
        read_point="urn:epc:id:sgln:9506000.00000.LINE-1",
        biz_location="urn:epc:id:sgln:9506000.00000.0",
        event_time=WHEN,
        serials=tuple(serials),
    )


def decommissioned(serials: list[str], reason: DecommissionReason, gtin: str = GTIN) -> SerialsDecommissioned:
    return SerialsDecommissioned(
        exception_id=uuid.uuid4(), gtin=gtin, serials=tuple(serials), reason=reason, line_id="LINE-1", event_time=WHEN
    )


def undone(serials: list[str], exception_id: uuid.UUID, gtin: str = GTIN) -> DecommissionUndone:
    return DecommissionUndone(
        exception_id=exception_id, gtin=gtin, serials=tuple(serials), reason="intact", line_id="LINE-1", event_time=WHEN
    )


def serials(count: int, prefix: str = "S") -> list[str]:
    return [f"{prefix}{n:09d}" for n in range(count)]


async def publish(harness: Harness, *events: EventContract, producer: str = "serial_issuance") -> None:
    """Append to the producer's log as it would, then let the hub service's knowledge catch up."""
    store = PostgresEventStore(harness.composition.app_pool, producer)
    await store.append([append_of(f"test-{uuid.uuid4()}", 0, events)], SYSTEM)
    read_model = "knowledge" if producer == "serial_issuance" else "reactor_taken_out"
    await harness.runner(SERVICE, read_model).caught_up(timeout=30)


async def staged(harness: Harness, units: list[str], **batch_fields: Any) -> None:
    await publish(harness, product(), batch(**batch_fields), commissioned(units, lot=batch_fields.get("lot", LOT)))


def master_data(**changes: Any) -> dict[str, Any]:
    return MASTER_DATA_EXAMPLE | changes


async def log_of(harness: Harness, event_type: str | None = None) -> list[RecordedEvent]:
    """The service's own records (access refusals, recorded there too, left out)."""
    found = await PostgresEventStore(harness.composition.app_pool, SERVICE).read_all(0, 1_000_000)
    kept = [e for e in found if e.event_type.startswith("fmd.")]
    return kept if event_type is None else [e for e in kept if e.event_type == event_type]
