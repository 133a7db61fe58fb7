"""The serial pool's reservations, looked up as sets would be: reservations arrive in imports of
any order and size, and a capture asks about them once per event."""

from __future__ import annotations

import uuid

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from serial_issuance.domain.serial_pool import SerialPool
from serialtrail_contracts.serials import OutputForm, SerialCountersReserved, SerialsAllocated

GTIN = "09506000134352"
COUNTERS = st.lists(st.integers(min_value=0, max_value=5_000), unique=True, max_size=200)


@given(imports=st.lists(COUNTERS, max_size=5), asked=st.lists(st.integers(min_value=0, max_value=6_000), max_size=300))
def test_reserved_counters_are_never_allocated_whatever_the_order_of_imports(
    imports: list[list[int]], asked: list[int]
) -> None:
    pool = SerialPool(GTIN)
    pool.apply(
        SerialsAllocated(
            request_id=uuid.uuid4(),
            gtin=GTIN,
            quantity=5_000,
            first_counter=0,
            end_counter=5_000,
            output_form=OutputForm.serial,
        )
    )
    reserved: set[int] = set()
    for counters in imports:
        fresh = sorted(set(counters) - reserved)
        if fresh:
            pool.apply(SerialCountersReserved(gtin=GTIN, import_id=uuid.uuid4(), counters=tuple(fresh)))
            reserved |= set(fresh)
        mask = pool.allocated_mask(np.array(asked, dtype=np.uint64))
        assert mask.tolist() == [a < 5_000 and a not in reserved for a in asked]
    assert pool.reserved == sorted(reserved)
