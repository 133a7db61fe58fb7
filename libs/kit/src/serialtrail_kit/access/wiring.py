"""Authentication for one composition: which copy of the keys it reads, where key use is
noted, and in which log each refusal is recorded (the log of the service whose route refused)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from fastapi import Request
from fastapi.routing import APIRoute
from serialtrail_contracts.identity import AccessRefused
from starlette.routing import Match

from serialtrail_kit.access import principals
from serialtrail_kit.access.authenticate import Authenticator, KeyUsage, RecordRefusal
from serialtrail_kit.access.oidc import JwtAuthenticator, OidcConfig
from serialtrail_kit.db import Pool
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.http import audit_trail
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.readers.projection import views_schema
from serialtrail_kit.service import ServiceModule
from serialtrail_kit.settings import Settings


def home_of(modules: Sequence[ServiceModule]) -> str:
    """The service whose copy of the keys this process reads: the keys' own service when it is
    composed here (so what it just recorded is what authenticates), else the first one."""
    names = [m.name for m in modules]
    if not names:
        raise ValueError("a composition needs at least one service")
    return principals.SOURCE if principals.SOURCE in names else names[0]


def route_owners(modules: Sequence[ServiceModule]) -> list[tuple[APIRoute, str | None]]:
    """Each route with the service that declared it (None: the kit's own, served for every log)."""
    names = [m.name for m in modules]
    owned: list[tuple[APIRoute, str | None]] = [
        (route, m.name) for m in modules for route in m.router.routes if isinstance(route, APIRoute)
    ]
    return owned + [(route, None) for route in audit_trail.build_router(names).routes if isinstance(route, APIRoute)]


def owner_of(request: Request, owners: list[tuple[APIRoute, str | None]], names: set[str], home: str) -> str:
    """The service whose route the request is for, matched from its path (a refusal may come
    before routing); for the kit's routes, the log the request names."""
    for route, owner in owners:
        match, child = route.matches(request.scope)
        if match is Match.NONE:
            continue
        named = child.get("path_params", {}).get("service")
        if owner is None:
            return named if isinstance(named, str) and named in names else home
        return owner
    return home


def log_of_requests(modules: Sequence[ServiceModule]) -> Callable[[Request], str]:
    """Which service's log a request belongs in (matched from its path: it may not be routed yet)."""
    owners, home = route_owners(modules), home_of(modules)
    names = {m.name for m in modules}
    return lambda request: owner_of(request, owners, names, home)


def refusal_recorder(pool: Pool, modules: Sequence[ServiceModule]) -> RecordRefusal:
    log_of = log_of_requests(modules)

    async def record(request: Request, event: AccessRefused, meta: RecordMetadata) -> None:
        log = PostgresEventStore(pool, log_of(request))
        await log.append([append_of(f"access-refused-{uuid.uuid4()}", 0, [event])], meta)

    return record


def authenticator(
    settings: Settings, pool: Pool, modules: Sequence[ServiceModule], software: SoftwareIdentity
) -> Authenticator:
    jwt = None
    if settings.oidc_jwks_url and settings.oidc_issuer and settings.oidc_audience:
        config = OidcConfig(
            jwks_url=settings.oidc_jwks_url,
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            role_claim=settings.oidc_role_claim,
            scope_claim=settings.oidc_scope_claim,
        )
        jwt = JwtAuthenticator(config)
    home = home_of(modules)
    keys = principals.Principals(pool, views_schema(home))
    authenticator = Authenticator(keys, KeyUsage(pool, home), software, refusal_recorder(pool, modules), jwt)
    authenticator.throttle.window, authenticator.throttle.burst = (
        settings.refusal_window_seconds,
        settings.refusal_burst,
    )
    return authenticator
