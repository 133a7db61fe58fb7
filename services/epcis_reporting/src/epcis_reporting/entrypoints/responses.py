"""What capture answers: the capture job as the EPCIS 2.0 REST binding describes it
(`CaptureJob`: captureID, createdAt, finishedAt, running, success, captureErrorBehaviour,
errors as RFC 7807 problems), one problem per event not captured."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import groupby
from typing import Any, Literal

from pydantic import Field
from serialtrail_kit.http.answers import Answer
from serialtrail_kit.http.problems import PROBLEM_BASE

_KINDS = {
    400: ("invalid-input", "The event breaks a rule"),
    403: ("forbidden", "Not the sender's to capture"),
    409: ("conflict", "Captured before, or conflicts with what its owner holds"),
    422: ("invalid-input", "Its owner refused it: it breaks a business rule"),
}


class Violation(Answer):
    field: str = Field(description="where in the document, e.g. eventList[3].epcList[0]")
    rule: str = Field(description="the rule broken (stable name)")
    message: str


class EventProblem(Answer):
    """Why one event (or, without eventIndex, the document) was not captured (RFC 7807)."""

    type: str
    title: str
    status: int = Field(
        description="400 invalid, 403 names objects outside the key's scope, 409 a duplicate (or, from the service "
        "the event was routed to, a conflict: a serial commissioned before), 422 refused by that service "
        "(a serial not issued for its product and batch, a line or batch not registered …)"
    )
    detail: str
    instance: str = Field(description="the job, and the event in it")
    eventIndex: int | None = Field(description="the event's position in the document's eventList (from 0)")
    eventID: str | None = Field(description="its CBV 2.0 Event Hash ID, when it validated")
    errors: list[Violation]


class CaptureJob(Answer):
    captureID: str
    createdAt: datetime
    finishedAt: datetime | None
    running: bool = Field(description="true while the services its events were routed to have not all decided")
    success: bool = Field(description="false: at least one event was not captured (see errors), or still running")
    captureErrorBehaviour: Literal["rollback", "proceed"]
    documentFormat: str = Field(description="jsonld-2.0, xml-2.0 or xml-1.2")
    events: int = Field(description="events in the document")
    captured: int | None = Field(description="events captured (under rollback with an error: 0); null while running")
    errors: list[EventProblem]


class CaptureJobs(Answer):
    jobs: list[CaptureJob]


def job_answer(row: Mapping[str, Any], path: str) -> dict[str, Any]:
    errors = sorted(row["errors"] or [], key=lambda e: -1 if e["index"] is None else e["index"])
    running = row["finished_at"] is None
    return {
        "captureID": row["capture_id"],
        "createdAt": row["created_at"],
        "finishedAt": row["finished_at"],
        "running": running,
        "success": not running and not errors,
        "captureErrorBehaviour": row["behaviour"],
        "documentFormat": row["document_format"],
        "events": row["events"],
        "captured": None if running else row["captured"],
        "errors": list(_problems(errors, f"{path}/{row['capture_id']}")),
    }


def _problems(errors: Iterable[Mapping[str, Any]], job: str) -> Iterable[dict[str, Any]]:
    """One problem per event (its violations together), in document order."""
    for (index, status), grouped in groupby(errors, key=lambda e: (e["index"], e["status"])):
        violations = list(grouped)
        kind, title = _KINDS.get(status, _KINDS[400])
        yield {
            "type": PROBLEM_BASE + kind,
            "title": title,
            "status": status,
            "detail": violations[0]["message"] if len(violations) == 1 else f"{len(violations)} rules broken",
            "instance": f"{job}#eventList[{index}]" if index is not None else job,
            "eventIndex": index,
            "eventID": violations[0].get("event_id"),
            "errors": [{k: v[k] for k in ("field", "rule", "message")} for v in violations],
        }
