"""Authentication for every service: API keys (checked against the service's own read model
of the identity service's keys) and OIDC bearer tokens; one place that refuses (401 with
WWW-Authenticate, 403 naming what is missing, 429 after repeated failures) and has every
refusal recorded in the log of the service that refused."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import Request
from serialtrail_contracts.identity import AccessRefused as AccessRefusedEvent
from serialtrail_contracts.identity import Principal

from serialtrail_kit.access import tokens as apikeys
from serialtrail_kit.access.oidc import JwtAuthenticator, TokenRejected
from serialtrail_kit.access.principals import Principals
from serialtrail_kit.access.throttle import RefusalThrottle
from serialtrail_kit.db import Pool, ident
from serialtrail_kit.errors import DomainError, Rule
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.http.request_id import request_id

FAILURE_WINDOW = 60.0
MAX_FAILURES = 10
TOUCH_EVERY = 60.0
REAUTH_MAX_AGE = 300


SIGNATURE_REFUSED = "the signature was refused: the credential given is not the signer's own, valid now"


class AccessRefused(DomainError):
    kind, status, title = "unauthorized", 401, "Authentication required"
    example = "credentials required: an API key (Authorization: Bearer st_…) or an OIDC token"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, recorded: str | None = None) -> None:
        super().__init__(detail)
        self.headers: dict[str, str] = headers or {}
        self.recorded = detail if recorded is None else recorded  # in the access audit: may say more


class Unauthenticated(AccessRefused):
    def __init__(self, detail: str, *, error: str | None = None) -> None:
        challenge = 'Bearer realm="serialtrail"' + (f', error="{error}"' if error else "")
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


SIGNER_REAUTHENTICATED = Rule(
    "signer-reauthenticated",
    "an e-signature's credential is valid now and the signer's own (the caller's)",
    "body.credential",
    SIGNATURE_REFUSED,
)


class SignatureRefused(AccessRefused):
    """An e-signature's credential refused. Not a 401: the caller's own credentials were
    accepted, and a client must not take the answer for its session failing."""

    kind, status, title = "signature-refused", 403, "E-signature refused"
    example = SIGNATURE_REFUSED

    def __init__(self, field: str, because: str) -> None:
        super().__init__(SIGNATURE_REFUSED)
        self.violations = [SIGNER_REAUTHENTICATED.at(field, SIGNATURE_REFUSED)]
        self.because = because  # for the access audit only


SIGNS: dict[type[DomainError], tuple[Rule, ...]] = {SignatureRefused: (SIGNER_REAUTHENTICATED,)}  # signing routes


class Forbidden(AccessRefused):
    kind, status, title = "forbidden", 403, "Not allowed"
    example = "role auditor lacks permission keys:admin"


class Hidden(AccessRefused):
    """Recorded, never raised: a resource outside the principal's scope, answered as unknown
    (`answered` is what the caller sees instead)."""

    kind, status, title = "hidden", 404, "Out of scope, answered as unknown"

    def __init__(self, detail: str, answered_status: int = 404) -> None:
        super().__init__(detail)
        self.answered_status = answered_status  # what the caller was answered (an unknown one's status)


class TooManyFailures(AccessRefused):
    kind, status, title = "too-many-failures", 429, "Too many failed authentication attempts"
    example = "too many failed attempts; retry after 42 s"

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


# Two credentials (two Authorization headers, or one and an X-API-Key) are refused, not one of them
# chosen: a client that adds its own header to a default one would act as whichever was chosen.
ONE_CREDENTIAL = "one credential per request: this one sends several (Authorization and X-API-Key headers)"


def _credentials_sent(request: Request) -> int:
    return len(request.headers.getlist("authorization")) + len(request.headers.getlist("x-api-key"))


def _credential(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else ""
    key = request.headers.get("x-api-key")
    return None if key is None else key.strip()  # as for Bearer: a pasted key's stray blank is no part of it


# Records a refusal in the log of the service whose route refused it.
RecordRefusal = Callable[[Request, AccessRefusedEvent, RecordMetadata], Awaitable[None]]


class KeyUsage:
    """When each key was last used here (`<service>.api_key_usage`): bookkeeping, not a record."""

    def __init__(self, pool: Pool, schema: str) -> None:
        self.pool = pool
        self.schema = ident(schema)

    async def touch(self, key_id: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"INSERT INTO {self.schema}.api_key_usage VALUES ($1, now()) "
                "ON CONFLICT (key_id) DO UPDATE SET last_used_at = EXCLUDED.last_used_at",
                key_id,
            )

    async def last_used(self) -> dict[str, datetime]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"SELECT key_id, last_used_at FROM {self.schema}.api_key_usage")
        return {r["key_id"]: r["last_used_at"] for r in rows}


class Authenticator:
    def __init__(
        self,
        principals: Principals,
        usage: KeyUsage,
        software: SoftwareIdentity,
        record: RecordRefusal,
        jwt: JwtAuthenticator | None = None,
    ) -> None:
        self.principals = principals
        self.usage = usage
        self.software = software
        self._record = record
        self.jwt = jwt
        self.limiter = FailureLimiter()
        self._verifier = apikeys.SecretVerifier()
        self.throttle = RefusalThrottle(record)
        self._touched: dict[str, float] = {}

    async def authenticate(self, request: Request) -> Principal:
        """Failures are counted per client address and per presented key id; past the limit a
        request is refused (429) without its secret being verified the slow way, unless the
        secret is right and can be told at once: a wrong secret never locks the right one out."""
        if _credentials_sent(request) > 1:
            ambiguous = Unauthenticated(ONE_CREDENTIAL, error="invalid_request")
            await self.record_refusal(request, ambiguous, None)
            raise ambiguous
        token = _credential(request)
        sources = self._sources(request, token)
        blocked = max((self.limiter.blocked_for(source) or 0 for source in sources), default=0)
        if blocked and not await self._right_at_once(token):
            refusal = TooManyFailures(blocked)
            await self.record_refusal(request, refusal, None)
            raise refusal
        try:
            return await self._principal(token)
        except Unauthenticated as refusal:
            if token:  # a missing credential is not an attack on a key
                for source in sources:
                    self.limiter.fail(source)
            await self.record_refusal(request, refusal, None)
            raise

    async def reauthenticate(
        self, request: Request, credential: str, signer: Principal, field: str = "body.credential"
    ) -> None:
        """Signing re-authenticates: the credential must be valid now (an OIDC token fresh
        within REAUTH_MAX_AGE) and belong to the principal making the request. Refused: 403
        `signature-refused` naming `field`, the same words whatever was wrong with it (the
        access audit keeps the reason), so a signature is no oracle for other keys, and the
        caller's own session is not put in doubt."""
        sources = self._sources(request, credential)
        retry_after = max((self.limiter.blocked_for(source) or 0 for source in sources), default=0)
        if retry_after and not await self._right_at_once(credential, signer.id):
            throttled = TooManyFailures(retry_after)
            await self.record_refusal(request, throttled, signer)
            raise throttled
        try:
            again = await self._principal(credential, max_age=REAUTH_MAX_AGE)
            if again.id != signer.id:
                raise Unauthenticated("re-authentication must be by the signer", error="invalid_token")
        except Unauthenticated as refusal:
            for source in sources:
                self.limiter.fail(source)
            refused = SignatureRefused(field, because=refusal.detail)
            await self.record_refusal(request, refused, signer)
            raise refused from None

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
        key = await self.principals.key(parsed[0]) if parsed else None
        if parsed is None or key is None or not await self._verified(parsed[1], key.secret_hash):
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
            await self.usage.touch(key_id)

    @staticmethod
    def _sources(request: Request, token: str | None) -> list[str]:
        parsed = apikeys.parse(token) if token else None
        address = f"address:{request.client.host if request.client else 'unknown'}"
        return [address] if parsed is None else [address, f"key:{parsed[0]}"]

    async def _verified(self, secret: str, secret_hash: str) -> bool:
        known = self._verifier.known(secret, secret_hash)
        if known is not None:
            return known
        # argon2 takes tens of milliseconds of CPU: off the event loop, so it delays no one else.
        return await asyncio.to_thread(self._verifier.verify, secret, secret_hash)

    async def _right_at_once(self, token: str | None, principal_id: str | None = None) -> bool:
        """The presented key's secret is right (and the key is `principal_id`'s, when given) and
        that needs no argon2 (a SHA-256 hash, or an argon2 hash this process verified before):
        one indexed lookup, no slow hash. An OIDC token is right at once when it is valid and signed
        by a key already fetched: failures from its address (a shared NAT's) do not lock it out."""
        if token and self.jwt is not None and not apikeys.looks_like_api_key(token):
            return await self._token_right_at_once(self.jwt, token, principal_id)
        parsed = apikeys.parse(token) if token and apikeys.looks_like_api_key(token) else None
        key = await self.principals.key(parsed[0]) if parsed else None
        if parsed is None or key is None or principal_id not in (None, key.principal_id):
            return False
        return self._verifier.known(parsed[1], key.secret_hash) is True

    @staticmethod
    async def _token_right_at_once(verifier: JwtAuthenticator, token: str, principal_id: str | None) -> bool:
        if not verifier.names_a_known_key(token):
            return False
        try:
            principal = await verifier.authenticate(token)
        except TokenRejected:
            return False
        return principal_id in (None, principal.id)

    async def record_refusal(self, request: Request, refusal: AccessRefused, principal: Principal | None) -> None:
        token = _credential(request)
        parsed = apikeys.parse(token) if token else None
        event = AccessRefusedEvent(
            status=refusal.answered_status if isinstance(refusal, Hidden) else refusal.status,
            reason=refusal.recorded + (f" ({refusal.because})" if isinstance(refusal, SignatureRefused) else ""),
            method=request.method,
            path=request.url.path,
            principal_id=principal.id if principal else None,
            presented_key_id=parsed[0] if parsed else None,
        )
        meta = RecordMetadata(
            principal_id=principal.id if principal else "anonymous",
            principal_role=principal.role.value if principal else "none",
            auth_method=principal.auth_method if principal else "none",
            correlation_id=request_id(request),
            client_address=request.client.host if request.client else None,
            software_version=self.software.version,
            config_digest=self.software.config_digest,
        )
        if self.throttle.admit(request, event, meta):
            await self._record(request, event, meta)
