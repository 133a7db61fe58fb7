"""API key tokens: `st_<key id>_<secret>`. Only a slow (argon2id) hash of the secret is
stored; verified tokens are remembered by their SHA-256 for the life of the process so
each request does not pay the slow hash again."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_TOKEN = re.compile(r"^st_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class IssuedToken:
    key_id: str
    token: str
    secret_hash: str


def issue() -> IssuedToken:
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return IssuedToken(key_id=key_id, token=f"st_{key_id}_{secret}", secret_hash=_hasher.hash(secret))


def parse(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    match = _TOKEN.match(token)
    return (match.group(1), match.group(2)) if match else None


def looks_like_api_key(token: str) -> bool:
    return token.startswith("st_")


class SecretVerifier:
    def __init__(self) -> None:
        self._verified: set[tuple[str, str]] = set()

    def remembered(self, secret: str, secret_hash: str) -> bool:
        """Verified before (a SHA-256 comparison, no argon2)."""
        return (hashlib.sha256(secret.encode()).hexdigest(), secret_hash) in self._verified

    def verify(self, secret: str, secret_hash: str) -> bool:
        memo = (hashlib.sha256(secret.encode()).hexdigest(), secret_hash)
        if memo in self._verified:
            return True
        try:
            _hasher.verify(secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return False
        self._verified.add(memo)
        return True
