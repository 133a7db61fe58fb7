"""API keys: who may hold one with which scope, and revoking one. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.identity import (
    SCOPE_DIMENSIONS,
    ApiKeyCreated,
    ApiKeyRevoked,
    Role,
    Scope,
    ScopeInvalid,
)
from serialtrail_kit.errors import InvalidInput, NotFound

from identity.domain.rules import ACTIVE_KEY, EXPIRY_IN_FUTURE, SCOPE_RULES


def stream_id(key_id: str) -> str:
    return f"api-key-{key_id}"


def scope_for(role: Role, stated: object) -> Scope:
    """The scope as stated (through the API or the CLI), checked strictly: refused, never
    widened. A role that sees everything unless narrowed may state none."""
    try:
        return Scope.checked(stated, role)
    except ScopeInvalid as problem:
        message = problem.message
        if problem.rule == "required-for-role":
            message += f" ({', '.join(SCOPE_DIMENSIONS)}; company_prefixes at least)"
        raise InvalidInput(message, [SCOPE_RULES[problem.rule].at(problem.field, message)]) from problem


def future_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    """An expiry as stated, refused unless it is later than `now` (one without an offset is local time)."""
    if expires_at is None:
        return None
    stated = expires_at if expires_at.tzinfo is not None else expires_at.astimezone()
    if stated <= now:
        message = f"{stated.isoformat()} is not in the future: a key born expired cannot be used"
        raise InvalidInput(message, [EXPIRY_IN_FUTURE.at("expires_at", message)])
    return stated


def create(
    *,
    key_id: str,
    secret_hash: str,
    name: str,
    role: Role,
    scope: Scope,
    expires_at: datetime | None,
    principal_id: str | None = None,
) -> ApiKeyCreated:
    return ApiKeyCreated(
        key_id=key_id,
        principal_id=principal_id or f"key:{key_id}",
        name=name,
        role=role,
        scope=scope.as_json(),
        expires_at=expires_at,
        secret_hash=secret_hash,
    )


def revoke(history: Sequence[EventContract], key_id: str, reason: str) -> ApiKeyRevoked:
    created = any(isinstance(e, ApiKeyCreated) for e in history)
    revoked = any(isinstance(e, ApiKeyRevoked) for e in history)
    if not created or revoked:
        raise NotFound(f"no active API key {key_id}", [ACTIVE_KEY.at("key_id", "unknown or revoked")])
    return ApiKeyRevoked(key_id=key_id, reason=reason)
