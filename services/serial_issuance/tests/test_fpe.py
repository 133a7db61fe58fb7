"""The vectorised FF3-1 against the `ff3` reference implementation and Python integers."""

from __future__ import annotations

import numpy as np
from ff3 import FF3Cipher
from hypothesis import given, settings
from hypothesis import strategies as st
from serial_issuance.domain.fpe import FF3_1, _mulmod, halves_to_digits
from serial_issuance.domain.generation import counters_of, serials_of
from serial_issuance.domain.serial_format import ALPHABETS, SerialFormat
from serialtrail_contracts.serials import SerialAlphabet

FORMATS = [(a, n) for a in SerialAlphabet for n in (6, 7, 12, 13, 20)] + [(SerialAlphabet.alphanumeric, 4)]


def reference_plaintext(counter: int, radix: int, alphabet: str, u: int, v: int) -> str:
    """Our counter layout as an FF3-1 plaintext string: each half least-significant digit first."""

    def little_endian(value: int, width: int) -> str:
        chars = []
        for _ in range(width):
            value, digit = divmod(value, radix)
            chars.append(alphabet[digit])
        return "".join(chars)

    high, low = divmod(counter, radix**v)
    return little_endian(high, u) + little_endian(low, v)


@settings(max_examples=40, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    tweak=st.binary(min_size=7, max_size=7),
    shape=st.sampled_from(FORMATS),
    data=st.data(),
)
def test_matches_the_ff3_reference_implementation(
    key: bytes, tweak: bytes, shape: tuple[SerialAlphabet, int], data: st.DataObject
) -> None:
    alphabet_name, length = shape
    alphabet = ALPHABETS[alphabet_name]
    fmt = SerialFormat(length, alphabet_name)
    cipher = FF3_1(key, tweak, fmt.radix, length)
    counters = data.draw(st.lists(st.integers(0, min(fmt.capacity - 1, 2**62)), min_size=1, max_size=8))
    ours = serials_of(cipher, fmt, counters)
    reference = FF3Cipher.withCustomAlphabet(key.hex(), tweak.hex(), alphabet)
    expected = [reference.encrypt(reference_plaintext(c, fmt.radix, alphabet, cipher.u, cipher.v)) for c in counters]
    assert ours == expected
    assert counters_of(cipher, fmt, ours).tolist() == counters


def test_a_block_is_a_permutation_with_no_repeats() -> None:
    fmt = SerialFormat(6, SerialAlphabet.numeric)
    cipher = FF3_1(bytes(range(32)), bytes(7), fmt.radix, fmt.length)
    a, b = cipher.encrypt_counters(np.arange(fmt.capacity, dtype=np.uint64))
    digits = halves_to_digits(a, b, fmt.radix, cipher.u, cipher.v)
    values = (digits.astype(np.int64) * (10 ** np.arange(6))).sum(axis=1)
    assert np.unique(values).size == fmt.capacity  # every one of the 10^6 serials exactly once


@settings(max_examples=200, deadline=None)
@given(m=st.integers(2, 2**52 - 1), data=st.data())
def test_mulmod_is_exact(m: int, data: st.DataObject) -> None:
    r = data.draw(st.integers(0, m - 1))
    xs = data.draw(st.lists(st.integers(0, m - 1), min_size=1, max_size=16))
    got = _mulmod(np.array(xs, dtype=np.uint64), r, m).tolist()
    assert got == [(x * r) % m for x in xs]
