"""Which service records what a captured event means. EPCIS reporting keeps every event for
queries; an event that changes what another service owns is routed to it, and its job runs
until that service has decided (`CaptureDecision`).

Routed: commissioning (an ObjectEvent adding packs, bizStep commissioning) to serial issuance;
packing and unpacking (an AggregationEvent adding to or removing from a parent) to aggregation;
decommissioning, destroying and sampling of packs (an ObjectEvent naming SGTINs) to line
exceptions, whatever its action and disposition: what it cannot record as an exception it refuses,
precisely, rather than this service keeping it silently."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from serialtrail_gs1.epcis_checks import Keys, cbv_word

SERIAL_ISSUANCE, AGGREGATION, LINE_EXCEPTIONS = "serial_issuance", "aggregation", "line_exceptions"
OWNERS = (SERIAL_ISSUANCE, AGGREGATION, LINE_EXCEPTIONS)
_TAKEN_OUT = frozenset({"decommissioning", "destroying", "sampling"})


def owner_of(event: dict[str, Any], keys: Keys | None, routed: Collection[str]) -> str | None:
    """The owner of `event` among the services this deployment routes to (`routed`)."""
    if keys is None:
        return None
    if _commissions_packs(event, keys) and SERIAL_ISSUANCE in routed:
        return SERIAL_ISSUANCE
    if _packs_or_unpacks(event) and AGGREGATION in routed:
        return AGGREGATION
    if _takes_packs_out(event, keys) and LINE_EXCEPTIONS in routed:
        return LINE_EXCEPTIONS
    return None


def _commissions_packs(event: dict[str, Any], keys: Keys) -> bool:
    return (
        event.get("type") == "ObjectEvent"
        and event.get("action") == "ADD"
        and cbv_word(event.get("bizStep"), "BizStep") == "commissioning"
        and bool(event.get("epcList"))
        and bool(keys.serials)
    )


def _packs_or_unpacks(event: dict[str, Any]) -> bool:
    step = cbv_word(event.get("bizStep"), "BizStep")
    return (
        event.get("type") == "AggregationEvent"
        and bool(event.get("parentID"))
        and (event.get("action"), step) in (("ADD", "packing"), ("DELETE", "unpacking"))
    )


def _takes_packs_out(event: dict[str, Any], keys: Keys) -> bool:
    return (
        event.get("type") == "ObjectEvent"
        and cbv_word(event.get("bizStep"), "BizStep") in _TAKEN_OUT
        and bool(keys.serials)
    )
