"""HTTP routes of EPCIS reporting, under `/v1/epcis` (the base URL an EPCIS 2.0 client is given):
parse → handler. No decisions here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, status
from serialtrail_contracts.epcis import ErrorBehaviour
from serialtrail_gs1.epcis_checks import CBV_TERM, EPCIS_DOCUMENT, EPCIS_SCHEMA
from serialtrail_gs1.epcis_context import CONTEXT_DECLARATION, PROTECTED_TERM
from serialtrail_gs1.rules import SCAN_RULES
from serialtrail_kit.access.authz import requires
from serialtrail_kit.declaration import NOT_IN_FUTURE
from serialtrail_kit.errors import InvalidInput, MalformedJson, Unavailable
from serialtrail_kit.http import strict_json
from serialtrail_kit.http.answers import ok
from serialtrail_kit.http.bodies import streams
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import JsonResponse
from serialtrail_kit.http.refusals import refuses
from serialtrail_kit.http.slots import Slots

from epcis_reporting.application.capture import CaptureHandlers, MalformedXml, TooManyEvents
from epcis_reporting.application.records import RecordHandlers
from epcis_reporting.domain import rules
from epcis_reporting.entrypoints import permissions as allowed
from epcis_reporting.entrypoints.grants import grant_routes
from epcis_reporting.entrypoints.named_queries import named_query_routes
from epcis_reporting.entrypoints.queries import Answers, query_routes
from epcis_reporting.entrypoints.resources import Resources
from epcis_reporting.entrypoints.responses import CaptureJob, CaptureJobs, job_answer
from epcis_reporting.entrypoints.subscriptions import Seal, subscription_routes
from epcis_reporting.projections import jobs

PREFIX = "/v1/epcis"
JOBS_PATH = f"{PREFIX}/capture"
EPCIS_VERSION = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
Consistent = Callable[[], Awaitable[None]]

_CAPTURES = refuses(
    {
        InvalidInput: (rules.ERROR_BEHAVIOUR, EPCIS_DOCUMENT, PROTECTED_TERM, CONTEXT_DECLARATION, *strict_json.RULES),
        MalformedJson: (rules.WELL_FORMED,),
        MalformedXml: (rules.WELL_FORMED_XML, rules.NO_DTD),
        TooManyEvents: (rules.EVENT_LIMIT,),
        Unavailable: (),
    }
)
# Refused per event, in the job (the route accepts the document): documented with the job.
EVENT_RULES = (
    EPCIS_SCHEMA,
    PROTECTED_TERM,
    CONTEXT_DECLARATION,
    *SCAN_RULES,
    CBV_TERM,
    NOT_IN_FUTURE,
    rules.EVENT_TIME,
    rules.EVENT_SIZE,
    rules.IN_SCOPE,
    rules.CAPTURED_ONCE,
    rules.XSD,
    rules.XML_UNSUPPORTED,
)
CAPTURE_EXAMPLE: dict[str, Any] = {
    "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": "2026-11-30T09:20:00.000+01:00",
    "epcisBody": {
        "eventList": [
            {
                "type": "ObjectEvent",
                "eventTime": "2026-11-30T09:15:00.000+01:00",
                "eventTimeZoneOffset": "+01:00",
                "epcList": ["https://id.gs1.org/01/09506000134352/21/A1B2C3D4"],
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "readPoint": {"id": "urn:epc:id:sgln:9506000.00000.LINE-1"},
                "ilmd": {"cbvmda:lotNumber": "LOT-A1", "cbvmda:itemExpirationDate": "2028-06-30"},
            }
        ]
    },
}
JSON_TYPES = ("application/json", "application/ld+json")
XML_TYPES = ("application/xml", "text/xml")
XML_EXAMPLE = """<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1" schemaVersion="1.2"
    creationDate="2026-11-30T09:20:00.000+01:00">
  <EPCISBody><EventList><ObjectEvent>
    <eventTime>2026-11-30T09:15:00.000+01:00</eventTime><eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
    <epcList><epc>urn:epc:id:sgtin:9506000.013435.A1B2C3D4</epc></epcList>
    <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
    <disposition>urn:epcglobal:cbv:disp:active</disposition>
  </ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>"""
Behaviour = Annotated[
    str | None,
    Header(
        alias="GS1-Capture-Error-Behaviour",
        description="rollback (default): nothing of a document with an error is captured; "
        "proceed: every event without one is",
    ),
]


@dataclass(frozen=True)
class Limits:
    max_document_bytes: int
    webhooks_allow_private: bool
    captures_at_once: int
    capture_wait_seconds: float


def build_router(
    handlers: CaptureHandlers, records: RecordHandlers, pool: Any, reads: Reads, limits: Limits, seal: Seal
) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["EPCIS capture and query"])
    resources = Resources(pool)
    _capture_route(router, handlers, resources, reads.jobs, limits)
    _job_routes(router, pool, resources, reads.jobs)
    answer = Answers(pool, reads.repository)
    query_routes(router, resources, answer)
    named_query_routes(router, records, resources, answer, reads.named_queries)
    subscription_routes(router, records, resources, seal, limits.webhooks_allow_private)
    grant_routes(router, records, resources, reads.repository)
    return router


@dataclass(frozen=True)
class Reads:
    """Read-your-writes for each of this service's own read models."""

    jobs: Consistent
    repository: Consistent
    named_queries: Consistent


def _behaviour(value: str | None) -> ErrorBehaviour:
    try:
        return ErrorBehaviour(value or ErrorBehaviour.rollback)
    except ValueError:
        message = f"{value!r} is not a capture error behaviour this server supports (rollback, proceed)"
        raise InvalidInput(message, [rules.ERROR_BEHAVIOUR.at("header.GS1-Capture-Error-Behaviour", message)]) from None


def _capture_route(
    router: APIRouter, handlers: CaptureHandlers, resources: Resources, consistent: Consistent, limits: Limits
) -> None:
    slots = Slots("documents captured", limits.captures_at_once, limits.capture_wait_seconds)

    @router.post(
        "/capture",
        status_code=status.HTTP_202_ACCEPTED,
        dependencies=[requires(allowed.CAPTURE, resources.document)],
        openapi_extra={
            **_CAPTURES,
            "requestBody": {
                "required": True,
                "description": "an EPCIS 2.0 EPCISDocument or EPCISQueryDocument (JSON-LD), or an EPCIS 2.0 or 1.2 "
                "XML document (1.2 with its SBDH and master data), read as it arrives",
                "content": {
                    "application/ld+json": {"schema": {"type": "object"}, "example": CAPTURE_EXAMPLE},
                    "application/xml": {"schema": {"type": "string"}, "example": XML_EXAMPLE},
                },
            },
        },
        responses={
            202: {
                "model": CaptureJob,
                "description": "the capture job (Location names it): finished, or running while the services its "
                "events were routed to decide (read it again at Location)",
            }
        },
        summary="Capture an EPCIS document (EPCIS 2.0 REST binding)",
        description="Each event is checked (EPCIS 2.0 JSON Schema, GS1 identifiers, CBV terms, the key's scope, "
        "captured once by its CBV 2.0 Event Hash ID) and the job records which were captured and why the others "
        f"were not. Rules an event can break, reported in the job: {', '.join(r.name for r in EVENT_RULES)}. "
        "An event routed to the service that owns what it means (a commissioning ObjectEvent: serial issuance) "
        "may then be refused by that service, under the rules its own API names (403, 409 or 422 in the job: "
        "registered-batch, issued-for-gtin, commissioned …); the job runs until every such service has decided.",
    )
    @streams(limits.max_document_bytes, *JSON_TYPES, *XML_TYPES)
    async def capture(request: Request, behaviour_header: Behaviour = None) -> JsonResponse:
        behaviour = _behaviour(behaviour_header)
        principal = request.state.principal
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        read = handlers.read_xml if media.endswith("xml") else handlers.read_json
        async with slots.held(principal.id):  # a document read takes many times its size in memory while read
            document = await read(request.stream(), principal)
            capture_id, _ = await handlers.record(document, behaviour, principal, record_metadata(request))
        await consistent()
        async with resources.pool.acquire() as conn:
            row = await jobs.job(conn, capture_id)
        assert row is not None  # recorded and read your writes
        location = f"{JOBS_PATH}/{capture_id}"
        return JsonResponse(
            job_answer(row, JOBS_PATH), status_code=202, headers={"Location": location, **EPCIS_VERSION}
        )


def _job_routes(router: APIRouter, pool: Any, resources: Resources, consistent: Consistent) -> None:
    @router.get(
        "/capture",
        dependencies=[requires(allowed.JOBS, resources.jobs)],
        responses=ok(CaptureJobs, "capture jobs, newest first"),
        summary="List capture jobs (a narrowed key: its own)",
    )
    async def list_jobs(
        request: Request, limit: Annotated[int, Query(ge=1, le=1000, description="at most this many jobs")] = 100
    ) -> JsonResponse:
        await consistent()
        found = await jobs.jobs(pool, request.state.principal, limit)
        return JsonResponse({"jobs": [job_answer(row, JOBS_PATH) for row in found]}, headers=EPCIS_VERSION)

    @router.get(
        "/capture/{capture_id}",
        dependencies=[requires(allowed.JOBS, resources.job)],
        responses=ok(CaptureJob, "the capture job"),
        summary="Read a capture job",
    )
    async def read_job(request: Request, capture_id: UUID) -> JsonResponse:
        found = getattr(request.state, "job", None)
        if found is None:  # exactly as another party's job is answered
            raise resources.job.answer_unknown(request)
        return JsonResponse(job_answer(found, JOBS_PATH), headers=EPCIS_VERSION)
