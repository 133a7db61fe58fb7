"""Staging what serial issuance publishes, and building pack requests, for the aggregation tests."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import httpx
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.exceptions import DecommissionReason, DecommissionUndone, SerialsDecommissioned
from serialtrail_contracts.serials import (
    BatchRegistered,
    LineRegistered,
    ProductRegistered,
    SerialsCommissioned,
    SsccRangeAllocated,
)
from serialtrail_gs1.identity import sgtin_digital_link
from serialtrail_gs1.keys import sscc
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import SYSTEM, Harness
from serialtrail_kit.testing.waiting import until

GTIN = "09506000134352"
LOT = "L2026A"
PREFIX = "9506000"
T0 = "2026-11-22T08:00:00Z"
SITE_GLN = "9506000000008"
SITE = "urn:epc:id:sgln:9506000.00000.0"


def line(line_id: str = "LINE-1", cmo_id: str | None = None, site_gln: str = SITE_GLN) -> LineRegistered:
    """A line as serial issuance registers it (GLN extension = its id)."""
    prefix, reference = site_gln[:7], site_gln[7:12]
    return LineRegistered(
        line_id=line_id,
        name=f"Line {line_id}",
        site_gln=site_gln,
        cmo_id=cmo_id,
        read_point=f"urn:epc:id:sgln:{prefix}.{reference}.{line_id}",
        biz_location=f"urn:epc:id:sgln:{prefix}.{reference}.0",
    )


def unit(serial: str, gtin: str = GTIN) -> str:
    return sgtin_digital_link(gtin, serial)


def sscc_uri(reference: int) -> str:
    return f"https://id.gs1.org/00/{sscc(0, PREFIX, reference)}"


async def publish(harness: Harness, *events: EventContract) -> None:
    """Append to serial issuance's log as it would, then let aggregation's knowledge catch up."""
    store = PostgresEventStore(harness.composition.app_pool, "serial_issuance")
    await store.append([append_of(f"test-{uuid.uuid4()}", 0, events)], SYSTEM)
    await knowledge_caught_up(harness)


async def knowledge_caught_up(harness: Harness) -> None:
    await harness.runner("aggregation", "knowledge").caught_up(timeout=30)


def master_data(cmo_id: str | None = None, lot: str = LOT) -> list[EventContract]:
    return [
        ProductRegistered(
            gtin=GTIN, company_prefix_length=7, name="Paracetamol", serial_length=12, serial_alphabet="alphanumeric"
        ),
        BatchRegistered(gtin=GTIN, lot=lot, expiry=date(2028, 6, 30), site_gln="9506000000008", cmo_id=cmo_id),
        SsccRangeAllocated(
            request_id=uuid.uuid4(), company_prefix=PREFIX, extension_digit=0, first_reference=1, quantity=10_000
        ),
        line(),
    ]


def commissioned(serials: list[str], lot: str = LOT) -> SerialsCommissioned:
    return SerialsCommissioned(
        commissioning_id=uuid.uuid4(),
        gtin=GTIN,
        lot=lot,
        expiry=date(2028, 6, 30),
        line_id="LINE-1",
        read_point=line().read_point,
        biz_location=SITE,
        event_time=datetime.fromisoformat(T0),
        serials=tuple(serials),
    )


def pack_body(parent: str, children: list[str], level: str = "case", **extra: Any) -> dict[str, Any]:
    return {
        "parent": parent,
        "packaging_level": level,
        "children": children,
        "line_id": "LINE-1",
        "event_time": T0,
        **extra,
    }


async def pack(client: httpx.AsyncClient, parent: str, children: list[str], level: str = "case", **extra: Any) -> Any:
    response = await client.post("/v1/pack", json=pack_body(parent, children, level, **extra))
    assert response.status_code == 201, response.text
    return response.json()


def tree_shape(node: dict[str, Any]) -> dict[str, Any]:
    """id → (status, sorted children shapes): a comparable form of a hierarchy answer."""
    return {
        "id": node["id"],
        "status": node["status"],
        "children": sorted((tree_shape(c) for c in node.get("children", [])), key=lambda c: c["id"]),
    }


async def decommission(harness: Harness, serials: list[str], reason: str = "damaged", undone: bool = False) -> None:
    """Append to the line exceptions log as that service will, then let aggregation catch up.
    `undone`: and the decommission undone after it."""
    exception_id = uuid.uuid4()
    event = SerialsDecommissioned(
        exception_id=exception_id,
        gtin=GTIN,
        serials=tuple(serials),
        reason=DecommissionReason(reason),
        event_time=datetime.fromisoformat(T0),
    )
    events: list[EventContract] = [event]
    if undone:
        events.append(
            DecommissionUndone(
                exception_id=exception_id,
                gtin=GTIN,
                serials=tuple(serials),
                reason="re-inspected: intact",
                line_id="LINE-1",
                event_time=datetime.fromisoformat(T0),
            )
        )
    store = PostgresEventStore(harness.composition.app_pool, "line_exceptions")
    await store.append([append_of(f"test-{uuid.uuid4()}", 0, events)], SYSTEM)
    await harness.runner("aggregation", "decommissions").caught_up(timeout=30)


async def until_known(client: httpx.AsyncClient, report_url: str, commissioned: int) -> None:
    """Aggregation learns of commissioning from serial issuance's log or topic: poll its report
    until it has."""

    async def known() -> bool:
        answer = await client.get(report_url)
        return answer.status_code == 200 and answer.json()["commissioned"] >= commissioned

    await until(known)


async def once_line_known(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    """Post a line-side command, waiting while aggregation has not yet learnt of its line
    (registered in serial issuance, it arrives by log or topic like everything else)."""
    answers: list[httpx.Response] = []

    async def answered() -> bool:
        answers.append(await client.post(path, json=body))
        rules = [e["rule"] for e in answers[-1].json().get("errors", [])] if answers[-1].status_code == 422 else []
        return rules != ["registered-line"]

    await until(answered)
    return answers[-1]
