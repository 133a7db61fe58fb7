"""Sets of pool counters as fixed-size bitmap chunks.

Commissioning 10,000 serials must not mean 10,000 index entries: a serial from the pool
is identified by its counter, and counters group into chunks of CHUNK_BITS, so a batch
touches a handful of 1 KiB rows instead. Pure numpy; callers load and store the rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

CHUNK_BITS = 8192
CHUNK_BYTES = CHUNK_BITS // 8
U64 = NDArray[np.uint64]


def chunks_of(counters: U64) -> list[int]:
    return [int(c) for c in np.unique(counters // np.uint64(CHUNK_BITS))]


def ranges_of(counters: U64) -> list[tuple[int, int]]:
    """Sorted half-open ranges [start, end) covering exactly the given (distinct) counters."""
    if counters.size == 0:
        return []
    ordered = np.sort(counters).astype(np.int64)
    breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
    starts = np.concatenate(([ordered[0]], ordered[breaks]))
    ends = np.concatenate((ordered[breaks - 1], [ordered[-1]])) + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def counters_of_ranges(ranges: list[tuple[int, int]] | list[list[int]]) -> U64:
    if not ranges:
        return np.zeros(0, dtype=np.uint64)
    return np.concatenate([np.arange(a, b, dtype=np.uint64) for a, b in ranges])


@dataclass(frozen=True)
class Marked:
    already_set: NDArray[np.bool_]  # per input counter
    chunks: dict[int, bytes]  # chunk number → new bitmap


def mark(existing: Mapping[int, bytes], counters: U64) -> Marked:
    """Set the bits of `counters` in the chunks, reporting which were set already."""
    chunk_ids = np.array(chunks_of(counters), dtype=np.uint64)
    matrix = np.zeros((chunk_ids.size, CHUNK_BYTES), dtype=np.uint8)
    for row, chunk in enumerate(chunk_ids.tolist()):
        if chunk in existing:
            matrix[row] = np.frombuffer(existing[chunk], dtype=np.uint8)
    rows = np.searchsorted(chunk_ids, counters // np.uint64(CHUNK_BITS))
    offsets = (counters % np.uint64(CHUNK_BITS)).astype(np.int64)
    byte, bit = offsets >> 3, (offsets & 7).astype(np.uint8)
    already = ((matrix[rows, byte] >> bit) & 1).astype(bool)
    np.bitwise_or.at(matrix, (rows, byte), (np.uint8(1) << bit).astype(np.uint8))
    return Marked(already, {int(c): matrix[i].tobytes() for i, c in enumerate(chunk_ids.tolist())})


def contains(bitmap: bytes, counter: int) -> bool:
    offset = counter % CHUNK_BITS
    return bool((bitmap[offset >> 3] >> (offset & 7)) & 1)
