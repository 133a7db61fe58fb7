"""The app factory: one FastAPI app for one or many services, problem+json errors,
health checks, and the runtime's projections started and stopped with the app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from serialtrail_contracts.identity import Role

from serialtrail_kit.access.authenticate import Authenticator
from serialtrail_kit.access.authz import declared_routes
from serialtrail_kit.access.wiring import log_of_requests
from serialtrail_kit.http import audit_trail
from serialtrail_kit.http.bodies import MAX_BODY_EXTENSION, streamed_routes
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.http.docs import offline_docs
from serialtrail_kit.http.gate import AuthenticateFirst, BodyPace, PacedBodies
from serialtrail_kit.http.problems import JsonResponse, install_problem_handlers
from serialtrail_kit.http.refusals import document as document_refusals
from serialtrail_kit.http.request_id import RequestIds
from serialtrail_kit.runtime import Runtime
from serialtrail_kit.service import ServiceModule

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string", "description": "also in the X-Request-Id header and the server's logs"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "rule": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "required": ["type", "title", "status"],
}


SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`st_…`, from `serialtrail keys create` or POST /v1/api-keys; the first admin "
        "key is printed at first start) or an access token of the configured OpenID Connect provider",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key, as for `bearer`"},
}


def create_app(
    runtime: Runtime,
    modules: Sequence[ServiceModule],
    software: SoftwareIdentity,
    authenticator: Authenticator,
    *,
    start_runners: bool = True,
    max_body_size: int = 16 * 1024 * 1024,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_runners:
            runtime.start()
        _app.state.serving.set()
        try:
            yield
        finally:
            await authenticator.throttle.close()  # refusals held for a summary are recorded
            await runtime.stop()

    app = FastAPI(
        title="Serialtrail",
        version=software.version,
        description="Pharmaceutical serialization and track-and-trace. Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
        docs_url=None,  # served by `offline_docs`, from assets installed with the package, not a CDN
        redoc_url=None,
        # No max_body_size here: Starlette would answer an oversized body before the gate, in
        # plain text. The gate limits every path's body and answers with a problem.
    )
    app.state.max_request_bytes = max_body_size
    app.state.body_pace = BodyPace()
    app.add_middleware(AuthenticateFirst)
    app.add_middleware(PacedBodies)  # outside the gate: the body it reads comes paced
    app.add_middleware(RequestIds)  # added last: outermost, so every answer carries the id
    app.state.software = software
    app.state.runtime = runtime
    app.state.authenticator = authenticator
    app.state.serving = asyncio.Event()  # set once the read models run and requests are served
    app.state.known_logs = frozenset(m.name for m in modules)
    app.state.log_of = log_of_requests(modules)  # which service's log a request's route records in
    install_problem_handlers(app)  # HTTP server spans come from FastAPI's own OpenTelemetry support
    _health_routes(app, runtime, software)
    offline_docs(app)
    app.include_router(audit_trail.build_router(app.state.known_logs))
    for module in modules:
        app.include_router(module.router)
    app.state.streamed_routes = streamed_routes(app)
    _openapi(app)
    return app


def _health_routes(app: FastAPI, runtime: Runtime, software: SoftwareIdentity) -> None:
    @app.get("/health/live", tags=["health"], summary="The process is alive, and the exact build it runs")
    async def live() -> dict[str, str]:
        return {"status": "live", "build": software.version}

    @app.get(
        "/health/ready",
        tags=["health"],
        summary="Database reachable, projections and relays running; their positions and lag (events behind); "
        "each outbound's jobs pending, in flight and dead",
    )
    async def ready(request: Request) -> JsonResponse:
        async with runtime.app_pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        projections = {
            f"{m.name}.{name}": {"position": runner.position, "lag": await runner.lag()}
            for m in runtime.modules
            for name, runner in m.runners.items()
        }
        relays = {
            name: {"position": relay.position, "lag": await relay.lag()} for name, relay in runtime.relays.items()
        }
        outbound = {f"{m.name}.{d.name}": await d.backlog() for m in runtime.modules for d in m.dispatchers}
        failing = dict(runtime.failures)
        status = 503 if failing else 200
        body = {
            "status": "ready" if not failing else "degraded",
            "projections": projections,
            "relays": relays,
            "outbound": outbound,  # a dead job is an operator's to look at, not a reason to be unready
            "failures": failing,
        }
        return JsonResponse(body, status_code=status)


def _openapi(app: FastAPI) -> None:
    """The problem schema, and on every operation what the kit checks before it runs: the
    permission (with the roles holding it) and the kind of resource whose owner is checked
    (the authorization matrix is generated from these)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            schema["components"]["securitySchemes"] = SECURITY_SCHEMES
            _requirements_in_openapi(app, schema)
            _streamed_in_openapi(app, schema)
            document_refusals(app, schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _streamed_in_openapi(app: FastAPI, schema: dict[str, Any]) -> None:
    """A route reading its own body names its limit, so the gateway in front holds it to the same."""
    for (method, path), streamed in app.state.streamed_routes.items():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is not None:
            operation[MAX_BODY_EXTENSION] = streamed.max_bytes


def _requirements_in_openapi(app: FastAPI, schema: dict[str, Any]) -> None:
    for route in declared_routes(app.routes):
        for method in route.methods:
            operation = schema["paths"].get(route.path, {}).get(method.lower())
            if operation is None or not route.requirements:
                continue
            permission, resource = route.requirements[0].permission, route.requirements[0].resource
            operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
            operation["x-serialtrail-permission"] = permission.name
            operation["x-serialtrail-roles"] = sorted(role.value for role in Role if permission.allows(role))
            operation["x-serialtrail-resource"] = {"kind": resource.kind, "whole": resource.whole}
