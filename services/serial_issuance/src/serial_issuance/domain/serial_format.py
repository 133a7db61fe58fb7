"""The shape of a product's serials and how a block of them is rendered as bytes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from serialtrail_contracts.serials import SerialAlphabet

ALPHABETS = {
    SerialAlphabet.numeric: "0123456789",
    SerialAlphabet.alphanumeric: "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
}
# EU FMD (Delegated Regulation 2016/161, Art. 4): the chance of guessing a valid serial
# must stay below 1/10,000, i.e. issued * 10,000 < number of possible serials.
GUESS_ODDS = 10_000
MIN_DOMAIN = 1_000_000  # FF3-1's minimum domain size


@dataclass(frozen=True)
class SerialFormat:
    length: int
    alphabet: SerialAlphabet

    @property
    def characters(self) -> str:
        return ALPHABETS[self.alphabet]

    @property
    def radix(self) -> int:
        return len(self.characters)

    @property
    def capacity(self) -> int:
        return int(self.radix**self.length)

    @property
    def max_issuable(self) -> int:
        """Largest total that keeps issued / capacity strictly below 1 / GUESS_ODDS
        (capped at 2^53 so counters stay exact in JSON and in 64-bit arithmetic)."""
        return min((self.capacity - 1) // GUESS_ODDS, 2**53)

    def problem(self) -> str | None:
        if not 1 <= self.length <= 20:
            return "serial length must be 1 to 20 characters"
        if self.capacity < MIN_DOMAIN:
            smallest = next(n for n in range(1, 21) if self.radix**n >= MIN_DOMAIN)
            return (
                f"a {self.length}-character {self.alphabet.value} serial leaves too few possible serials "
                f"to randomise (at least {smallest} characters are needed)"
            )
        return None

    def fits(self, serial: str) -> bool:
        return len(serial) == self.length and all(c in self.characters for c in serial)

    def lookup_table(self) -> NDArray[np.uint8]:
        return np.frombuffer(self.characters.encode(), dtype=np.uint8)

    def to_digits(self, serials: list[str]) -> NDArray[np.uint8]:
        """Serials that `fits` → digit matrix (inverse of the lookup table)."""
        inverse = np.zeros(256, dtype=np.uint8)
        inverse[self.lookup_table()] = np.arange(self.radix, dtype=np.uint8)
        raw = np.frombuffer("".join(serials).encode(), dtype=np.uint8).reshape(len(serials), self.length)
        return inverse[raw]


def render_lines(chars: NDArray[np.uint8], parts: tuple[bytes, ...]) -> bytes:
    """One line per row: parts[0] + serial + parts[1] + serial + … + parts[-1] + newline.
    Built as one byte matrix, so a million lines cost a few numpy copies."""
    rows, width = chars.shape
    line = sum(len(p) for p in parts) + width * (len(parts) - 1) + 1
    out = np.empty((rows, line), dtype=np.uint8)
    column = 0
    for index, part in enumerate(parts):
        if part:
            out[:, column : column + len(part)] = np.frombuffer(part, dtype=np.uint8)
            column += len(part)
        if index < len(parts) - 1:
            out[:, column : column + width] = chars
            column += width
    out[:, column] = ord("\n")
    return out.tobytes()
