"""`requires(...)`: what an endpoint needs, declared on the route and checked here, in
one place, before the endpoint runs. Scope targets come from the request itself (path
and body), so a refusal never depends on — or reveals — whether the target exists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request
from serialtrail_contracts.identity import Principal, Target

from serialtrail_kit.access.authenticate import Authenticator, Forbidden
from serialtrail_kit.access.permissions import Permission
from serialtrail_kit.errors import NotFound, Violation

TargetOf = Callable[[Request], Awaitable[Target]]
MARKER = "__serialtrail_requires__"


async def request_body(request: Request) -> dict[str, Any]:
    """The JSON body as a dict, or {} when it is not one (validation reports that later)."""
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def requires(permission: Permission, target: TargetOf | None = None) -> Any:
    async def authorize(request: Request) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        principal = await authenticator.authenticate(request)
        missing = permission.missing_for(principal.role)
        if missing is None and target is not None:
            request.state.target = await target(request)  # endpoints reuse it rather than recompute
            lacking = principal.missing_scope(request.state.target)
            missing = None if lacking is None else f"{principal.id} lacks scope {lacking}"
        if missing is not None:
            refusal = Forbidden(missing)
            await authenticator.record_refusal(request, refusal, principal)
            raise refusal
        request.state.principal = principal
        return principal

    setattr(authorize, MARKER, permission)
    return Depends(authorize)


def visible(request: Request, target: Target) -> bool:
    """Whether the request's principal may see a resource with these scoped attributes."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal is not None and principal.missing_scope(target) is None


def ensure_visible(request: Request, target: Target, what: str) -> None:
    """For resources addressed by id, checked once the resource is loaded: out of scope
    answers exactly like not found, so its existence does not leak."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None and principal.missing_scope(target) is not None:
        raise NotFound(f"no {what}", [Violation("id", "exists", f"unknown {what}")])


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
