"""Planning an upload, pure: what is sent in which chunk, what is left out, what is refused."""

from __future__ import annotations

import uuid
from datetime import date

from fmd_hub.domain.uploads import Batch, Known, Plan, check, plan
from hypothesis import given
from hypothesis import strategies as st
from serialtrail_contracts.exception_vocabulary import EuFmdPackState
from serialtrail_contracts.fmd import PART_SERIALS

BATCH = Batch("09506000134352", "L2026A", date(2029, 6, 30))
UPLOAD = uuid.UUID(int=1)


def known(
    commissioned: list[str], before: set[str] | None = None, out: dict[str, EuFmdPackState] | None = None
) -> Known:
    return Known(commissioned, before or set(), out or {}, 3, ("DE",))


def test_rejects_are_left_out_and_other_states_follow_the_upload() -> None:
    out = {"A2": EuFmdPackState.destroyed, "A3": EuFmdPackState.sample, "A4": EuFmdPackState.stolen}
    decided = plan(UPLOAD, BATCH, known(["A4", "A1", "A3", "A2"], out=out), chunk_size=2)
    assert isinstance(decided, Plan)
    assert [(p.chunk, p.serials, p.states) for p in decided.parts] == [
        (0, ("A1", "A3"), {"A3": EuFmdPackState.sample}),
        (1, ("A4",), {"A4": EuFmdPackState.stolen}),
    ]
    assert [(p.state, p.serials) for p in decided.left_out] == [(EuFmdPackState.destroyed, ("A2",))]
    planned = decided.planned
    assert (planned.commissioned, planned.uploaded_before, planned.master_data_version) == (4, 0, 3)
    assert planned.left_out == {EuFmdPackState.destroyed: 1}
    assert planned.states_after_upload == {EuFmdPackState.sample: 1, EuFmdPackState.stolen: 1}


def test_what_was_planned_before_is_not_planned_again() -> None:
    decided = plan(UPLOAD, BATCH, known(["A1", "A2", "A3"], before={"A1", "A2"}), chunk_size=10)
    assert isinstance(decided, Plan)
    assert [p.serials for p in decided.parts] == [("A3",)]
    nothing = plan(UPLOAD, BATCH, known(["A1", "A2"], before={"A1", "A2"}), chunk_size=10)
    assert isinstance(nothing, list)
    assert nothing[0].rule == "something-to-upload"


def test_serials_the_hub_does_not_take_refuse_the_upload_naming_them() -> None:
    refused = plan(UPLOAD, BATCH, known(["OK1", "AB-12", "X_1", "A" * 21]), chunk_size=10)
    assert isinstance(refused, list)
    assert (refused[0].field, refused[0].rule) == ("serials", "hub-serial")
    assert "3 serials" in refused[0].message
    assert "'AB-12'" in refused[0].message


def test_a_batch_the_hub_cannot_take() -> None:
    today = date(2026, 12, 4)
    assert check(BATCH, today) == []
    assert [v.rule for v in check(Batch(BATCH.gtin, "L 2026", BATCH.expiry), today)] == ["hub-batch-id"]
    for lot in ("L/2026", ".", "..", "-._"):  # no path segment of its own at the hub
        assert [v.rule for v in check(Batch(BATCH.gtin, lot, BATCH.expiry), today)] == ["hub-batch-id"], lot
    assert [v.rule for v in check(Batch(BATCH.gtin, "L1", date(2026, 12, 3)), today)] == ["hub-expiry"]
    assert [v.rule for v in check(Batch(BATCH.gtin, "L1", date(2100, 1, 31)), today)] == ["hub-expiry"]


@given(
    st.sets(st.text("ABC0123456789", min_size=1, max_size=6), max_size=300),
    st.integers(min_value=1, max_value=40),
)
def test_every_serial_is_sent_once_in_order_within_chunks(serials: set[str], chunk_size: int) -> None:
    decided = plan(UPLOAD, BATCH, known(list(serials)), chunk_size=chunk_size)
    if not serials:
        assert isinstance(decided, list)
        return
    assert isinstance(decided, Plan)
    sent = [s for part in decided.parts for s in part.serials]
    assert sent == sorted(serials)
    chunks = decided.planned.chunks
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(c.packs <= chunk_size for c in chunks)
    assert sum(c.packs for c in chunks) == len(serials)
    for chunk in chunks:  # a chunk's parts hold exactly its packs, none more than a part holds
        parts = [p for p in decided.parts if p.chunk == chunk.index]
        assert sum(len(p.serials) for p in parts) == chunk.packs
        assert all(len(p.serials) <= PART_SERIALS for p in parts)
