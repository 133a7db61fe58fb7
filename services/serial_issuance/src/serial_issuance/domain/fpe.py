"""FF3-1 format-preserving encryption (NIST SP 800-38G Rev. 1), vectorised with numpy.

Serial numbers are FF3-1 encryptions of a per-GTIN counter: unique by construction (a
permutation), unpredictable without the key, and a presented serial decrypts back to
its counter in O(1). A million serials cost eight AES-ECB passes over 16 MB plus a few
numpy operations per round, instead of a million Python-level cipher calls.

Plaintext layout: with n digits, u = ceil(n/2), v = n - u, the counter's high part
(counter // radix^v) is the numeric value of the left half A and the low part the value
of the right half B, where FF3-1 reads each half least-significant digit first
(NUM_radix(REV(X))). The ciphertext's characters are therefore each half's digits,
least-significant first. Cross-checked against the `ff3` package in the tests.
"""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from numpy.typing import NDArray

U64 = NDArray[np.uint64]
ROUNDS = 8


def _tweak64(tweak56: bytes) -> bytes:
    """FF3-1's 56-bit tweak expanded to the 64 bits FF3's round function uses."""
    t = tweak56
    return bytes([t[0], t[1], t[2], t[3] & 0xF0, t[4], t[5], t[6], (t[3] & 0x0F) << 4])


def _reduce_once(value: NDArray[np.int64], m: int) -> NDArray[np.int64]:
    """Bring a value in [-m, 2m) into [0, m) without branches: (x >> 63) is -1 for
    negatives, so masking it with m adds m exactly where needed."""
    modulus = np.int64(m)
    value = value + ((value >> 63) & modulus)
    value = value - modulus
    return value + ((value >> 63) & modulus)


def _mulmod(x: U64, r: int, m: int) -> U64:
    """(x * r) mod m for x, r < m < 2^52 without 128-bit integers: estimate the quotient in
    float64 (off by at most one), take the exact remainder with wrapping uint64
    arithmetic, then correct it into [0, m)."""
    q = (x.astype(np.float64) * (r / m)).astype(np.int64)  # truncation is floor: all positive
    rem = x.view(np.int64) * np.int64(r) - q * np.int64(m)  # exact modulo 2^64
    return _reduce_once(rem, m).view(np.uint64)


def _addmod(x: U64, y: U64, m: int) -> U64:
    """(x + y) mod m for x, y in [0, m)."""
    return _reduce_once((x + y).view(np.int64), m).view(np.uint64)


class FF3_1:
    def __init__(self, key: bytes, tweak: bytes, radix: int, length: int) -> None:
        if len(key) not in (16, 24, 32) or len(tweak) != 7:
            raise ValueError("FF3-1 needs a 128/192/256-bit key and a 56-bit tweak")
        if radix**length < 1_000_000:
            raise ValueError("FF3-1 requires a domain of at least one million values")
        self.radix, self.length = radix, length
        self.u = (length + 1) // 2
        self.v = length - self.u
        if radix**self.u >= 2**52:
            raise ValueError("half-domain too large for the vectorised implementation")
        self._cipher = Cipher(algorithms.AES(key[::-1]), modes.ECB())  # noqa: S305 - FF3-1's PRF is one AES block
        t64 = _tweak64(tweak)
        self._w = (t64[4:], t64[:4])  # (T_R for even rounds, T_L for odd rounds)
        self.domain = radix**length

    def _round_function(self, i: int, half: U64) -> tuple[U64, U64]:
        """y = NUM(REV(AES_REV(K)(REV(W ^ i || [half]^12)))), returned as (lo, hi) 64-bit words."""
        w = self._w[i % 2]
        # REV(P) = half as 8 little-endian bytes, four zero bytes, then W reversed with i in it.
        tail = bytes([0, 0, 0, 0, w[3] ^ i, w[2], w[1], w[0]])
        blocks = np.empty((half.size, 2), dtype="<u8")
        blocks[:, 0] = half
        blocks[:, 1] = np.frombuffer(tail, dtype="<u8")[0]
        out = np.empty((half.size + 1, 2), dtype="<u8")  # update_into wants one spare block
        encryptor = self._cipher.encryptor()
        encryptor.update_into(blocks.data.cast("B"), out.data.cast("B"))
        encryptor.finalize()
        return out[:-1, 0], out[:-1, 1]

    def _y_mod(self, i: int, half: U64, modulus: int) -> U64:
        lo, hi = self._round_function(i, half)
        m = np.uint64(modulus)
        return _addmod(_mulmod(hi % m, (1 << 64) % modulus, modulus), lo % m, modulus)

    def encrypt_counters(self, counters: U64) -> tuple[U64, U64]:
        """Counters → ciphertext halves (a, b) as numbers (digits least-significant first)."""
        split = np.uint64(self.radix**self.v)
        a, b = counters // split, counters % split
        for i in range(ROUNDS):
            m = self.radix ** (self.u if i % 2 == 0 else self.v)
            c = _addmod(a, self._y_mod(i, b, m), m)
            a, b = b, c
        return a, b

    def decrypt_to_counters(self, a: U64, b: U64) -> U64:
        for i in reversed(range(ROUNDS)):
            m = self.radix ** (self.u if i % 2 == 0 else self.v)
            y = self._y_mod(i, a, m)
            c = _addmod(b, np.uint64(m) - y, m)
            a, b = c, a
        result: U64 = a * np.uint64(self.radix**self.v) + b
        return result


def _digits_per_word(radix: int) -> int:
    k = 1
    while radix ** (k + 1) < 2**32:
        k += 1
    return k


def halves_to_digits(a: U64, b: U64, radix: int, u: int, v: int) -> NDArray[np.uint8]:
    """Ciphertext halves → a (count, u + v) matrix of digit values in output order
    (each half least-significant digit first). Splits each half into 32-bit words first
    because numpy's 32-bit division is several times faster than its 64-bit one."""
    digits = np.empty((a.size, u + v), dtype=np.uint8)
    per_word = _digits_per_word(radix)
    r32 = np.uint32(radix)
    for value, offset, width in ((a, 0, u), (b, u, v)):
        rest = value
        for start in range(0, width, per_word):
            count = min(per_word, width - start)
            word_base = np.uint64(radix**count)
            word = (rest % word_base).astype(np.uint32)
            rest = rest // word_base
            for j in range(count):
                digits[:, offset + start + j] = word % r32
                word //= r32
    return digits


def digits_to_halves(digits: NDArray[np.uint8], radix: int, u: int) -> tuple[U64, U64]:
    """Inverse of `halves_to_digits`."""
    weights_a = np.array([radix**j for j in range(u)], dtype=np.uint64)
    weights_b = np.array([radix**j for j in range(digits.shape[1] - u)], dtype=np.uint64)
    a = (digits[:, :u].astype(np.uint64) * weights_a).sum(axis=1, dtype=np.uint64)
    b = (digits[:, u:].astype(np.uint64) * weights_b).sum(axis=1, dtype=np.uint64)
    return a, b
