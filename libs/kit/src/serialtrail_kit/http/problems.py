"""RFC 9457 problem+json for every error, with the offending fields named."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from serialtrail_kit.errors import ChangedConcurrently, DomainError, MalformedJson, Rule
from serialtrail_kit.eventstore.model import ConcurrencyError
from serialtrail_kit.http.request_id import request_id


class JsonResponse(Response):
    """JSON rendered with orjson (datetimes, UUIDs) for hand-built bodies."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class Answered(Exception):
    """A complete answer given before the endpoint runs (e.g. what an unknown resource's read
    returns, for a resource out of the caller's scope)."""

    def __init__(self, response: Response) -> None:
        super().__init__("answered")
        self.response = response


JSON = Rule("json", "the body is JSON (RFC 8259)", "body", "JSON decode error")

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://serialtrail.dev/problems/"
MEDIA_TYPE = "application/problem+json"


def problem(
    request: Request,
    status: int,
    kind: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
) -> JsonResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id(request),
    }
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status_code=status, media_type=MEDIA_TYPE)


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        head, rest = parts[0], parts[1:]
        return head + ("." + ".".join(rest) if rest else "")
    return ".".join(parts)


async def _validation(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field(tuple(e.get("loc", ()))),
            "rule": e.get("type", "invalid"),
            "message": e.get("msg", ""),
        }
        for e in exc.errors()
    ]
    if any(e["rule"] == "json_invalid" for e in errors):
        where = [JSON.at("body", e["message"]) for e in errors]
        return problem_of(request, MalformedJson(MalformedJson.example, where))
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem(request, 422, "invalid-input", "The request breaks a rule", f"Invalid: {fields}", errors)


def problem_of(request: Request, error: DomainError) -> JsonResponse:
    """The problem a domain error answers with, its violations and headers (Retry-After …) kept:
    one shape whether a route raised it or the gate in front of the routes did."""
    errors = [v.as_json() for v in error.violations]
    response = problem(request, error.status, error.kind, error.title, error.detail, errors)
    response.headers.update(getattr(error, "headers", {}))
    return response


async def _domain(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, DomainError)
    return problem_of(request, exc)


async def _answered(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Answered)
    return exc.response


async def _concurrency(request: Request, exc: Exception) -> JsonResponse:
    return problem_of(request, ChangedConcurrently(f"{exc}; retry the request"))


async def _http(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(request, exc.status_code, f"http-{exc.status_code}", str(exc.detail), str(exc.detail))
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed(request))
    return response


def _allowed(request: Request) -> list[str]:
    """Every method served on the path: Starlette's 405 names only the first route matching
    it (a path with a GET and a POST route said `Allow: POST`)."""
    from serialtrail_kit.http.refusals import served_methods  # it documents refusals with this module's types

    return sorted(served_methods(request.app, request.url.path))


async def _unexpected(request: Request, exc: Exception) -> JsonResponse:
    """Anything unforeseen: logged with its stack, answered as a problem without internals."""
    log.error(
        "unhandled error on %s %s (request %s)", request.method, request.url.path, request_id(request), exc_info=exc
    )
    detail = "An unexpected error occurred; nothing more is said here. Quote the request id to support."
    return problem(request, 500, "internal-error", "Internal error", detail)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(Answered, _answered)
    app.add_exception_handler(ConcurrencyError, _concurrency)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
