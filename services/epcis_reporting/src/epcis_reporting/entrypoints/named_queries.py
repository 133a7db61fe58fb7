"""`/v1/epcis/queries`: named queries (EPCIS 2.0 REST binding) — define one, list and read them,
delete one, and read its events as `GET /events` would answer its parameters. A named query is
its creator's (`domain.named_queries`); its events are narrowed to the reader's scope like any query."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import ConfigDict, Field
from serialtrail_contracts.epcis import QueryDefined, QueryDeleted
from serialtrail_kit.access.authz import requires
from serialtrail_kit.errors import Conflict, InvalidInput
from serialtrail_kit.http.answers import Answer, ok
from serialtrail_kit.http.body import Body
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import JsonResponse
from serialtrail_kit.http.refusals import refuses

from epcis_reporting.application.records import RecordHandlers
from epcis_reporting.domain.named_queries import NAME_PATTERN, QUERY_NAME, UNIQUE_NAME, require_name
from epcis_reporting.domain.query_params import PARAMETERS, SUPPORTED, TIME_WITH_OFFSET, filters_of, value_count
from epcis_reporting.entrypoints import permissions as allowed
from epcis_reporting.entrypoints.queries import ANSWERS, QUERY_REFUSALS, Answers, PerPage
from epcis_reporting.entrypoints.resources import Resources
from epcis_reporting.projections import named_queries

Consistent = Callable[[], Awaitable[None]]
MOST_VALUES = 1000  # a view, not a list of everything: its definition is kept on the log and in each subscription
MOST_BYTES = 64 * 1024
QueryNamePath = Annotated[str, Path(pattern=NAME_PATTERN, description="the name the caller gave its query")]
QUERY_EXAMPLE: dict[str, Any] = {
    "name": "daily-shipping",
    "query": {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping"]},
}


class NamedQueryIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [QUERY_EXAMPLE]})
    name: Annotated[str, Field(min_length=1, max_length=64, description="unique among the caller's queries")]
    query: Annotated[
        dict[str, Any],  # each parameter checked for its type by `filters_of`, named when it is wrong
        Field(
            max_length=len(PARAMETERS),
            description=f"query parameters (lists of strings, date-times, EXISTS_ booleans): {', '.join(PARAMETERS)}",
        ),
    ]


class NamedQuery(Answer):
    name: str
    query: dict[str, Any]


def named_query_routes(
    router: APIRouter, handlers: RecordHandlers, resources: Resources, answer: Answers, consistent: Consistent
) -> None:
    @router.post(
        "/queries",
        status_code=status.HTTP_201_CREATED,
        dependencies=[requires(allowed.READ, resources.named_queries)],
        openapi_extra=refuses({InvalidInput: (QUERY_NAME, SUPPORTED, TIME_WITH_OFFSET), Conflict: (UNIQUE_NAME,)}),
        responses={201: {"model": NamedQuery, "description": "defined; Location names it"}},
        summary="Define a named query (EPCIS 2.0 REST binding)",
        description="A view on the repository by name, the caller's own: its events are read at "
        "/queries/{queryName}/events, narrowed to the reader's scope as GET /events is.",
    )
    async def define(body: NamedQueryIn, request: Request) -> JsonResponse:
        name = require_name(body.name)
        if value_count(body.query) > MOST_VALUES or len(orjson.dumps(body.query)) > MOST_BYTES:
            message = f"a named query holds at most {MOST_VALUES} values in all (those of a |-separated string each), "
            message += f"{MOST_BYTES // 1024} KiB written out"
            raise InvalidInput(message, [SUPPORTED.at("query", message)])
        filters_of(body.query, "query", strict=True)  # refused before it is kept
        principal = request.state.principal
        proposed = QueryDefined(name=name, principal_id=principal.id, query=body.query)
        await handlers.define_query(proposed, record_metadata(request))
        await consistent()
        location = f"{request.url.path}/{name}"
        return JsonResponse({"name": name, "query": body.query}, status_code=201, headers={"Location": location})

    @router.get(
        "/queries",
        dependencies=[requires(allowed.READ, resources.named_queries)],
        responses={200: {"model": list[NamedQuery], "description": "the caller's named queries, by name"}},
        summary="List the caller's named queries",
    )
    async def list_queries(request: Request) -> JsonResponse:
        await consistent()
        found = await named_queries.of(resources.pool, request.state.principal.id)
        return JsonResponse([{"name": row["name"], "query": row["query"]} for row in found])

    @router.get(
        "/queries/{queryName}",
        dependencies=[requires(allowed.READ, resources.named_query)],
        responses=ok(NamedQuery, "the query's definition"),
        summary="Read a named query's definition",
    )
    async def read_query(queryName: QueryNamePath, request: Request) -> JsonResponse:
        found = request.state.named_query
        return JsonResponse({"name": found["name"], "query": found["query"]})

    @router.delete(
        "/queries/{queryName}",
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=[requires(allowed.READ, resources.named_query)],
        summary="Delete a named query, and every subscription to it",
    )
    async def delete_query(queryName: QueryNamePath, request: Request) -> Response:
        proposed = QueryDeleted(name=queryName, principal_id=request.state.principal.id)
        await handlers.delete_query(proposed, record_metadata(request))
        await consistent()
        return Response(status_code=204)

    @router.get(
        "/queries/{queryName}/events",
        dependencies=[requires(allowed.READ, resources.named_query)],
        openapi_extra=QUERY_REFUSALS,
        responses=ANSWERS,
        summary="The events of a named query (EPCIS 2.0 REST binding)",
        description="As GET /events answers the query's parameters: a page at a time, JSON-LD or EPCIS XML.",
    )
    async def query_events(
        queryName: str,
        request: Request,
        per_page: PerPage = 30,
        next_page_token: Annotated[str | None, Query(alias="nextPageToken")] = None,
    ) -> Response:
        filters = filters_of(request.state.named_query["query"], "query")
        return await answer(request, filters, per_page, next_page_token, query_name=queryName)
