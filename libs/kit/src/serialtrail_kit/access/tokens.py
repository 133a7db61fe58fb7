"""API key tokens: `st_<key id>_<secret>`, the secret 256 random bits. Only a hash of the
secret is stored: SHA-256 (`sha256$<hex>`). A slow password hash protects secrets people
choose, which can be guessed; nobody can guess 256 random bits, and a fast hash lets the
right secret be checked at once even while wrong ones for the same key are being refused
(a flood of wrong secrets must never lock the right one out). Keys created before kept an
argon2id hash; those are still verified (off the event loop, remembered once verified)."""

from __future__ import annotations

import hashlib
import hmac
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


_SHA256 = "sha256$"


def _sha256(secret: str) -> str:
    return _SHA256 + hashlib.sha256(secret.encode()).hexdigest()


def issue() -> IssuedToken:
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return IssuedToken(key_id=key_id, token=f"st_{key_id}_{secret}", secret_hash=_sha256(secret))


def quick_match(secret: str, secret_hash: str) -> bool | None:
    """Whether the secret matches a SHA-256 hash (microseconds); None for an argon2 hash."""
    if not secret_hash.startswith(_SHA256):
        return None
    return hmac.compare_digest(_sha256(secret), secret_hash)


def parse(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    match = _TOKEN.match(token)
    return (match.group(1), match.group(2)) if match else None


def looks_like_api_key(token: str) -> bool:
    return token.startswith("st_")


class SecretVerifier:
    """Checks secrets against stored hashes; argon2 results are remembered for the life of
    the process (by the secret's SHA-256), so a key pays the slow hash once."""

    def __init__(self) -> None:
        self._verified: set[tuple[str, str]] = set()

    def known(self, secret: str, secret_hash: str) -> bool | None:
        """The answer without argon2 (a SHA-256 hash, or an argon2 hash verified before); None
        when only argon2 can tell."""
        quick = quick_match(secret, secret_hash)
        if quick is not None:
            return quick
        return True if (hashlib.sha256(secret.encode()).hexdigest(), secret_hash) in self._verified else None

    def verify(self, secret: str, secret_hash: str) -> bool:
        """May take argon2's tens of milliseconds: callers on an event loop use a thread."""
        known = self.known(secret, secret_hash)
        if known is not None:
            return known
        try:
            _hasher.verify(secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return False
        self._verified.add((hashlib.sha256(secret.encode()).hexdigest(), secret_hash))
        return True
