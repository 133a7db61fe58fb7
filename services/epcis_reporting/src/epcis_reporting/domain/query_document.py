"""What a query answers, and a subscription is told: an EPCISQueryDocument of the events as
captured, each with the time this repository recorded it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from serialtrail_gs1.epcis import CONTEXT


def _as_recorded(row: dict[str, Any]) -> dict[str, Any]:
    """The event as captured, with the time this repository recorded it (EPCIS `recordTime`)."""
    recorded: datetime = row["record_time"]
    return {**row["event"], "recordTime": recorded.isoformat(timespec="milliseconds")}


def query_document(
    rows: list[dict[str, Any]], query_name: str = "SimpleEventQuery", subscription_id: str | None = None
) -> dict[str, Any]:
    """An EPCISQueryDocument; its @context the standard one and every prefix its events' documents
    declared; a subscription's names the query and the subscription it answers."""
    context: list[Any] = [CONTEXT]
    for row in rows:
        declared = row["context"] if isinstance(row["context"], list) else [row["context"]]
        context += [item for item in declared if item and item not in context]
    results: dict[str, Any] = {"queryName": query_name}
    if subscription_id is not None:
        results["subscriptionID"] = subscription_id
    results["resultsBody"] = {"eventList": [_as_recorded(r) for r in rows]}
    return {
        "@context": context,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {"queryResults": results},
    }
