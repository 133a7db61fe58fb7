"""Authentication for every service: API keys and OIDC bearer tokens, one place that
refuses (401 with WWW-Authenticate, 403 naming what is missing, 429 after repeated
failures) and records every refusal in the identity log."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict, deque
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from serialtrail_contracts.identity import UNSCOPED_BY_DEFAULT, Principal, Role, Scope

from serialtrail_kit.errors import DomainError
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.identity import apikeys
from serialtrail_kit.identity.jwt_bearer import JwtAuthenticator, TokenRejected
from serialtrail_kit.identity.store import IdentityStore

FAILURE_WINDOW = 60.0
MAX_FAILURES = 10
TOUCH_EVERY = 60.0
REAUTH_MAX_AGE = 300


class AccessRefused(DomainError):
    kind, status, title = "unauthorized", 401, "Authentication required"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.headers: dict[str, str] = headers or {}


class Unauthenticated(AccessRefused):
    def __init__(self, detail: str, *, error: str | None = None) -> None:
        challenge = 'Bearer realm="serialtrail"' + (f', error="{error}"' if error else "")
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(AccessRefused):
    kind, status, title = "forbidden", 403, "Not allowed"


class TooManyFailures(AccessRefused):
    kind, status, title = "too-many-failures", 429, "Too many failed authentication attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed attempts; retry after {retry_after} s", headers={"Retry-After": str(retry_after)}
        )


class FailureLimiter:
    """Counts authentication failures per source (presented key id, else client address)."""

    def __init__(self, window: float = FAILURE_WINDOW, limit: int = MAX_FAILURES) -> None:
        self.window, self.limit = window, limit
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, source: str) -> deque[float]:
        stamps, cutoff = self._failures[source], time.monotonic() - self.window
        while stamps and stamps[0] < cutoff:
            stamps.popleft()
        return stamps

    def blocked_for(self, source: str) -> int | None:
        stamps = self._recent(source)
        if len(stamps) < self.limit:
            return None
        return max(1, int(stamps[0] + self.window - time.monotonic()) + 1)

    def fail(self, source: str) -> None:
        self._recent(source).append(time.monotonic())


def _credential(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else ""
    return request.headers.get("x-api-key")


class IdentityService:
    def __init__(self, store: IdentityStore, software: SoftwareIdentity, jwt: JwtAuthenticator | None = None) -> None:
        self.store = store
        self.software = software
        self.jwt = jwt
        self.limiter = FailureLimiter()
        self._verifier = apikeys.SecretVerifier()
        self._touched: dict[str, float] = {}

    async def authenticate(self, request: Request) -> Principal:
        token = _credential(request)
        source = self._source(request, token)
        retry_after = self.limiter.blocked_for(source)
        if retry_after is not None:
            raise TooManyFailures(retry_after)
        try:
            return await self._principal(token)
        except Unauthenticated as refusal:
            if token:  # a missing credential is not an attack on a key
                self.limiter.fail(source)
            await self.record_refusal(request, refusal, None)
            raise

    async def reauthenticate(self, request: Request, credential: str, signer: Principal) -> None:
        """Signing re-authenticates: the credential must be valid now (an OIDC token fresh
        within REAUTH_MAX_AGE) and belong to the principal making the request."""
        source = self._source(request, credential)
        retry_after = self.limiter.blocked_for(source)
        if retry_after is not None:
            raise TooManyFailures(retry_after)
        try:
            again = await self._principal(credential, max_age=REAUTH_MAX_AGE)
            if again.id != signer.id:
                raise Unauthenticated("re-authentication must be by the signer", error="invalid_token")
        except Unauthenticated as refusal:
            self.limiter.fail(source)
            await self.record_refusal(request, refusal, signer)
            raise

    async def _principal(self, token: str | None, *, max_age: int | None = None) -> Principal:
        if token is None:
            raise Unauthenticated("credentials required: an API key (Authorization: Bearer st_…) or an OIDC token")
        if apikeys.looks_like_api_key(token):
            return await self._api_key_principal(token)
        if self.jwt is None:
            raise Unauthenticated("malformed or unknown credential", error="invalid_token")
        try:
            return await self.jwt.authenticate(token, max_age=max_age)
        except TokenRejected as error:
            raise Unauthenticated(f"bearer token rejected: {error}", error="invalid_token") from error

    async def _api_key_principal(self, token: str) -> Principal:
        parsed = apikeys.parse(token)
        key = await self.store.key(parsed[0]) if parsed else None
        if parsed is None or key is None or not self._verifier.verify(parsed[1], key.secret_hash):
            raise Unauthenticated("unknown or malformed API key", error="invalid_token")
        if key.revoked_at is not None:
            raise Unauthenticated("this API key was revoked", error="invalid_token")
        if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
            raise Unauthenticated("this API key has expired", error="invalid_token")
        await self._touch(key.key_id)
        return Principal(id=key.principal_id, name=key.name, role=key.role, auth_method="api-key", scope=key.scope)

    async def _touch(self, key_id: str) -> None:
        now = time.monotonic()
        if now - self._touched.get(key_id, -TOUCH_EVERY) >= TOUCH_EVERY:
            self._touched[key_id] = now
            await self.store.touch(key_id)

    @staticmethod
    def _source(request: Request, token: str | None) -> str:
        parsed = apikeys.parse(token) if token else None
        if parsed is not None:
            return f"key:{parsed[0]}"
        return f"address:{request.client.host if request.client else 'unknown'}"

    async def record_refusal(self, request: Request, refusal: AccessRefused, principal: Principal | None) -> None:
        token = _credential(request)
        parsed = apikeys.parse(token) if token else None
        payload: dict[str, Any] = {
            "status": refusal.status,
            "reason": refusal.detail,
            "method": request.method,
            "path": request.url.path,
            "principal_id": principal.id if principal else None,
            "presented_key_id": parsed[0] if parsed else None,
        }
        meta = RecordMetadata(
            principal_id=principal.id if principal else "anonymous",
            principal_role=principal.role.value if principal else "none",
            auth_method=principal.auth_method if principal else "none",
            correlation_id=request.headers.get("x-request-id") or str(uuid.uuid4()),
            client_address=request.client.host if request.client else None,
            software_version=self.software.version,
            config_digest=self.software.config_digest,
        )
        await self.store.record_refusal(payload, meta)

    async def issue_key(
        self,
        *,
        name: str,
        role: Role,
        scope: Scope | None,
        expires_at: datetime | None,
        meta: RecordMetadata,
        principal_id: str | None = None,
    ) -> tuple[str, str]:
        """Create a key; returns (key id, token). The token is shown once and never stored."""
        if scope is None:
            scope = Scope.unrestricted() if role in UNSCOPED_BY_DEFAULT else Scope.nothing()
        issued = apikeys.issue()
        await self.store.create_key(
            {
                "key_id": issued.key_id,
                "principal_id": principal_id or f"key:{issued.key_id}",
                "name": name,
                "role": role.value,
                "scope": scope.as_json(),
                "expires_at": expires_at.isoformat() if expires_at else None,
                "secret_hash": issued.secret_hash,
            },
            meta,
        )
        return issued.key_id, issued.token
