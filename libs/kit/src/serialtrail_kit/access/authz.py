"""`requires(permission, resource)`: what an endpoint needs and what it touches, declared on
the route and checked here, in one place, before the endpoint runs: the role's permission,
then the scope over what the request names (403), then the scope over the resource's owner
as the state has it (answered like an unknown resource; see `resources`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute, iter_route_contexts
from serialtrail_contracts.identity import Principal, Target, as_told
from starlette.routing import BaseRoute

from serialtrail_kit.access.authenticate import Authenticator, Forbidden, Hidden
from serialtrail_kit.access.permissions import Permission
from serialtrail_kit.access.resources import Resource, TargetOf, whole_scope_missing
from serialtrail_kit.http.problems import Answered

MARKER = "__serialtrail_requires__"


@dataclass(frozen=True)
class Requirement:
    """What a route declared: the permission it needs and the resource it touches."""

    permission: Permission
    resource: Resource


async def request_body(request: Request) -> dict[str, Any]:
    """The JSON body as a dict, or {} when it is not one (validation reports that later)."""
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def requires(permission: Permission, resource: Resource) -> Any:
    """The one check every route declares: who may call it, on what, and whose it must be."""

    async def authorize(request: Request) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        principal = getattr(request.state, "authenticated", None) or await authenticator.authenticate(request)
        missing = permission.missing_for(principal.role) or whole_scope_missing(principal, resource)
        request.state.principal = principal  # what a resource names may depend on what its caller sees
        refusal = None if missing is None else Forbidden(missing)
        if refusal is None:
            request.state.target = await resource.named(request)  # endpoints reuse it rather than recompute
            lacking = principal.missing_scope(request.state.target)
            if lacking is not None:
                told = f"{principal.id} lacks scope {as_told(lacking)}"
                refusal = Forbidden(told, recorded=f"{principal.id} lacks scope {lacking}")
        if refusal is not None:
            await authenticator.record_refusal(request, refusal, principal)
            raise refusal
        if resource.owner is not None:
            await _check_owner(request, authenticator, principal, resource)
        return principal

    setattr(authorize, MARKER, Requirement(permission, resource))
    return Depends(authorize)


async def _check_owner(
    request: Request, authenticator: Authenticator, principal: Principal, resource: Resource
) -> None:
    assert resource.owner is not None
    request.state.owner = owner = await resource.owner(request)
    lacking = None if owner is None else principal.missing_scope(owner)
    if lacking is not None:
        unknown = resource.answer_unknown(request)
        answered = unknown.response.status_code if isinstance(unknown, Answered) else getattr(unknown, "status", 404)
        hidden = Hidden(f"{principal.id} lacks scope {lacking} (answered as an unknown {resource.kind})", answered)
        await authenticator.record_refusal(request, hidden, principal)
        raise unknown


def requirement_of(dependency: Any) -> Requirement | None:
    """The requirement a route dependency declares, if it is one of `requires`."""
    found = getattr(dependency, MARKER, None)
    return found if isinstance(found, Requirement) else None


@dataclass(frozen=True)
class Declared:
    path: str  # as served, with every router's prefix
    methods: frozenset[str]
    requirements: tuple[Requirement, ...]


def declared_routes(routes: Sequence[BaseRoute]) -> Iterator[Declared]:
    """Every API route as served (routers included at any depth), with what it requires."""
    for context in iter_route_contexts(routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        found = tuple(r for d in route.dependant.dependencies if (r := requirement_of(d.call)) is not None)
        yield Declared(str(context.path_format), frozenset(context.methods or ()), found)


def visible(request: Request, target: Target) -> bool:
    """Whether the request's principal may see a resource with these scoped attributes."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal is not None and principal.missing_scope(target) is None


def path_target(**kinds: str) -> TargetOf:
    """Target from path parameters: scope dimension = name of the path parameter holding it."""

    async def target(request: Request) -> Target:
        values = {kind: frozenset({str(request.path_params[name])}) for kind, name in kinds.items()}
        return Target(**values)

    return target


def body_target(**kinds: str) -> TargetOf:
    """Target from top-level body fields: scope dimension = name of the body field holding it."""

    async def target(request: Request) -> Target:
        body = await request_body(request)
        values = {kind: frozenset({str(body[name])}) for kind, name in kinds.items() if body.get(name) is not None}
        return Target(**values)

    return target
