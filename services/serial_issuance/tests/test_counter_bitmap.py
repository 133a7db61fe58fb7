from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from serial_issuance.domain.counter_bitmap import contains, counters_of_ranges, mark, ranges_of

COUNTER_SETS = st.sets(st.integers(0, 60_000), max_size=300)


@given(COUNTER_SETS)
def test_ranges_cover_exactly_the_counters(counters: set[int]) -> None:
    ranges = ranges_of(np.array(sorted(counters), dtype=np.uint64))
    assert sorted(counters_of_ranges(ranges).tolist()) == sorted(counters)
    assert all(a < b for a, b in ranges)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(ranges))  # maximal, disjoint


@given(COUNTER_SETS, COUNTER_SETS)
def test_marking_reports_exactly_the_counters_already_set(first: set[int], second: set[int]) -> None:
    marked = mark({}, np.array(sorted(first), dtype=np.uint64))
    again = mark(marked.chunks, np.array(sorted(second), dtype=np.uint64))
    assert {c for c, hit in zip(sorted(second), again.already_set.tolist(), strict=True) if hit} == first & second
    merged = {**marked.chunks, **again.chunks}
    for counter in range(0, 60_001, 997):
        in_chunk = merged.get(counter // 8192)
        assert (in_chunk is not None and contains(in_chunk, counter)) == (counter in first | second)
