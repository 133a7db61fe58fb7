"""OAuth2 / OIDC bearer tokens from an external identity provider, validated against its
JWKS: signature (asymmetric algorithms only, so `alg: none` and HMAC tricks fail),
issuer, audience, expiry. Claims map to a principal by configuration."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jwt
from serialtrail_contracts.identity import Principal, Role, Scope, ScopeInvalid

JWKS_TIMEOUT = 5  # seconds an identity provider's key list may take
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class TokenRejected(Exception):
    pass


@dataclass(frozen=True)
class OidcConfig:
    jwks_url: str
    issuer: str
    audience: str
    role_claim: str = "serialtrail_role"
    scope_claim: str = "serialtrail_scope"
    name_claim: str = "name"


class JwtAuthenticator:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._jwks = jwt.PyJWKClient(config.jwks_url, cache_keys=True, lifespan=300, timeout=JWKS_TIMEOUT)
        # Its own threads: a slow identity provider ties up these, never the ones API keys are
        # verified on (the review: 40 tokens naming unknown keys made API-key requests take 20 s).
        self._fetching = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jwks")
        # Key ids whose signing key was fetched: PyJWT keeps those keys (`cache_keys`) after its
        # copy of the whole key list expires, so checking a token that names one fetches nothing.
        self._fetched: set[str] = set()

    def names_a_known_key(self, token: str) -> bool:
        """The token names a signing key of the key list already fetched: checking it fetches
        nothing from the identity provider, so it may be checked where fetching may not (from an
        address past its failure limit)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return False
        return isinstance(kid, str) and kid in self._fetched

    async def authenticate(self, token: str, *, max_age: int | None = None) -> Principal:
        """`max_age`: require a token issued within that many seconds (re-authentication)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenRejected(f"malformed token: {error}") from error
        if header.get("alg") not in ALGORITHMS:
            raise TokenRejected(f"algorithm {header.get('alg')!r} is not accepted")
        try:
            loop = asyncio.get_running_loop()
            key = await loop.run_in_executor(self._fetching, self._jwks.get_signing_key_from_jwt, token)
            if isinstance(key.key_id, str):
                self._fetched.add(key.key_id)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.config.audience,
                issuer=self.config.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise TokenRejected(str(error)) from error
        except (TypeError, ValueError) as error:  # e.g. an RS256 header naming an EC key
            raise TokenRejected("the token's algorithm does not fit the key it names") from error
        if not isinstance(claims.get("exp"), int | float) or not (isinstance(claims["sub"], str) and claims["sub"]):
            raise TokenRejected("claims 'exp' (a number) and 'sub' (a non-empty string) are required")
        if max_age is not None and not (isinstance(claims.get("iat"), int) and claims["iat"] >= time.time() - max_age):
            raise TokenRejected(f"re-authentication needs a token issued within the last {max_age} s")
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        try:
            role = Role(claims[self.config.role_claim])
        except (KeyError, ValueError) as error:
            raise TokenRejected(f"claim {self.config.role_claim!r} does not name a known role") from error
        try:  # the same strict check as for API keys: a malformed scope claim is refused, never widened
            scope = Scope.checked(claims.get(self.config.scope_claim), role)
        except ScopeInvalid as problem:
            raise TokenRejected(f"claim {self.config.scope_claim!r}: {problem.message}") from problem
        return Principal(
            id=f"oidc:{claims['sub']}",
            name=str(claims.get(self.config.name_claim, claims["sub"])),
            role=role,
            auth_method="oidc-jwt",
            scope=scope,
        )
