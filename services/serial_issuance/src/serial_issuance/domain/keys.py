"""Per-GTIN FF3-1 keys derived from the configured master key (HMAC-SHA256), so one
secret serves every product and a product's serials never depend on another's."""

from __future__ import annotations

import hashlib
import hmac

from serial_issuance.domain.fpe import FF3_1
from serial_issuance.domain.serial_format import SerialFormat


class SerialKeyring:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the serial master key must be 256 bits")
        self._master = master_key
        self._ciphers: dict[tuple[str, SerialFormat], FF3_1] = {}

    def _derive(self, label: str) -> bytes:
        return hmac.new(self._master, label.encode(), hashlib.sha256).digest()

    @property
    def key_id(self) -> str:
        """A public fingerprint of the master key, recorded when a pool opens."""
        return self._derive("serialtrail/key-id/v1").hex()[:16]

    def cipher(self, gtin: str, fmt: SerialFormat) -> FF3_1:
        cached = self._ciphers.get((gtin, fmt))
        if cached is None:
            key = self._derive(f"serialtrail/serial-pool/v1/{gtin}/key")
            tweak = self._derive(f"serialtrail/serial-pool/v1/{gtin}/tweak")[:7]
            cached = self._ciphers[(gtin, fmt)] = FF3_1(key, tweak, fmt.radix, fmt.length)
        return cached
