"""Batch uploads: one chunk of a batch's packs at a time, all or nothing, and the batch as the hub
holds it. A chunk may carry 250,000 serials: it is read with orjson, checked by hand and written by
one executemany in the request's transaction."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from eu_hub_simulator.models import BAD_FIELD, parse_json
from eu_hub_simulator.rules import (
    ACTIVE,
    MAX_DETAILS,
    MAX_SERIALS_PER_CHUNK,
    PACK_STATES,
    Refused,
    bad_serials,
    batch_id_ok,
    expiry_date,
    printable,
    repeated,
)
from eu_hub_simulator.store import Batch, Store

CHUNK_FIELDS = frozenset({"expiry", "master_data_version", "markets", "upload_id", "chunk", "serials"})


def _wrong(name: str, expected: str, value: object) -> Refused:
    return Refused(422, BAD_FIELD, f"invalid field {name}: expected {expected}, got {value!r:.40}")


def _str(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise _wrong(name, "a string", value)
    return value


def _int(data: dict[str, Any], name: str, where: str = "") -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):  # bool is an int to Python, never to the hub
        raise _wrong(where + name, "an integer", value)
    return value


def _list(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if not isinstance(value, list):
        raise _wrong(name, "a list", value)
    return value


@dataclass(frozen=True)
class Chunk:
    expiry: str
    master_data_version: int
    markets: list[Any]
    upload_id: str
    index: int
    count: int
    serials: list[Any]


def read_chunk(body: bytes) -> Chunk:
    data = parse_json(body)
    if not isinstance(data, dict):
        raise _wrong("body", "an object", data)
    unknown = sorted(set(data) - CHUNK_FIELDS)
    if unknown:
        raise Refused(422, BAD_FIELD, f"invalid field {unknown[0]}: not a field of a batch upload", unknown)
    chunk = data.get("chunk")
    if not isinstance(chunk, dict):
        raise _wrong("chunk", "an object", chunk)
    upload_id = _str(data, "upload_id")
    if not printable(upload_id, 100):
        raise Refused(422, BAD_FIELD, "invalid field upload_id: 1 to 100 printable characters")
    return Chunk(
        expiry=_str(data, "expiry"),
        master_data_version=_int(data, "master_data_version"),
        markets=_list(data, "markets"),
        upload_id=upload_id,
        index=_int(chunk, "index", "chunk."),
        count=_int(chunk, "count", "chunk."),
        serials=_list(data, "serials"),
    )


def check_product_and_batch(store: Store, code: str, batch_id: str, chunk: Chunk) -> tuple[int, Batch | None]:
    """The rules about what the chunk belongs to, in the hub's order; the product's id and the
    batch when it is already known."""
    pid = store.product_id(code)
    if pid is None:
        raise Refused(404, "NMVS_NC_PC_02", f"unknown product code {code!r}")
    row = store.db.execute(
        "SELECT markets FROM product_versions WHERE pid = ? AND version = ?", (pid, chunk.master_data_version)
    ).fetchone()
    if row is None:
        raise Refused(422, "NMVS_FE_MD_05", f"the product has no master data version {chunk.master_data_version}")
    allowed = set(row[0].split())
    outside = [repr(m) for m in chunk.markets if not isinstance(m, str) or m not in allowed]
    if not chunk.markets or outside:
        raise Refused(
            422, "NMVS_FE_MD_02", "markets must be some of the master data version's: " + ", ".join(outside), outside
        )
    if not batch_id_ok(batch_id):
        raise Refused(422, "NMVS_FE_LOT_01", "a batch id is 1 to 20 characters of 0-9 A-Z a-z - . / _")
    if expiry_date(chunk.expiry) is None:
        raise Refused(422, "NMVS_FE_LOT_02", f"expiry {chunk.expiry!r} is no YYMMDD date")
    batch = store.batch(pid, batch_id)
    if batch is not None and batch.expiry != chunk.expiry:
        raise Refused(
            422, "NMVS_FE_LOT_03", f"batch {batch_id} is known with expiry {batch.expiry}, not {chunk.expiry}"
        )
    if batch is not None and batch.state != ACTIVE:
        raise Refused(409, "NMVS_FE_LOT_04", f"batch {batch_id} is {batch.state.lower()}")
    return pid, batch


def check_serials(chunk: Chunk) -> None:
    if not 1 <= len(chunk.serials) <= MAX_SERIALS_PER_CHUNK:
        raise Refused(422, "NMVS_NC_PCK_03", f"a chunk holds 1 to {MAX_SERIALS_PER_CHUNK} serials")
    wrong = bad_serials(chunk.serials)
    if wrong:
        raise Refused(422, "NMVS_NC_PCK_03", "serials are 1 to 20 characters of 0-9 A-Z a-z", wrong)
    if len(set(chunk.serials)) != len(chunk.serials):
        raise Refused(422, "NMVS_NC_PCK_04", "serials given more than once in the chunk", repeated(chunk.serials))
    if not 0 <= chunk.index < chunk.count:
        raise Refused(422, "NMVS_FE_CHUNK_01", f"chunk index {chunk.index} is not within 0 and count {chunk.count}")


def add_chunk(store: Store, code: str, batch_id: str, body: bytes) -> dict[str, object]:
    chunk = read_chunk(body)
    pid, batch = check_product_and_batch(store, code, batch_id, chunk)
    check_serials(chunk)
    db = store.db
    if db.execute("SELECT 1 FROM chunks WHERE upload_id = ? AND idx = ?", (chunk.upload_id, chunk.index)).fetchone():
        raise Refused(409, "NMVS_FE_CHUNK_02", f"chunk {chunk.index} of upload {chunk.upload_id} was accepted before")
    if batch is None:
        bid = int(
            db.execute(
                "INSERT INTO batches (pid, batch_id, expiry, state) VALUES (?, ?, ?, ?) RETURNING bid",
                (pid, batch_id, chunk.expiry, ACTIVE),
            ).fetchone()[0]
        )
    else:
        bid = batch.bid
    cid = db.execute(
        "INSERT INTO chunks (bid, upload_id, idx, packs, markets) VALUES (?, ?, ?, ?, ?) RETURNING cid",
        (bid, chunk.upload_id, chunk.index, len(chunk.serials), " ".join(chunk.markets)),
    ).fetchone()[0]
    insert_packs(store, pid, cid, chunk.serials)
    store.count_packs(bid, ACTIVE, len(chunk.serials))
    in_batch = db.execute("SELECT sum(packs) FROM chunks WHERE bid = ?", (bid,)).fetchone()[0]
    return {"accepted": len(chunk.serials), "upload_id": chunk.upload_id, "chunk": chunk.index, "batch_packs": in_batch}


def insert_packs(store: Store, pid: int, cid: int, serials: list[str]) -> None:
    """Optimistic: insert, and only when a serial already exists find out which ones."""
    db = store.db
    db.execute("SAVEPOINT packs")
    try:
        db.executemany("INSERT INTO packs (pid, serial, cid) VALUES (?, ?, ?)", ((pid, s, cid) for s in serials))
    except sqlite3.IntegrityError:
        db.execute("ROLLBACK TO packs")  # the packs written before the clash go too
        db.execute("RELEASE packs")
        existing = already_there(store, pid, serials)
        raise Refused(
            409,
            "NMVS_NC_PCK_05",
            f"{len(existing)} of the chunk's packs already exist on the hub; nothing of the chunk was stored",
            existing[:MAX_DETAILS],
        ) from None
    db.execute("RELEASE packs")


def already_there(store: Store, pid: int, serials: list[str]) -> list[str]:
    db = store.db
    db.execute("CREATE TEMP TABLE IF NOT EXISTS incoming (serial TEXT PRIMARY KEY) WITHOUT ROWID")
    db.executemany("INSERT INTO incoming (serial) VALUES (?)", ((s,) for s in serials))
    found = db.execute("SELECT i.serial FROM incoming i JOIN packs p ON p.pid = ? AND p.serial = i.serial", (pid,))
    existing = [row[0] for row in found]
    db.execute("DELETE FROM incoming")
    return existing


def get_batch(store: Store, code: str, batch_id: str) -> dict[str, object]:
    pid = store.product_id(code)
    batch = store.batch(pid, batch_id) if pid is not None else None
    if batch is None:
        raise Refused(404, "NMVS_FE_LOT_05", f"unknown batch {batch_id!r} of product {code!r}")
    by_state = dict.fromkeys(PACK_STATES, 0)
    for state, n in store.db.execute("SELECT state, n FROM batch_counts WHERE bid = ?", (batch.bid,)):
        by_state[state] = n
    uploads: dict[str, dict[str, Any]] = {}
    rows = store.db.execute(
        "SELECT upload_id, idx, packs FROM chunks WHERE bid = ? ORDER BY upload_id, idx", (batch.bid,)
    )
    for upload_id, index, packs in rows:
        upload = uploads.setdefault(upload_id, {"chunks": [], "packs": 0})
        upload["chunks"].append(index)
        upload["packs"] += packs
    return {
        "product_code": code,
        "batch_id": batch_id,
        "expiry": batch.expiry,
        "state": batch.state,
        "packs": sum(by_state.values()),
        "by_state": by_state,
        "uploads": uploads,
    }
