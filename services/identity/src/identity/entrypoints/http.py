"""HTTP routes of identity: API key administration and the access audit, under /v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, create_model
from serialtrail_contracts.identity import API_KEY_EXAMPLE, SCOPE_DIMENSIONS, Role
from serialtrail_kit.access.authenticate import KeyUsage
from serialtrail_kit.access.authz import requires
from serialtrail_kit.access.principals import ApiKey, Principals
from serialtrail_kit.access.resources import EXISTS, Resource
from serialtrail_kit.db import Pool
from serialtrail_kit.declaration import ReadYourWrites
from serialtrail_kit.errors import InvalidInput, NotFound
from serialtrail_kit.http.body import Timestamp
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.refusals import refuses

from identity.application.handlers import IdentityHandlers
from identity.domain.rules import ACTIVE_KEY, EXPIRY_IN_FUTURE, SCOPE_RULES
from identity.entrypoints.permissions import ACCESS_AUDIT_READ, IDENTITY_ADMIN
from identity.projections import refusals

Codes = list[Annotated[str, Field(min_length=1, max_length=64)]]

# Built from the shared scope vocabulary, so the API offers exactly the dimensions a scope has.
_SCOPE_FIELDS: dict[str, Any] = {
    name: (Codes | None, Field(default=None, description=about)) for name, about in SCOPE_DIMENSIONS.items()
}
ScopeIn: type[BaseModel] = create_model("ScopeIn", __config__=ConfigDict(extra="forbid"), **_SCOPE_FIELDS)


KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="the key id (16 hex digits)")]
# Keys and refusals concern every party: only a principal no scope narrows manages or reads them.
KEYS = Resource.everything("api-key", "every API key")
REFUSALS = Resource.everything("access-audit", "every service's refused requests")
# What of `Scope.checked` a body can still break once its schema (ScopeIn) has held: the shape
# (an object, known dimensions, lists of strings) is the schema's, answered with its own rules.
REACHABLE_SCOPE_RULES = tuple(
    rule for name, rule in SCOPE_RULES.items() if name not in {"object", "known-dimension", "list-of-strings"}
)


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [API_KEY_EXAMPLE]})
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role
    scope: ScopeIn | None = None
    expires_at: Timestamp | None = None


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "integration retired"}]})
    reason: Annotated[str, Field(min_length=1, max_length=500)]


def _scope(body: ApiKeyIn) -> dict[str, list[str] | None] | None:
    """As stated: the domain checks it (the same check as the CLI's and the OIDC claims')."""
    return None if body.scope is None else body.scope.model_dump()


class Keys:
    """The keys as the identity service's own read model has them, with their last use here."""

    def __init__(self, pool: Pool, principals: Principals, usage: KeyUsage) -> None:
        self.pool, self.principals, self.usage = pool, principals, usage

    async def one(self, key_id: str) -> ApiKey:
        key = await self.principals.key(key_id)
        if key is None:
            raise NotFound(f"no API key {key_id}", [EXISTS.at("key_id", "unknown key")])
        return key


def build_router(
    handlers: IdentityHandlers, keys: Keys, consistent: ReadYourWrites, audited: ReadYourWrites
) -> APIRouter:
    """`consistent`: wait until this service's copy of the keys has what was just recorded, so
    a key works, and a revoked one is refused, as soon as the answer is given. `audited`: until
    the audit holds this service's own refusals (other services' arrive as they are relayed)."""
    router = APIRouter(prefix="/v1", tags=["identity"])

    @router.post(
        "/api-keys",
        status_code=status.HTTP_201_CREATED,
        dependencies=[requires(IDENTITY_ADMIN, KEYS)],
        openapi_extra=refuses({InvalidInput: (*REACHABLE_SCOPE_RULES, EXPIRY_IN_FUTURE)}),
    )
    async def create_api_key(body: ApiKeyIn, request: Request) -> dict[str, Any]:
        """Create an API key. The token is in this response only; only its argon2id hash is stored."""
        created, token = await handlers.issue_key(
            name=body.name,
            role=body.role,
            scope=_scope(body),
            expires_at=body.expires_at,
            meta=record_metadata(request),
        )
        await consistent()
        return {**(await keys.one(created.key_id)).public(), "token": token}

    @router.get("/api-keys", dependencies=[requires(IDENTITY_ADMIN, KEYS)])
    async def list_api_keys() -> list[dict[str, Any]]:
        """Every API key with its role, scope, expiry, revocation and last use (never the secret)."""
        used = await keys.usage.last_used()
        return [k.public(used.get(k.key_id)) for k in await keys.principals.keys()]

    @router.post(
        "/api-keys/{key_id}/revoke",
        dependencies=[requires(IDENTITY_ADMIN, KEYS)],
        openapi_extra=refuses({NotFound: (ACTIVE_KEY, EXISTS)}),
    )
    async def revoke_api_key(key_id: KeyId, body: RevokeIn, request: Request) -> dict[str, Any]:
        """Revoke a key at once; later requests with it get 401 (at other services' own copies
        of the keys as soon as the event reaches them)."""
        await handlers.revoke_key(key_id, body.reason, record_metadata(request, reason=body.reason))
        await consistent()
        return (await keys.one(key_id)).public()

    @router.get("/access-audit", dependencies=[requires(ACCESS_AUDIT_READ, REFUSALS)])
    async def access_audit(limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
        """Refused requests of every service, newest first: who, what, why refused."""
        await audited()
        return await refusals.newest(keys.pool, limit)

    return router
