"""Which presented serials may be commissioned for a GTIN: only serials issued by one of
its serial requests or imported for it, each at most once per request."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from serialtrail_kit.errors import Violation

from serial_issuance.domain.fpe import FF3_1
from serial_issuance.domain.generation import counters_of
from serial_issuance.domain.rules import DUPLICATE, ISSUED_FOR_GTIN
from serial_issuance.domain.serial_format import SerialFormat
from serial_issuance.domain.serial_pool import SerialPool

MAX_PER_REQUEST = 100_000


def stream_id(commissioning_id: str) -> str:
    return f"commissioning-{commissioning_id}"


@dataclass(frozen=True)
class Screening:
    violations: list[Violation]
    not_from_pool: list[str]  # not allocated by a serial request: must have been imported
    fitting: list[str]  # serials in the product's format, in request order
    counters: NDArray[np.uint64]  # their pool counters
    unpooled: list[str]  # serials outside the product's format


def screen(
    serials: Sequence[str],
    fmt: SerialFormat,
    pool: SerialPool,
    cipher: FF3_1,
    field: str = "serials",
    lot: str | None = None,
) -> Screening:
    """Serials requested for another batch than `lot` count as not from the pool: unless
    imported for it, they were not issued for this batch."""
    violations: list[Violation] = []
    seen: set[str] = set()
    pattern = re.compile(f"^[{re.escape(fmt.characters)}]{{{fmt.length}}}$")
    fitting: list[str] = []
    not_from_pool: list[str] = []
    for index, serial in enumerate(serials):
        if serial in seen:
            violations.append(DUPLICATE.at(f"{field}[{index}]", f"{serial} appears more than once"))
            continue
        seen.add(serial)
        (fitting if pattern.match(serial) else not_from_pool).append(serial)
    unpooled = list(not_from_pool)
    counters = counters_of(cipher, fmt, fitting)
    allocated = pool.allocated_mask(counters, lot)
    not_from_pool.extend(np.asarray(fitting, dtype=object)[~allocated].tolist())
    return Screening(violations, not_from_pool, fitting, counters, unpooled)


def unissued(
    serials: Sequence[str],
    candidates: Collection[str],
    imported: Collection[str],
    gtin: str,
    field: str = "serials",
) -> list[Violation]:
    missing = set(candidates) - set(imported)
    return [
        ISSUED_FOR_GTIN.at(
            f"{field}[{index}]",
            f"{serial} was not issued or imported for GTIN {gtin} (and for this batch, when it was for one)",
        )
        for index, serial in enumerate(serials)
        if serial in missing
    ]
