"""Sealing a secret a service must keep on its log (a subscriber's signing token): encrypted and
authenticated (Fernet) with a key derived from the deployment's checkpoint signing key, which the
database never holds. The log, its topic and a database dump carry only the sealed form; a sealed
value altered is refused, never unsealed to something else."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_PURPOSE = b"serialtrail sealed secrets v1"


class Unsealable(ValueError):
    """A sealed value this deployment's key did not seal (or one altered since)."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    @classmethod
    def from_signing_key(cls, signing_key: Ed25519PrivateKey) -> Sealer:
        """A key of its own, derived (HKDF-SHA256) from the checkpoint key: one secret to keep, two uses apart."""
        raw = signing_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return cls(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(raw))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def unseal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as error:
            raise Unsealable("a sealed secret this deployment's key did not seal, or altered since") from error
