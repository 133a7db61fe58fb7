"""`GET /v1/epcis/events`: the EPCIS 2.0 REST binding's event query, answered as an
EPCISQueryDocument (JSON-LD), a page at a time (`perPage`, `nextPageToken`, a `Link` to the next)."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from serialtrail_gs1.epcis_checks import canonical_epc
from serialtrail_gs1.epcis_xml_out import CompanyPrefixes, NotWritable, Version, write_json_document
from serialtrail_kit.access.authz import requires
from serialtrail_kit.db import Pool
from serialtrail_kit.errors import DomainError, InvalidInput, Rule
from serialtrail_kit.http.problems import JsonResponse
from serialtrail_kit.http.refusals import refuses

from epcis_reporting.domain.query_document import query_document
from epcis_reporting.domain.query_params import PARAMETERS, SUPPORTED, TIME_WITH_OFFSET, Filters, filters_of
from epcis_reporting.entrypoints import permissions as allowed
from epcis_reporting.entrypoints.resources import Resources
from epcis_reporting.projections.repository import known_prefixes, query

PAGE_TOKEN = Rule(
    "page-token", "nextPageToken is one this server gave out", "nextPageToken", "'xyz' is not a page token"
)
XML_WRITABLE = Rule(
    "xml-writable",
    "the events asked for can be written in the EPCIS XML version asked for (1.2: a GS1 Digital Link needs its "
    "company prefix's length, which the key's scope or the EPC URNs of anything captured tell, in its events or its "
    "master data; some 2.0 content has no 1.2 form)",
    "GS1-EPCIS-Version",
    "event 0 (ObjectEvent) epcList[0]: the company prefix length of GTIN 09506000134352 is not known",
)
VERSION_KNOWN = Rule(
    "epcis-version",
    "GS1-EPCIS-Version names an EPCIS version this server answers in: 2.0 or 1.2",
    "GS1-EPCIS-Version",
    "'3.0' is not an EPCIS version this server answers in (2.0, 1.2)",
)


MEDIA_ACCEPTED = Rule(
    "media-accepted",
    "Accept names a media type this server answers queries in: application/ld+json (the default), "
    "application/json, application/xml or text/xml (a wildcard covering one will do)",
    "header.Accept",
    "Accept 'text/csv' names no media type this server answers in",
)


class NotAcceptable(DomainError):
    kind, status, title = "not-acceptable", 406, "Not acceptable"
    example = "the events asked for cannot be written as EPCIS 1.2 XML; ask for EPCIS 2.0 (XML or JSON-LD)"


QUERY_REFUSALS = refuses(  # every route answering a query
    {
        InvalidInput: (TIME_WITH_OFFSET, PAGE_TOKEN, SUPPORTED),
        NotAcceptable: (XML_WRITABLE, VERSION_KNOWN, MEDIA_ACCEPTED),
    }
)
_XML = ("application/xml", "text/xml")
_WRITTEN = ("application/ld+json", "application/json", *_XML, "application/*", "text/*", "*/*")
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "an EPCISQueryDocument: JSON-LD, or EPCIS 2.0 / 1.2 XML (Accept, GS1-EPCIS-Version)",
        "content": {
            "application/ld+json": {"schema": {"type": "object"}},
            "application/xml": {"schema": {"type": "string"}},
        },
    }
}
_VERSIONS = {"2.0": Version.V2_0, "2.0.0": Version.V2_0, "1.2": Version.V1_2, "1.2.0": Version.V1_2}
PerPage = Annotated[int, Query(alias="perPage", ge=1, le=1000, description="at most this many events per page")]
Piped = Annotated[str | None, Query(description="one value or several, separated by |")]
Moment = Annotated[str | None, Query(description="an RFC 3339 date-time with its offset")]
Consistent = Callable[[], Awaitable[None]]


def _after(token: str | None) -> int | None:
    if token is None:
        return None
    try:
        after = int(base64.urlsafe_b64decode(token.encode() + b"==").decode())
        if not 0 <= after < 2**63:
            raise ValueError(after)
        return after
    except (ValueError, UnicodeDecodeError):
        message = f"{token[:40]!r} is not a page token this server gave out"
        raise InvalidInput(message, [PAGE_TOKEN.at("query.nextPageToken", message)]) from None


PAGING = frozenset({"perPage", "nextPageToken"})
ALL_PARAMETERS = PAGING | frozenset(PARAMETERS)


def _only(request: Request, parameters: frozenset[str]) -> None:
    """Refuses a parameter the route does not read (EPCIS: a query names only parameters the
    server recognises) and one given twice, rather than answer as if either were not there."""
    given = Counter(name for name, _ in request.query_params.multi_items())
    problems = [
        SUPPORTED.at(f"query.{name[:100]}", message)
        for name, times in given.items()
        if (message := _unread(name, times, parameters)) is not None
    ]
    if problems:
        raise InvalidInput(f"{len(problems)} query parameter(s) this route does not read", problems[:20])


def _unread(name: str, times: int, parameters: frozenset[str]) -> str | None:
    if name not in parameters:
        return f"{name[:100]!r} is no parameter of this query (names are case-sensitive)"
    if times > 1:
        return f"{name} is given {times} times: give its values once, separated by |"
    return None


def _token(seq: int) -> str:
    return base64.urlsafe_b64encode(str(seq).encode()).decode().rstrip("=")


class Answers:
    """An EPCISQueryDocument of a page of the events `filters` select, as the request asks for it
    (JSON-LD, or EPCIS XML 2.0 / 1.2): every query route answers through this."""

    def __init__(self, pool: Pool, consistent: Consistent) -> None:
        self.pool, self.consistent = pool, consistent

    async def __call__(
        self,
        request: Request,
        filters: Filters,
        per_page: int,
        next_page_token: str | None,
        parameters: frozenset[str] = PAGING,
        query_name: str = "SimpleEventQuery",
    ) -> Response:
        _only(request, parameters)
        after = _after(next_page_token)
        await self.consistent()
        xml = _wants_xml(request.headers.get("accept", ""))
        version = _version(request.headers.get("gs1-epcis-version")) if xml else Version.V2_0
        rows = await query(self.pool, request.state.principal, filters, per_page + 1, after)
        page, more = rows[:per_page], len(rows) > per_page
        headers = {"GS1-EPCIS-Version": f"{version.value}.0", "GS1-CBV-Version": "2.0.0"}
        if more:
            following = request.url.include_query_params(nextPageToken=_token(page[-1]["seq"]))
            headers["Link"] = f'<{following}>; rel="next"'
        # A page of a thousand events is CPU work (its @context gathered, XML written): off the event loop.
        document = await asyncio.to_thread(query_document, page, query_name)
        if xml:
            known = [*(request.state.principal.scope.company_prefixes or ()), *await known_prefixes(self.pool)]
            body = await asyncio.to_thread(_as_xml, document, version, known)
            return Response(body, headers=headers, media_type="application/xml")
        return JsonResponse(document, headers=headers, media_type="application/ld+json")


def query_routes(router: APIRouter, resources: Resources, answer: Answers) -> None:
    @router.get(
        "/events",
        dependencies=[requires(allowed.READ, resources.events)],
        openapi_extra=QUERY_REFUSALS,
        responses=ANSWERS,
        summary="Query captured EPCIS events (EPCIS 2.0 REST binding)",
        description="An EPCISQueryDocument of the events the caller's scope covers, in capture order. "
        "MATCH_epc, MATCH_parentID and MATCH_anyEPC take SGTINs and SSCCs in any form (EPC URN or GS1 Digital "
        "Link: one finds the other); EQ_bizStep, EQ_disposition and EQ_errorReason bare CBV words or their URIs; "
        "several values are separated by |. Error declarations: by default the corrected view (an event declared in "
        "error is left out, its corrective events stand); EXISTS_errorDeclaration=true the declarations only, "
        "=false every event as last declared. More events than perPage: a Link header (rel=next) with "
        "nextPageToken. JSON-LD by default; EPCIS XML with Accept: application/xml, 2.0 or, with "
        "GS1-EPCIS-Version: 1.2, 1.2 (Digital Links as EPC URNs where the company prefix is known: from the key's "
        "scope, or stated by an EPC URN in anything captured, events or master data such as an EPCClass).",
    )
    async def events(
        request: Request,
        per_page: PerPage = 30,
        next_page_token: Annotated[str | None, Query(alias="nextPageToken")] = None,
        event_type: Annotated[Piped, Query(alias="eventType")] = None,
        ge_event_time: Annotated[Moment, Query(alias="GE_eventTime")] = None,
        lt_event_time: Annotated[Moment, Query(alias="LT_eventTime")] = None,
        ge_record_time: Annotated[Moment, Query(alias="GE_recordTime")] = None,
        lt_record_time: Annotated[Moment, Query(alias="LT_recordTime")] = None,
        eq_biz_step: Annotated[Piped, Query(alias="EQ_bizStep")] = None,
        eq_disposition: Annotated[Piped, Query(alias="EQ_disposition")] = None,
        eq_read_point: Annotated[Piped, Query(alias="EQ_readPoint")] = None,
        eq_biz_location: Annotated[Piped, Query(alias="EQ_bizLocation")] = None,
        match_epc: Annotated[Piped, Query(alias="MATCH_epc")] = None,
        match_parent_id: Annotated[Piped, Query(alias="MATCH_parentID")] = None,
        match_any_epc: Annotated[Piped, Query(alias="MATCH_anyEPC")] = None,
        eq_event_id: Annotated[Piped, Query(alias="EQ_eventID")] = None,
        exists_error_declaration: Annotated[
            bool | None,
            Query(
                alias="EXISTS_errorDeclaration",
                description="true: only error declarations (events declared in error, with their errorDeclaration); "
                "false: every event as last declared. Omitted: the corrected view, events declared in error left "
                "out and their corrective events in their place",
            ),
        ] = None,
        ge_error_declaration_time: Annotated[Moment, Query(alias="GE_errorDeclarationTime")] = None,
        lt_error_declaration_time: Annotated[Moment, Query(alias="LT_errorDeclarationTime")] = None,
        eq_error_reason: Annotated[Piped, Query(alias="EQ_errorReason")] = None,
        eq_corrective_event_id: Annotated[Piped, Query(alias="EQ_correctiveEventID")] = None,
        eq_ilmd_lot: Annotated[
            Piped, Query(alias="EQ_ILMD_cbvmda:lotNumber", description="the lot an event's ILMD names")
        ] = None,
    ) -> Response:
        given = {
            "eventType": event_type,
            "GE_eventTime": ge_event_time,
            "LT_eventTime": lt_event_time,
            "GE_recordTime": ge_record_time,
            "LT_recordTime": lt_record_time,
            "EQ_bizStep": eq_biz_step,
            "EQ_disposition": eq_disposition,
            "EQ_readPoint": eq_read_point,
            "EQ_bizLocation": eq_biz_location,
            "MATCH_epc": match_epc,
            "MATCH_parentID": match_parent_id,
            "MATCH_anyEPC": match_any_epc,
            "EQ_eventID": eq_event_id,
            "EXISTS_errorDeclaration": exists_error_declaration,
            "GE_errorDeclarationTime": ge_error_declaration_time,
            "LT_errorDeclarationTime": lt_error_declaration_time,
            "EQ_errorReason": eq_error_reason,
            "EQ_correctiveEventID": eq_corrective_event_id,
            "EQ_ILMD_cbvmda:lotNumber": eq_ilmd_lot,
        }
        filters = filters_of(given, "query")
        return await answer(request, filters, per_page, next_page_token, ALL_PARAMETERS)

    @router.get(
        "/epcs/{epc:path}/events",
        dependencies=[requires(allowed.READ, resources.epc_events)],
        openapi_extra=QUERY_REFUSALS,
        responses=ANSWERS,
        summary="Query the captured EPCIS events of one object (EPCIS 2.0 REST binding)",
        description="The events naming the object `epc` in any of their EPC lists or as parent: an SGTIN or "
        "SSCC in any form (EPC URN or GS1 Digital Link, URL-encoded), as GET /events?MATCH_anyEPC= answers it.",
    )
    async def epc_events(
        epc: str,
        request: Request,
        per_page: PerPage = 30,
        next_page_token: Annotated[str | None, Query(alias="nextPageToken")] = None,
    ) -> Response:
        return await answer(request, Filters(any_epcs=(canonical_epc(epc),)), per_page, next_page_token)


def _wants_xml(accept: str) -> bool:
    """Whether the most preferred media type the client accepts that this server writes is XML
    (JSON-LD when none is named); refused 406 when it accepts none this server writes."""
    best, preference = "", 0.0
    for offered in accept.split(",") if accept.strip() else ["*/*"]:
        media, *parameters = (part.strip().lower() for part in offered.split(";"))
        weight = next((p[2:] for p in parameters if p.startswith("q=")), "1")
        try:
            quality = float(weight)
        except ValueError:
            continue
        if media in _WRITTEN and quality > preference:
            best, preference = media, quality
    if not best:
        message = f"Accept {accept[:100]!r} names no media type this server answers in ({', '.join(_WRITTEN[:4])})"
        raise NotAcceptable(message, [MEDIA_ACCEPTED.at("header.Accept", message)])
    return best in _XML or best == "text/*"


def _version(named: str | None) -> Version:
    if named is None:
        return Version.V2_0
    if named.strip() not in _VERSIONS:
        message = f"{named[:20]!r} is not an EPCIS version this server answers in (2.0, 1.2)"
        raise NotAcceptable(message, [VERSION_KNOWN.at("header.GS1-EPCIS-Version", message)])
    return _VERSIONS[named.strip()]


def _as_xml(document: dict[str, Any], version: Version, prefixes: list[str]) -> bytes:
    """The query document as EPCIS XML of `version`; for 1.2, Digital Links as EPC URNs by the
    company prefixes the key's scope names and the EPC URNs of what was captured (events and master
    data) show."""
    try:
        return b"".join(write_json_document(document, version, company_prefixes=CompanyPrefixes.of(prefixes)))
    except NotWritable as error:
        message = f"{error}; ask for EPCIS 2.0 (XML or JSON-LD)"
        raise NotAcceptable(message, [XML_WRITABLE.at("header.GS1-EPCIS-Version", message)]) from error
