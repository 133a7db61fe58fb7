"""The entry point of distributed mode: one base URL, as in embedded mode. Each request goes to
the service whose own OpenAPI document declares its path and method (`gateway_routes`); the
gateway also serves the combined OpenAPI document, /docs and /redoc, and its health (ready once
every service has answered and is ready itself). Bodies stream through in both directions;
the client's address travels in X-Forwarded-For, which services trust from the gateway only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from serialtrail_kit.errors import DomainError, InvalidInput
from serialtrail_kit.http.docs import offline_docs
from serialtrail_kit.http.gate import (
    GUARDED_PREFIX,
    BodyPace,
    BodyStalled,
    PacedBodies,
    TooLarge,
    refuse_control_characters,
)
from serialtrail_kit.http.gateway_routes import RouteTable, routes_of
from serialtrail_kit.http.problems import JsonResponse, install_problem_handlers, problem, problem_of
from serialtrail_kit.http.refusals import also_refuses
from serialtrail_kit.http.request_id import HEADER, RequestIds, request_id
from serialtrail_kit.http.strict_json import NO_NUL
from serialtrail_kit.settings import Settings
from serialtrail_kit.telemetry import current_traceparent

log = logging.getLogger(__name__)
# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, never forwarded.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the gateway for the upstream (the client's Host among them, so links name the gateway).
_SET_HERE = frozenset({"host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", HEADER})
# Said by the gateway's own server (and the id: the same as ours).
_NOT_RETURNED = _HOP_BY_HOP | {HEADER, "date", "server"}


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 16 * 1024 * 1024  # as the services' SERIALTRAIL_MAX_REQUEST_BYTES
    pace: BodyPace = field(default_factory=BodyPace)
    limit_named: str = "SERIALTRAIL_MAX_REQUEST_BYTES"

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(max_body_bytes=settings.max_request_bytes)


class UpstreamUnavailable(DomainError):
    kind, status, title = "upstream-unavailable", 502, "A service did not answer"
    example = "the billing service did not answer (ConnectError); retry shortly"


class PathTooLong(DomainError):
    kind, status, title = "uri-too-long", 414, "Path too long"
    example = "the path is 50014 characters; at most 8192 are accepted"


MAX_PATH = 8192  # a GS1 Digital Link is at most a few hundred characters
# What the gateway itself may answer on any operation it forwards, beside the service's own.
GATEWAY_REFUSALS: dict[type[DomainError], tuple[()]] = {
    UpstreamUnavailable: (),
    BodyStalled: (),
    TooLarge: (),
    PathTooLong: (),
}

REFRESH_SECONDS = 30.0
RETRY_SECONDS = 1.0


@dataclass
class Upstreams:
    """The services behind the gateway by name, and what their documents say."""

    urls: Mapping[str, str]
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    table: RouteTable = field(default_factory=lambda: RouteTable([]))

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.urls) - set(self.documents))

    async def load(self, client: httpx.AsyncClient) -> None:
        """Read every upstream's document; one that does not answer keeps its last one."""

        async def fetch(name: str, url: str) -> None:
            try:
                answer = await client.get(f"{url}/openapi.json", timeout=5.0)
                answer.raise_for_status()
                self.documents[name] = answer.json()
            except (httpx.HTTPError, ValueError) as error:
                log.info("gateway: %s (%s) did not give its OpenAPI document yet: %s", name, url, error)

        await asyncio.gather(*(fetch(name, url) for name, url in self.urls.items()))
        self.table = RouteTable(r for name, doc in self.documents.items() for r in routes_of(name, doc))

    async def keep_loaded(self, client: httpx.AsyncClient) -> None:
        """Until stopped: often while a service has not answered, then now and then (a service
        updated since may serve new routes)."""
        while True:
            await self.load(client)
            await asyncio.sleep(RETRY_SECONDS if self.missing else REFRESH_SECONDS)


def parse_upstreams(text: str, services: Collection[str]) -> dict[str, str]:
    """`name=url,name=url` with exactly one URL per service."""
    upstreams: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, equals, url = (part.strip() for part in entry.partition("="))
        if not equals or not url.startswith(("http://", "https://")):
            raise ValueError(f"{entry!r} is not name=http(s)://host:port")
        if name in upstreams:
            raise ValueError(f"{name} is named twice")
        upstreams[name] = url.rstrip("/")
    unknown, missing = sorted(set(upstreams) - set(services)), sorted(set(services) - set(upstreams))
    if unknown or missing:
        said = [
            f"no service is called {', '.join(unknown)}" if unknown else "",
            f"missing: {', '.join(missing)}" if missing else "",
        ]
        raise ValueError("; ".join(filter(None, said)) + f" (services: {', '.join(sorted(services))})")
    return upstreams


def combined_openapi(title: str, version: str, documents: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One document for every service: paths and components of each; a path several services
    serve for their own records (a parameter listing its values) lists all their values."""
    combined: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": "Every service's operations behind one base URL."},
        "paths": {},
        "components": {},
    }
    for name in sorted(documents):
        document = documents[name]
        for section, entries in document.get("components", {}).items():
            combined["components"].setdefault(section, {}).update(entries)
        for template, item in document.get("paths", {}).items():
            existing = combined["paths"].get(template)
            combined["paths"][template] = item if existing is None else _merged_item(existing, item)
    for template, item in combined["paths"].items():
        if template.startswith(GUARDED_PREFIX):
            combined["paths"][template] = {
                method: also_refuses(operation, template, GATEWAY_REFUSALS)
                if isinstance(operation, dict)
                else operation
                for method, operation in item.items()
            }
    return combined


def _merged_item(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    merged = {**second, **first}
    for method, operation in first.items():
        other = second.get(method)
        if not isinstance(operation, dict) or not isinstance(other, dict):
            continue
        enums = {p["name"]: p["schema"].get("enum") for p in other.get("parameters", []) if "schema" in p}
        parameters = []
        for parameter in operation.get("parameters", []):
            extra = enums.get(parameter["name"])
            values = parameter.get("schema", {}).get("enum")
            if isinstance(values, list) and isinstance(extra, list):
                parameter = {**parameter, "schema": {**parameter["schema"], "enum": sorted({*values, *extra})}}
            parameters.append(parameter)
        merged[method] = {**operation, "parameters": parameters}
    return merged


def create_gateway(
    urls: Mapping[str, str], version: str, *, limits: Limits | None = None, timeout: float = 60.0
) -> FastAPI:
    upstreams = Upstreams(dict(urls))
    limits = limits or Limits()
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=5.0, pool=10.0),
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
        follow_redirects=False,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await upstreams.load(client)  # those already up are routed from the first request
        loading = asyncio.create_task(upstreams.keep_loaded(client))
        try:
            yield
        finally:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            await client.aclose()

    app = FastAPI(
        title="Serialtrail", version=version, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.add_middleware(PacedBodies)  # a slow body must not hold an upstream connection for long
    app.add_middleware(ControlCharactersRefused)
    app.add_middleware(RequestIds)
    install_problem_handlers(app)
    app.state.upstreams = upstreams
    app.state.body_pace = limits.pace

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "live", "build": version}

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> JsonResponse:
        names = sorted(upstreams.urls)
        answers = await asyncio.gather(*(_ready(client, upstreams.urls[name]) for name in names))
        services = dict(zip(names, answers, strict=True))
        fine = all(s == "ready" for s in services.values()) and not upstreams.missing
        body = {"status": "ready" if fine else "degraded", "services": services}
        return JsonResponse(body, status_code=200 if fine else 503)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JsonResponse:
        return JsonResponse(combined_openapi(app.title, version, upstreams.documents))

    offline_docs(app)

    @app.api_route(
        "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], include_in_schema=False
    )
    async def forward(request: Request, path: str) -> Response:
        return await _forward(request, client, upstreams, limits)

    return app


class ControlCharactersRefused:
    """As every service refuses them (`gate`): a line break in an API path is no identifier. Before
    routing, since no route pattern matches across one (the answer would be a bare 404). And a path
    longer than any identifier needs is refused before any pattern is tried on it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(GUARDED_PREFIX):
            try:
                _refuse_long(str(scope["path"]))
                refuse_control_characters(str(scope["path"]))
                if "\x00" in str(scope["path"]):
                    message = "the path holds a NUL character"
                    raise InvalidInput(message, [NO_NUL.at("path", message)])
            except DomainError as refused:
                await problem_of(Request(scope), refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _refuse_long(path: str) -> None:
    if len(path) > MAX_PATH:
        raise PathTooLong(f"the path is {len(path)} characters; at most {MAX_PATH} are accepted")


async def _ready(client: httpx.AsyncClient, url: str) -> str:
    try:
        answer = await client.get(f"{url}/health/ready", timeout=5.0)
    except httpx.HTTPError as error:
        return f"unreachable: {type(error).__name__}"
    return "ready" if answer.status_code == 200 else f"degraded ({answer.status_code})"


async def _limited(request: Request, limits: Limits) -> AsyncIterator[bytes]:
    """The body as it arrives (paced by `PacedBodies`), refused beyond the size limit."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limits.max_body_bytes:
            raise TooLarge(_too_large(limits))
        yield chunk


def _too_large(limits: Limits) -> str:
    return f"the body exceeds {limits.max_body_bytes} bytes ({limits.limit_named})"


def _has_body(request: Request) -> bool:
    return "transfer-encoding" in request.headers or int(request.headers.get("content-length") or 0) > 0


async def _forward(request: Request, client: httpx.AsyncClient, upstreams: Upstreams, limits: Limits) -> Response:
    path = request.url.path
    found = upstreams.table.find(request.method, path)
    if found is None:
        if upstreams.missing:
            detail = f"{', '.join(upstreams.missing)} did not answer yet; retry shortly"
            return problem(request, 503, "starting", "A service is not reachable yet", detail)
        return problem(request, 404, "http-404", "Not Found", f"no service serves {path}")
    if found.upstream is None:
        response = problem(request, 405, "http-405", "Method Not Allowed", f"{request.method} is not served on {path}")
        response.headers["Allow"] = ", ".join(found.allowed)
        return response
    if found.max_body is not None:  # the route reads documents, larger than any command
        limits = replace(limits, max_body_bytes=found.max_body, limit_named="the most this operation takes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
        return problem_of(request, TooLarge(_too_large(limits)))
    outgoing = client.build_request(
        request.method,
        upstreams.urls[found.upstream] + "/",  # the host alone; the target below is the client's, byte for byte
        headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in _upstream_headers(request)],  # as received
        content=_limited(request, limits) if _has_body(request) else None,
        # What was matched is what the service decodes: no dot segment resolved, no escape decoded
        # twice on the way (httpx would do both to a URL it builds from the decoded path).
        extensions={"target": (request.scope.get("raw_path") or path.encode()) + _query(request)},
    )
    try:
        answer = await client.send(outgoing, stream=True)
    except (TooLarge, BodyStalled) as refused:
        return problem_of(request, refused)
    except ClientDisconnect:
        return Response(status_code=499)  # the client left: nobody to answer, nothing to log
    except httpx.HTTPError as error:
        detail = f"the {found.upstream} service did not answer ({type(error).__name__}); retry shortly"
        return problem_of(request, UpstreamUnavailable(detail))
    back = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _NOT_RETURNED]
    streamed = StreamingResponse(
        answer.aiter_raw(), status_code=answer.status_code, background=BackgroundTask(answer.aclose)
    )
    streamed.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in back]
    return streamed


def _query(request: Request) -> bytes:
    query = request.scope.get("query_string", b"")
    return b"?" + query if query else b""


def _upstream_headers(request: Request) -> list[tuple[str, str]]:
    named_hop = {h.strip().lower() for h in request.headers.get("connection", "").split(",")}  # RFC 9110 7.6.1
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP | _SET_HERE | named_hop]
    traceparent = current_traceparent()  # the gateway's span (a child of the caller's), continued upstream
    if traceparent:
        headers = [(k, v) for k, v in headers if k.lower() != "traceparent"] + [("traceparent", traceparent)]
    if "accept-encoding" not in request.headers:
        headers.append(("accept-encoding", "identity"))  # as the client asked: nothing httpx adds by itself
    return [
        *headers,
        ("host", request.headers.get("host", "")),  # the service's redirects and links name the gateway
        (HEADER, request_id(request)),  # the service records under the id the client is given
        # The client as the gateway resolved it (from its own trusted proxies, if any): never the
        # chain the client sent, which a service trusting every address would read from its start.
        ("x-forwarded-for", request.client.host if request.client else ""),
        ("x-forwarded-proto", request.url.scheme),
        ("x-forwarded-host", request.headers.get("host", "")),
    ]
