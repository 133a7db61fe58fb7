"""Administration of API keys and the access audit, under /v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from serialtrail_kit.errors import InvalidInput, NotFound, Violation
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import PROBLEM_RESPONSES
from serialtrail_kit.identity.authz import requires
from serialtrail_kit.identity.model import UNSCOPED_BY_DEFAULT, Permission, Role, Scope
from serialtrail_kit.identity.service import IdentityService

Codes = list[Annotated[str, Field(min_length=1, max_length=64)]]


class ScopeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    company_prefixes: Codes | None = None
    gtins: Codes | None = None
    sites: Codes | None = None
    lines: Codes | None = None


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "ACME CMO line integration", "role": "cmo", "scope": {"company_prefixes": ["9506000"]}}
            ]
        },
    )
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role
    scope: ScopeIn | None = None
    expires_at: datetime | None = None


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "integration retired"}]})
    reason: Annotated[str, Field(min_length=1, max_length=500)]


def _scope(body: ApiKeyIn) -> Scope | None:
    if body.scope is None:
        if body.role not in UNSCOPED_BY_DEFAULT:
            message = f"a {body.role.value} key needs a scope (company_prefixes or gtins, optionally sites, lines)"
            raise InvalidInput(message, [Violation("scope", "required-for-role", message)])
        return None
    values = body.scope.model_dump()
    return Scope.from_json({k: v for k, v in values.items()})


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["identity"], responses=PROBLEM_RESPONSES)

    @router.post("/api-keys", status_code=status.HTTP_201_CREATED, dependencies=[requires(Permission.identity_admin)])
    async def create_api_key(body: ApiKeyIn, request: Request) -> dict[str, Any]:
        """Create an API key. The token is in this response only; only its argon2id hash is stored."""
        identity: IdentityService = request.app.state.identity
        key_id, token = await identity.issue_key(
            name=body.name,
            role=body.role,
            scope=_scope(body),
            expires_at=body.expires_at,
            meta=record_metadata(request),
        )
        key = await identity.store.key(key_id)
        assert key is not None
        return {**key.public(), "token": token}

    @router.get("/api-keys", dependencies=[requires(Permission.identity_admin)])
    async def list_api_keys(request: Request) -> list[dict[str, Any]]:
        """Every API key with its role, scope, expiry, revocation and last use (never the secret)."""
        identity: IdentityService = request.app.state.identity
        used = await identity.store.last_used()
        return [k.public(used.get(k.key_id)) for k in await identity.store.keys()]

    @router.post("/api-keys/{key_id}/revoke", dependencies=[requires(Permission.identity_admin)])
    async def revoke_api_key(key_id: str, body: RevokeIn, request: Request) -> dict[str, Any]:
        """Revoke a key at once; later requests with it get 401."""
        identity: IdentityService = request.app.state.identity
        if not await identity.store.revoke_key(key_id, body.reason, record_metadata(request, reason=body.reason)):
            raise NotFound(f"no active API key {key_id}", [Violation("key_id", "active-key", "unknown or revoked")])
        key = await identity.store.key(key_id)
        assert key is not None
        return key.public()

    @router.get("/access-audit", dependencies=[requires(Permission.access_audit_read)])
    async def access_audit(request: Request, limit: int = 200) -> list[dict[str, Any]]:
        """Refused requests, newest first: who, what, why refused."""
        identity: IdentityService = request.app.state.identity
        return await identity.store.refusals(min(max(limit, 1), 1000))

    return router
