"""The serial pool of one GTIN (stream `serial-pool-<gtin>`).

Every counter below `next_counter` is either allocated to a serial request or reserved
by an import; serials are FF3-1 encryptions of counters, so allocations never overlap
and a presented serial maps back to its counter in O(1).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

import numpy as np
from numpy.typing import NDArray
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.serials import (
    OutputForm,
    SerialCountersReserved,
    SerialPoolOpened,
    SerialsAllocated,
)
from serialtrail_kit.errors import Conflict, InvalidInput

from serial_issuance.domain.rules import GUESS_PROBABILITY, RANGE, SERIAL_KEY
from serial_issuance.domain.serial_format import GUESS_ODDS, SerialFormat

MAX_REQUEST = 1_000_000


def stream_id(gtin: str) -> str:
    return f"serial-pool-{gtin}"


@dataclass
class Allocation:
    request_id: UUID
    first: int
    end: int
    lot: str | None


@dataclass
class SerialPool:
    gtin: str
    opened: SerialPoolOpened | None = None
    next_counter: int = 0
    issued: int = 0
    reserved: list[int] = field(default_factory=list)  # sorted
    allocations: list[Allocation] = field(default_factory=list)
    _reserved_array: NDArray[np.uint64] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def fold(cls, gtin: str, events: Iterable[EventContract]) -> SerialPool:
        pool = cls(gtin)
        for event in events:
            pool.apply(event)
        return pool

    def apply(self, event: EventContract) -> None:
        if isinstance(event, SerialPoolOpened):
            self.opened = event
        elif isinstance(event, SerialsAllocated):
            self.allocations.append(Allocation(event.request_id, event.first_counter, event.end_counter, event.lot))
            self.next_counter = event.end_counter
            self.issued += event.quantity
        elif isinstance(event, SerialCountersReserved):
            # Two sorted runs merged in one pass (an import reserves its counters by the hundred thousand).
            self.reserved = sorted([*self.reserved, *event.counters])
            self._reserved_array = None
            self.issued += len(event.counters)

    def open_if_needed(self, fmt: SerialFormat, key_id: str) -> list[EventContract]:
        if self.opened is not None:
            if self.opened.key_id != key_id:
                raise Conflict(
                    f"the configured serial key (id {key_id}) is not the key the pool of {self.gtin} was opened "
                    f"with (id {self.opened.key_id}); issuing with it could repeat serials",
                    [SERIAL_KEY.at("gtin", "serial key changed since the pool was opened")],
                )
            return []
        opened = SerialPoolOpened(
            gtin=self.gtin,
            serial_length=fmt.length,
            serial_alphabet=fmt.alphabet,
            key_id=key_id,
            capacity=str(fmt.capacity),
            max_issuable=fmt.max_issuable,
        )
        self.apply(opened)
        return [opened]

    def allocate(
        self, fmt: SerialFormat, quantity: int, lot: str | None, form: OutputForm, request_id: UUID
    ) -> SerialsAllocated:
        if not 1 <= quantity <= MAX_REQUEST:
            raise InvalidInput(
                f"quantity must be 1 to {MAX_REQUEST:,}",
                [RANGE.at("quantity", f"must be between 1 and {MAX_REQUEST:,}")],
            )
        self._check_guess_odds(fmt, quantity)
        first = self.next_counter
        end, skipped = self._range_avoiding_reserved(first, quantity)
        event = SerialsAllocated(
            request_id=request_id,
            gtin=self.gtin,
            lot=lot,
            quantity=quantity,
            first_counter=first,
            end_counter=end,
            skipped_counters=tuple(skipped),
            output_form=form,
        )
        self.apply(event)
        return event

    def _check_guess_odds(self, fmt: SerialFormat, quantity: int) -> None:
        remaining = fmt.max_issuable - self.issued
        if quantity > remaining:
            message = (
                f"issuing {quantity:,} more serials would make the chance of guessing a valid "
                f"{fmt.length}-character {fmt.alphabet.value} serial of {self.gtin} reach 1 in "
                f"{fmt.capacity // (self.issued + quantity):,} (EU FMD requires below 1 in {GUESS_ODDS:,}); "
                f"at most {max(remaining, 0):,} more can be issued with this serial format"
            )
            raise InvalidInput(message, [GUESS_PROBABILITY.at("quantity", message)])

    def _range_avoiding_reserved(self, first: int, quantity: int) -> tuple[int, list[int]]:
        end = first + quantity
        while True:
            lo, hi = bisect.bisect_left(self.reserved, first), bisect.bisect_left(self.reserved, end)
            skipped = self.reserved[lo:hi]
            if end - first - len(skipped) == quantity:
                return end, skipped
            end = first + quantity + len(skipped)

    def reserve(self, counters: list[int], import_id: UUID) -> SerialCountersReserved:
        event = SerialCountersReserved(gtin=self.gtin, import_id=import_id, counters=tuple(sorted(counters)))
        self.apply(event)
        return event

    def allocated_mask(self, counters: NDArray[np.uint64], lot: str | None = None) -> NDArray[np.bool_]:
        """True where a counter belongs to a serial request (not an import reservation) that
        may be commissioned into `lot`: serials requested for a batch belong to that batch."""
        mask = counters < np.uint64(self.next_counter)
        if self.reserved:
            mask &= ~self._is_reserved(counters)
        other = sorted((a.first, a.end) for a in self.allocations if a.lot is not None and a.lot != lot)
        if lot is not None and other:
            firsts = np.array([first for first, _ in other], dtype=np.uint64)
            ends = np.array([end for _, end in other], dtype=np.uint64)
            at = np.searchsorted(firsts, counters, side="right") - 1
            mask &= ~((at >= 0) & (counters < ends[np.maximum(at, 0)]))
        return mask

    def _is_reserved(self, counters: NDArray[np.uint64]) -> NDArray[np.bool_]:
        """Looked up in the sorted reservations (kept as an array between lookups: a capture asks
        once per event, of the same pool)."""
        if self._reserved_array is None:
            self._reserved_array = np.array(self.reserved, dtype=np.uint64)
        reserved = self._reserved_array
        at = np.minimum(np.searchsorted(reserved, counters), len(reserved) - 1)
        found: NDArray[np.bool_] = reserved[at] == counters
        return found

    def is_reserved(self, counter: int) -> bool:
        index = bisect.bisect_left(self.reserved, counter)
        return index < len(self.reserved) and self.reserved[index] == counter
