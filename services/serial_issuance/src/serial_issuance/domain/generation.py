"""Serials of an allocation, rendered in chunks; and serials mapped back to counters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray
from serialtrail_contracts.serials import OutputForm
from serialtrail_gs1.keys import sgtin_uri_prefix

from serial_issuance.domain.fpe import FF3_1, digits_to_halves, halves_to_digits
from serial_issuance.domain.serial_format import SerialFormat, render_lines

CHUNK = 16_384  # small enough to stay in CPU cache, large enough to amortise numpy calls


def line_parts(
    form: OutputForm, gtin: str, company_prefix_length: int, digital_link_base: str, *, ndjson: bool
) -> tuple[bytes, ...]:
    prefix = {
        OutputForm.serial: "",
        OutputForm.sgtin_uri: sgtin_uri_prefix(gtin, company_prefix_length),
        OutputForm.element_string: f"(01){gtin}(21)",
        OutputForm.digital_link: f"{digital_link_base.rstrip('/')}/01/{gtin}/21/",
    }[form].encode()
    if not ndjson:
        return (prefix, b"")
    # Serials use only [0-9A-Z] and prefixes are fixed ASCII: nothing needs JSON escaping.
    return (b'{"serial":"', b'","' + form.value.encode() + b'":"' + prefix, b'"}')


def render_counters(
    cipher: FF3_1,
    fmt: SerialFormat,
    first: int,
    end: int,
    skipped: Sequence[int],
    parts: tuple[bytes, ...],
    chunk: int = CHUNK,
) -> Iterator[bytes]:
    lut = fmt.lookup_table()
    skip = np.array(skipped, dtype=np.uint64)
    for start in range(first, end, chunk):
        counters = np.arange(start, min(start + chunk, end), dtype=np.uint64)
        if skip.size:
            counters = counters[~np.isin(counters, skip)]
        a, b = cipher.encrypt_counters(counters)
        yield render_lines(lut[halves_to_digits(a, b, fmt.radix, cipher.u, cipher.v)], parts)


def serials_of(cipher: FF3_1, fmt: SerialFormat, counters: Sequence[int]) -> list[str]:
    lut = fmt.lookup_table()
    a, b = cipher.encrypt_counters(np.array(counters, dtype=np.uint64))
    digits = lut[halves_to_digits(a, b, fmt.radix, cipher.u, cipher.v)]
    return [row.tobytes().decode() for row in digits]


def counters_of(cipher: FF3_1, fmt: SerialFormat, serials: list[str]) -> NDArray[np.uint64]:
    """Serials that fit the format → their counters (FF3-1 decryption)."""
    if not serials:
        return np.zeros(0, dtype=np.uint64)
    a, b = digits_to_halves(fmt.to_digits(serials), fmt.radix, cipher.u)
    return cipher.decrypt_to_counters(a, b)
