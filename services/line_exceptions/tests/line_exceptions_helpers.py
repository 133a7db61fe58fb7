"""Staging what serial issuance publishes, and building record requests, for the line
exceptions tests."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from serialtrail_contracts.aggregation import (
    ChildrenPacked,
    ChildrenUnpacked,
    PackagingLevel,
    ParentClosed,
    UnpackReason,
)
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.serials import BatchRegistered, LineRegistered, ProductRegistered, SerialsCommissioned
from serialtrail_gs1.identity import sgtin_digital_link
from serialtrail_gs1.keys import sscc as gs1_sscc
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import SYSTEM, Harness

GTIN = "09506000134352"
LOT = "L2026A"
OTHER_LOT = "L2026B"
T0 = "2026-11-22T08:00:00+01:00"
SITE_GLN = "9506000000008"
SERVICE = "line_exceptions"


def line(line_id: str = "LINE-1", cmo_id: str | None = None) -> LineRegistered:
    return LineRegistered(
        line_id=line_id,
        name=f"Line {line_id}",
        site_gln=SITE_GLN,
        cmo_id=cmo_id,
        read_point=f"urn:epc:id:sgln:9506000.00000.{line_id}",
        biz_location="urn:epc:id:sgln:9506000.00000.0",
    )


def master_data(cmo_id: str | None = None) -> list[EventContract]:
    product = ProductRegistered(
        gtin=GTIN, company_prefix_length=7, name="Paracetamol", serial_length=12, serial_alphabet="alphanumeric"
    )
    batches = [
        BatchRegistered(gtin=GTIN, lot=lot, expiry=date(2028, 6, 30), site_gln=SITE_GLN, cmo_id=cmo_id)
        for lot in (LOT, OTHER_LOT)
    ]
    return [product, *batches, line(cmo_id=cmo_id), line("LINE-2", cmo_id=cmo_id)]


def commissioned(serials: list[str], lot: str = LOT, line_id: str = "LINE-1") -> SerialsCommissioned:
    return SerialsCommissioned(
        commissioning_id=uuid.uuid4(),
        gtin=GTIN,
        lot=lot,
        expiry=date(2028, 6, 30),
        line_id=line_id,
        read_point=line(line_id).read_point,
        biz_location=line(line_id).biz_location,
        event_time=datetime.fromisoformat("2026-11-22T07:00:00+00:00"),
        serials=tuple(serials),
    )


async def publish(harness: Harness, *events: EventContract) -> None:
    """Append to serial issuance's log as it would, then let line exceptions' knowledge catch up."""
    store = PostgresEventStore(harness.composition.app_pool, "serial_issuance")
    await store.append([append_of(f"test-{uuid.uuid4()}", 0, events)], SYSTEM)
    await harness.runner(SERVICE, "knowledge").caught_up(timeout=30)


async def staged(harness: Harness, serials: list[str], cmo_id: str | None = None) -> None:
    await publish(harness, *master_data(cmo_id), commissioned(serials), commissioned(["OTHER1", "OTHER2"], OTHER_LOT))


def scan(serial: str) -> str:
    """As a line's scanner sends it: symbology identifier, GTIN, expiry, lot, GS, serial."""
    return f"]d201{GTIN}1728063010{LOT}\x1d21{serial}"


def record_body(kind: str, units: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "batch": {"gtin": GTIN, "lot": LOT},
        "units": units,
        "line_id": "LINE-1",
        "event_time": T0,
        "description": f"{kind} seen at the vision station",
        "observed_by": "J. Doe, line operator",
        **extra,
    }


async def log_of(harness: Harness) -> list[RecordedEvent]:
    """The records in the service's log (access refusals, recorded there too, left out)."""
    events = await PostgresEventStore(harness.composition.app_pool, SERVICE).read_all(0, 1_000_000)
    return [e for e in events if e.event_type.startswith("exceptions.")]


def unit_uri(serial: str) -> str:
    """A unit as aggregation names it: its canonical Digital Link URI."""
    return sgtin_digital_link(GTIN, serial)


def sscc(n: int) -> str:
    """The canonical URI of an SSCC (company prefix 9506000), `n` its serial reference."""
    return f"https://id.gs1.org/00/{gs1_sscc(0, '9506000', n)}"


def _at_line() -> dict[str, Any]:
    at = line()
    return {
        "line_id": at.line_id,
        "read_point": at.read_point,
        "biz_location": at.biz_location,
        "event_time": datetime.fromisoformat("2026-11-22T07:30:00+00:00"),
    }


def packed(parent: str, children: list[str], *, closed: bool = True) -> list[EventContract]:
    level = PackagingLevel.pallet if any("/00/" in c for c in children) else PackagingLevel.case
    events: list[EventContract] = [
        ChildrenPacked(
            pack_id=uuid.uuid4(), parent_id=parent, packaging_level=level, child_ids=tuple(children), **_at_line()
        )
    ]
    if closed:
        events.append(ParentClosed(parent_id=parent, child_count=len(children), **_at_line()))
    return events


def unpacked(parent: str, children: list[str]) -> ChildrenUnpacked:
    return ChildrenUnpacked(
        unpack_id=uuid.uuid4(), parent_id=parent, child_ids=tuple(children), reason=UnpackReason.damaged, **_at_line()
    )


async def aggregated(harness: Harness, *events: EventContract) -> None:
    """Append to aggregation's log as it would, then let line exceptions' hierarchy catch up."""
    store = PostgresEventStore(harness.composition.app_pool, "aggregation")
    await store.append([append_of(f"test-{uuid.uuid4()}", 0, events)], SYSTEM)
    await harness.runner(SERVICE, "hierarchy").caught_up(timeout=30)
