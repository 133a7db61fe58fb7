"""Administration of API keys and the access audit, under /v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field, create_model
from serialtrail_contracts.identity import (
    API_KEY_EXAMPLE,
    SCOPE_DIMENSIONS,
    SIGNATURE_EXAMPLE,
    UNSCOPED_BY_DEFAULT,
    Role,
    Scope,
)

from serialtrail_kit.access.authz import requires
from serialtrail_kit.errors import InvalidInput, NotFound, Violation
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import PROBLEM_RESPONSES
from serialtrail_kit.identity import signatures
from serialtrail_kit.identity.permissions import ACCESS_AUDIT_READ, IDENTITY_ADMIN, SIGN, SIGNATURES_READ
from serialtrail_kit.identity.service import IdentityService
from serialtrail_kit.identity.signatures import Meaning

Codes = list[Annotated[str, Field(min_length=1, max_length=64)]]


# Built from the shared scope vocabulary, so the API offers exactly the dimensions a scope has.
_SCOPE_FIELDS: dict[str, Any] = {
    name: (Codes | None, Field(default=None, description=about)) for name, about in SCOPE_DIMENSIONS.items()
}
ScopeIn: type[BaseModel] = create_model("ScopeIn", __config__=ConfigDict(extra="forbid"), **_SCOPE_FIELDS)


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [API_KEY_EXAMPLE]},
    )
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role
    scope: ScopeIn | None = None
    expires_at: datetime | None = None


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "integration retired"}]})
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class RecordRefIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: Annotated[str, Field(description="the service whose log holds the record")]
    global_position: Annotated[int, Field(ge=1)]


class SignatureIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [SIGNATURE_EXAMPLE]},
    )
    record: RecordRefIn
    meaning: Meaning
    reason: Annotated[str | None, Field(max_length=500)] = None
    credential: Annotated[str, Field(min_length=1, description="re-authentication at signing time")]


def _scope(body: ApiKeyIn) -> Scope | None:
    if body.scope is None:
        if body.role not in UNSCOPED_BY_DEFAULT:
            message = f"a {body.role.value} key needs a scope ({', '.join(SCOPE_DIMENSIONS)})"
            raise InvalidInput(message, [Violation("scope", "required-for-role", message)])
        return None
    values = body.scope.model_dump()
    return Scope.from_json({k: v for k, v in values.items()})


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["identity"], responses=PROBLEM_RESPONSES)
    _key_routes(router)
    _signature_routes(router)
    return router


def _key_routes(router: APIRouter) -> None:
    @router.post("/api-keys", status_code=status.HTTP_201_CREATED, dependencies=[requires(IDENTITY_ADMIN)])
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

    @router.get("/api-keys", dependencies=[requires(IDENTITY_ADMIN)])
    async def list_api_keys(request: Request) -> list[dict[str, Any]]:
        """Every API key with its role, scope, expiry, revocation and last use (never the secret)."""
        identity: IdentityService = request.app.state.identity
        used = await identity.store.last_used()
        return [k.public(used.get(k.key_id)) for k in await identity.store.keys()]

    @router.post("/api-keys/{key_id}/revoke", dependencies=[requires(IDENTITY_ADMIN)])
    async def revoke_api_key(key_id: str, body: RevokeIn, request: Request) -> dict[str, Any]:
        """Revoke a key at once; later requests with it get 401."""
        identity: IdentityService = request.app.state.identity
        if not await identity.store.revoke_key(key_id, body.reason, record_metadata(request, reason=body.reason)):
            raise NotFound(f"no active API key {key_id}", [Violation("key_id", "active-key", "unknown or revoked")])
        key = await identity.store.key(key_id)
        assert key is not None
        return key.public()

    @router.get("/access-audit", dependencies=[requires(ACCESS_AUDIT_READ)])
    async def access_audit(request: Request, limit: int = 200) -> list[dict[str, Any]]:
        """Refused requests, newest first: who, what, why refused."""
        identity: IdentityService = request.app.state.identity
        return await identity.store.refusals(min(max(limit, 1), 1000))


def _signature_routes(router: APIRouter) -> None:
    @router.post("/signatures", status_code=status.HTTP_201_CREATED, dependencies=[requires(SIGN)])
    async def sign_record(body: SignatureIn, request: Request) -> dict[str, Any]:
        """Sign a record electronically: re-authenticate, state the meaning; bound to the record's hash."""
        identity: IdentityService = request.app.state.identity
        signer = request.state.principal
        if body.record.service not in request.app.state.known_logs:
            message = f"unknown service {body.record.service!r}"
            raise InvalidInput(message, [Violation("record.service", "known-log", message)])
        await identity.reauthenticate(request, body.credential, signer)
        ref = signatures.RecordRef(body.record.service, body.record.global_position)
        try:
            return await signatures.sign(
                identity.store, signer, ref, body.meaning, body.reason, record_metadata(request, reason=body.reason)
            )
        except LookupError as error:
            raise InvalidInput(str(error), [Violation("record", "intact-record", str(error))]) from error

    @router.get("/signatures/{signature_id}", dependencies=[requires(SIGNATURES_READ)])
    async def get_signature(signature_id: str, request: Request) -> dict[str, Any]:
        """A signature and whether it still verifies against the record it names."""
        identity: IdentityService = request.app.state.identity
        signed = await signatures.signature(identity.store, signature_id)
        if signed is None:
            raise NotFound(f"no signature {signature_id}", [Violation("signature_id", "exists", "unknown signature")])
        check = await signatures.verify(identity.store, signed, set(request.app.state.known_logs))
        return {**signed, "verification": {"valid": check.valid, "reason": check.reason}}
