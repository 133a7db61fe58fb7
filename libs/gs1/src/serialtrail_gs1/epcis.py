"""What the services record, as EPCIS 2.0 JSON-LD (GS1 EPCIS 2.0 §9, CBV 2.0): one place that
says which recorded event is which EPCIS event, and which master data describes the locations
they name. Identifiers are kept as recorded (GS1 Digital Link URIs and SGLN URIs, both valid
EPCIS 2.0 identifiers); times keep the offset the line sent (`eventTimeZoneOffset`).

Events that are not EPCIS events (pools, allocations, imports, SSCC ranges) and master data
(products, batches, sites, lines) are named in `NOT_EVENTS` and `MASTER_DATA`, so a new event
type is a decision to make here, not a silent gap: a conformance test checks every type."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from serialtrail_contracts import fmd
from serialtrail_contracts.aggregation import CaptureDecided as PackingDecided
from serialtrail_contracts.aggregation import ChildrenPacked, ChildrenUnpacked, ParentClosed
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.deviations import DEVIATION_EVENTS
from serialtrail_contracts.epcis import (
    CaptureCommitted,
    CaptureFinished,
    CaptureReceived,
    EventsCaptured,
    OwnerDecided,
    PartnerGranted,
    PartnerGrantRevoked,
    QueryDefined,
    QueryDeleted,
    SubscriptionCancelled,
    SubscriptionCreated,
    SubscriptionDelivered,
    SubscriptionDeliveryFailed,
    SubscriptionNotified,
)
from serialtrail_contracts.exception_vocabulary import VOCABULARY
from serialtrail_contracts.exceptions import CaptureDecided as ExceptionsDecided
from serialtrail_contracts.exceptions import (
    DecommissionUndone,
    ExceptionCancelled,
    ExceptionRecorded,
    ExceptionResolved,
    HoldLifted,
    HoldPlaced,
    InvestigationStarted,
    SerialsDecommissioned,
)
from serialtrail_contracts.serials import (
    BatchRegistered,
    CaptureDecided,
    LineRegistered,
    ProductRegistered,
    SerialCountersReserved,
    SerialPoolOpened,
    SerialReplaced,
    SerialsAllocated,
    SerialsCommissioned,
    SerialsImported,
    SiteRegistered,
    SsccRangeAllocated,
)

from serialtrail_gs1.identity import sgtin_digital_link

FMD_EVENTS = frozenset(fmd.EVENTS.values())

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
MDA = "urn:epcglobal:cbv:mda#"
Rendered = dict[str, Any]

# Recorded, but not EPCIS events: serial issuance's bookkeeping; an exception record's review
# (quality records, not supply chain events); and the decommissioning fact other services consume,
# whose EPCIS event is the record's own DELETE (rendered from `ExceptionRecorded`, which names
# where it happened).
NOT_EVENTS: frozenset[type[EventContract]] = frozenset(
    {
        SerialPoolOpened,
        SerialsAllocated,
        SerialCountersReserved,
        SerialsImported,
        SsccRangeAllocated,
        InvestigationStarted,
        ExceptionResolved,
        ExceptionCancelled,
        SerialsDecommissioned,
        DecommissionUndone,  # the EU FMD undo of a pack state; EPCIS has no event for it
        SerialReplaced,  # serial issuance's note of a rework: its EPCIS event is the ExceptionRecorded
        HoldPlaced,  # a quality state of the units, not an event in the supply chain
        HoldLifted,
        *DEVIATION_EVENTS,  # quality records
        # A capture job's bookkeeping; the EPCIS events captured are served as they were received.
        CaptureReceived,
        EventsCaptured,
        CaptureFinished,
        OwnerDecided,
        CaptureCommitted,
        CaptureDecided,  # serial issuance's answer to a capture: its commissionings are the events
        PackingDecided,  # aggregation's answer to a capture: its packs and unpacks are the events
        ExceptionsDecided,  # line exceptions' answer to a capture: its exception records are the events
        PartnerGranted,  # who may read what: access, not something that happened to the objects
        PartnerGrantRevoked,
        QueryDefined,  # a view on the repository, not something that happened to the objects
        QueryDeleted,
        SubscriptionCreated,  # who is told what, and when: deliveries, not something that happened to objects
        SubscriptionCancelled,
        SubscriptionNotified,
        SubscriptionDelivered,
        SubscriptionDeliveryFailed,
        *FMD_EVENTS,  # what the EU FMD hub was sent and answered: reports about the objects, not events
    }
)
# Master data: rendered in the document header's vocabularies, not as events.
MASTER_DATA: frozenset[type[EventContract]] = frozenset(
    {ProductRegistered, BatchRegistered, SiteRegistered, LineRegistered}
)


def time_zone_offset(moment: datetime) -> str:
    """`+HH:MM` / `-HH:MM` of an aware time (EPCIS requires it; UTC is `+00:00`)."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("an EPCIS event time needs an offset")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _common(event_type: str, when: datetime, read_point: str, biz_location: str) -> Rendered:
    return {
        "type": event_type,
        "eventTime": when.isoformat(),
        "eventTimeZoneOffset": time_zone_offset(when),
        "readPoint": {"id": read_point},
        "bizLocation": {"id": biz_location},
    }


def _commissioned(e: SerialsCommissioned) -> Rendered:
    return {
        **_common("ObjectEvent", e.event_time, e.read_point, e.biz_location),
        "action": "ADD",
        "epcList": [sgtin_digital_link(e.gtin, serial) for serial in e.serials],
        "bizStep": "commissioning",
        "disposition": "active",
        "ilmd": {"cbvmda:lotNumber": e.lot, "cbvmda:itemExpirationDate": e.expiry.isoformat()},
    }


def _aggregation(e: ChildrenPacked | ChildrenUnpacked) -> Rendered:
    packed = isinstance(e, ChildrenPacked)
    return {
        **_common("AggregationEvent", e.event_time, e.read_point, e.biz_location),
        "action": "ADD" if packed else "DELETE",
        "parentID": e.parent_id,
        "childEPCs": list(e.child_ids),
        "bizStep": "packing" if packed else "unpacking",
        **({"disposition": "in_progress"} if packed else {}),
    }


def _closed(e: ParentClosed) -> Rendered:
    """A closed parent was observed complete: counted against an expected number, or not."""
    return {
        **_common("ObjectEvent", e.event_time, e.read_point, e.biz_location),
        "action": "OBSERVE",
        "epcList": [e.parent_id],
        "bizStep": "packing",
        "disposition": "completeness_verified" if e.expected_count is not None else "completeness_inferred",
    }


def _exception(e: ExceptionRecorded) -> Rendered:
    """Units that went wrong on a line: a DELETE of those the record took out of the supply chain,
    else an OBSERVE; business step and disposition from the one reason vocabulary."""
    meaning = VOCABULARY[e.exception_type]
    return {
        **_common("ObjectEvent", e.event_time, e.read_point, e.biz_location),
        "action": "DELETE" if meaning.takes_out else "OBSERVE",
        "epcList": [*(sgtin_digital_link(e.gtin, serial) for serial in e.serials), *e.parents],
        "bizStep": meaning.biz_step,
        "disposition": meaning.disposition,
    }


_RENDERERS: dict[type[EventContract], Callable[[Any], Rendered]] = {
    SerialsCommissioned: _commissioned,
    ChildrenPacked: _aggregation,
    ChildrenUnpacked: _aggregation,
    ParentClosed: _closed,
    ExceptionRecorded: _exception,
}
EVENTS: frozenset[type[EventContract]] = frozenset(_RENDERERS)


def event(recorded: EventContract, record_time: datetime | None = None) -> Rendered | None:
    """The EPCIS event a recorded event is, or None for master data and bookkeeping."""
    render = _RENDERERS.get(type(recorded))
    if render is None:
        if type(recorded) in NOT_EVENTS | MASTER_DATA:
            return None
        raise LookupError(f"{type(recorded).__name__}: not mapped to EPCIS (add it to epcis.py)")
    rendered = render(recorded)
    if record_time is not None:
        rendered["recordTime"] = record_time.isoformat()
    return rendered


def _attributes(pairs: Iterable[tuple[str, Any]]) -> list[Rendered]:
    return [{"id": MDA + name, "attribute": value} for name, value in pairs if value is not None]


def master_data(registered: Sequence[EventContract]) -> list[Rendered]:
    """Vocabularies for the sites (business locations) and lines (read points) among `registered`."""
    sites = [e for e in registered if isinstance(e, SiteRegistered)]
    lines = [e for e in registered if isinstance(e, LineRegistered)]
    vocabularies = []
    if sites:
        elements = [
            {
                "id": s.biz_location,
                "attributes": _attributes(
                    [
                        ("name", s.name),
                        ("streetAddressOne", s.address.street),
                        ("city", s.address.city),
                        ("postalCode", s.address.postal_code),
                        ("countryCode", s.address.country),
                    ]
                ),
                "children": [line.read_point for line in lines if line.biz_location == s.biz_location],
            }
            for s in sites
        ]
        vocabularies.append({"type": "urn:epcglobal:epcis:vtype:BusinessLocation", "vocabularyElementList": elements})
    if lines:
        elements = [
            {"id": line.read_point, "attributes": _attributes([("name", line.name), ("site", line.site_gln)])}
            for line in lines
        ]
        vocabularies.append({"type": "urn:epcglobal:epcis:vtype:ReadPoint", "vocabularyElementList": elements})
    return vocabularies


def standalone(rendered: Rendered) -> Rendered:
    """An event on its own (a capture or query answer of one event) carries its @context."""
    return {"@context": [CONTEXT], **rendered}


def document(events: Sequence[Rendered], vocabularies: Sequence[Rendered], created: datetime) -> Rendered:
    """An EPCISDocument of `events` with the master data of the locations they name."""
    rendered: Rendered = {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created.isoformat(),
        "epcisBody": {"eventList": list(events)},
    }
    if vocabularies:
        rendered["epcisHeader"] = {"epcisMasterData": {"vocabularyList": list(vocabularies)}}
    return rendered
