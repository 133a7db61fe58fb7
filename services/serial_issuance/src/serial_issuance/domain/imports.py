"""Screening an imported serial list (a CMO's or customer's own serials)."""

from __future__ import annotations

from collections.abc import Sequence

from serialtrail_gs1.keys import ALPHANUMERIC, serial_problem
from serialtrail_kit.errors import Violation

from serial_issuance.domain.fpe import FF3_1
from serial_issuance.domain.generation import counters_of
from serial_issuance.domain.rules import DUPLICATE, EU_ALPHANUMERIC, SERIAL, UNIQUE_FOR_GTIN
from serial_issuance.domain.serial_format import SerialFormat
from serial_issuance.domain.serial_pool import SerialPool

MAX_IMPORT = 1_000_000


def stream_id(import_id: str) -> str:
    return f"serial-import-{import_id}"


def screen(
    serials: Sequence[str], fmt: SerialFormat, pool: SerialPool, cipher: FF3_1, *, eu: bool
) -> tuple[list[Violation], dict[str, int]]:
    """Violations, and the pool counters of serials that happen to fit the pool's format
    (those must be reserved so the pool never generates them)."""
    violations: list[Violation] = []
    seen: set[str] = set()
    fitting: list[tuple[int, str]] = []
    for index, serial in enumerate(serials):
        field = f"serials[{index}]"
        problem = serial_problem(serial)
        if problem is not None:
            violations.append(SERIAL.at(field, f"{serial!r} {problem}"))
        elif eu and not ALPHANUMERIC.match(serial):
            violations.append(EU_ALPHANUMERIC.at(field, f"{serial!r}: EU FMD serials are alphanumeric"))
        elif serial in seen:
            violations.append(DUPLICATE.at(field, f"{serial} appears more than once in the list"))
        else:
            seen.add(serial)
            if fmt.fits(serial):
                fitting.append((index, serial))
    counters = counters_of(cipher, fmt, [s for _, s in fitting]).tolist()
    reserved: dict[str, int] = {}
    for (index, serial), counter in zip(fitting, counters, strict=True):
        if counter < pool.next_counter and not pool.is_reserved(counter):
            violations.append(
                UNIQUE_FOR_GTIN.at(f"serials[{index}]", f"{serial} was already issued by a serial request")
            )
        else:
            reserved[serial] = int(counter)
    return violations, reserved
