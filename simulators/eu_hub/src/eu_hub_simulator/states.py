"""Pack and batch states: decommissioning and its undo (ten days, same place), recalls and
withdrawals (for good). Every pack change is kept in pack_history."""

from __future__ import annotations

from eu_hub_simulator.faults import Clock
from eu_hub_simulator.models import BAD_FIELD, BatchChange, PackChange, parse
from eu_hub_simulator.rules import ACTIVE, NOT_UNDOABLE, UNDO_WINDOW_SECONDS, Refused, expired, printable
from eu_hub_simulator.store import Batch, Pack, Store


def batch_usable(batch: Batch, clock: Clock) -> None:
    if batch.state != ACTIVE:
        raise Refused(409, "NMVS_FE_LOT_04", f"batch {batch.batch_id} is {batch.state.lower()}")
    if expired(batch.expiry, clock.today()):
        raise Refused(409, "NMVS_NC_PCK_06", f"batch {batch.batch_id} expired ({batch.expiry})")


def check_change(pack: Pack, state: str) -> None:
    if state == ACTIVE:
        raise Refused(422, BAD_FIELD, "invalid field state: a pack becomes Active again only by an undo")
    if pack.state == state:
        raise Refused(409, "NMVS_NC_PCK_19", f"the pack is already {state}")
    if pack.state != ACTIVE:
        raise Refused(409, "NMVS_NC_PCK_22", f"the pack is {pack.state}, not Active")


def check_undo(pack: Pack, change: PackChange, clock: Clock) -> None:
    if change.state != ACTIVE:
        raise Refused(422, BAD_FIELD, "invalid field state: an undo returns the pack to Active")
    if pack.state in NOT_UNDOABLE:
        raise Refused(409, "NMVS_NC_PCK_07", f"a pack in state {pack.state} cannot be reverted")
    if pack.changed_at is None or clock.now() - pack.changed_at > UNDO_WINDOW_SECONDS:
        raise Refused(409, "NMVS_NC_PCK_08", "the change is more than 10 days old")
    if pack.changed_location != change.location:
        raise Refused(409, "NMVS_NC_PCK_09", "an undo must come from the location that made the change")


def record(store: Store, pid: int, pack: Pack, state: str, location: str, at: float, undo: bool, source: str) -> None:
    db = store.db
    db.execute(
        "UPDATE packs SET state = ?, changed_at = ?, changed_location = ? WHERE pid = ? AND serial = ?",
        (state, at, location, pid, pack.serial),
    )
    db.execute(
        "INSERT INTO pack_history (pid, serial, previous, state, location, at, undo, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (pid, pack.serial, pack.state, state, location, at, int(undo), source),
    )
    store.count_packs(pack.batch.bid, pack.state, -1)
    store.count_packs(pack.batch.bid, state, 1)


def change_pack(store: Store, clock: Clock, code: str, serial: str, body: bytes) -> dict[str, object]:
    change = parse(PackChange, body)
    pid = store.product_id(code)
    if pid is None:
        raise Refused(404, "NMVS_NC_PC_02", f"unknown product code {code!r}")
    pack = store.pack(pid, serial)
    if pack is None:
        raise Refused(404, "NMVS_NC_PCK_01", f"unknown pack {serial!r}")
    if (change.batch_id, change.expiry) != (pack.batch.batch_id, pack.batch.expiry):
        raise Refused(422, "NMVS_FE_LOT_03", "batch id or expiry is not the pack's")
    if not printable(change.location, 100):
        raise Refused(422, BAD_FIELD, "invalid field location: 1 to 100 printable characters")
    if change.undo:
        check_undo(pack, change, clock)
    else:
        check_change(pack, change.state)
    batch_usable(pack.batch, clock)
    record(store, pid, pack, change.state, change.location, clock.now(), change.undo, "mah")
    return {"product_code": code, "serial": serial, "state": change.state, "previous_state": pack.state}


def change_batch(store: Store, code: str, batch_id: str, body: bytes) -> dict[str, object]:
    change = parse(BatchChange, body)
    pid = store.product_id(code)
    batch = store.batch(pid, batch_id) if pid is not None else None
    if batch is None:
        raise Refused(404, "NMVS_FE_LOT_05", f"unknown batch {batch_id!r} of product {code!r}")
    if batch.state not in (ACTIVE, change.state):
        raise Refused(409, "NMVS_FE_LOT_06", f"batch {batch_id} is {batch.state.lower()} for good")
    if batch.state == ACTIVE:
        store.db.execute(
            "UPDATE batches SET state = ?, reason = ? WHERE bid = ?", (change.state, change.reason, batch.bid)
        )
    return {"product_code": code, "batch_id": batch_id, "state": change.state}


def pack_details(store: Store, clock: Clock, code: str, serial: str) -> dict[str, object]:
    """A pack as the hub holds it, with its history (a /_sim read: the MAH's API has none)."""
    pid = store.product_id(code)
    if pid is None:
        raise Refused(404, "NMVS_NC_PC_02", f"unknown product code {code!r}")
    pack = store.pack(pid, serial)
    if pack is None:
        raise Refused(404, "NMVS_NC_PCK_01", f"unknown pack {serial!r}")
    rows = store.db.execute(
        "SELECT previous, state, location, at, undo, source FROM pack_history"
        " WHERE pid = ? AND serial = ? ORDER BY seq",
        (pid, serial),
    )
    history = [
        {"previous_state": p, "state": s, "location": loc, "at": clock.iso(at), "undo": bool(u), "source": src}
        for p, s, loc, at, u, src in rows
    ]
    return {
        "product_code": code,
        "serial": serial,
        "batch_id": pack.batch.batch_id,
        "expiry": pack.batch.expiry,
        "state": pack.state,
        "markets": sorted(pack.markets),
        "history": history,
    }
