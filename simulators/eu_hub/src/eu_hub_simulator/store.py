"""The hub's memory: one SQLite file (WAL), so that whatever the simulator acknowledged survives a
restart or a kill -9. Only one thread ever uses the connection (app.py runs every call on a single
worker thread), which is also what makes an idempotency check, the work and its record atomic.

Packs are keyed by (product, serial) in a WITHOUT ROWID table: the primary key is the only index,
so a 250,000-pack chunk is one B-tree of inserts. Counts per batch and state are kept beside it
instead of being counted from the packs on every read."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    pid INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS product_versions (
    pid INTEGER NOT NULL,
    version INTEGER NOT NULL,
    content BLOB NOT NULL,          -- the body as canonical JSON: a repeat is compared byte for byte
    markets TEXT NOT NULL,          -- space-separated market codes
    PRIMARY KEY (pid, version)
);
CREATE TABLE IF NOT EXISTS batches (
    bid INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    batch_id TEXT NOT NULL,
    expiry TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    UNIQUE (pid, batch_id)
);
CREATE TABLE IF NOT EXISTS batch_counts (
    bid INTEGER NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (bid, state)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
    cid INTEGER PRIMARY KEY,
    bid INTEGER NOT NULL,
    upload_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    packs INTEGER NOT NULL,
    markets TEXT NOT NULL,
    UNIQUE (upload_id, idx)
);
CREATE INDEX IF NOT EXISTS chunks_of_batch ON chunks (bid);
CREATE TABLE IF NOT EXISTS packs (
    pid INTEGER NOT NULL,
    serial TEXT NOT NULL,
    cid INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'Active',
    changed_at REAL,                -- when the last change was made (the undo window counts from it)
    changed_location TEXT,          -- where it was made (an undo must come from the same place)
    PRIMARY KEY (pid, serial)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pack_history (
    seq INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    serial TEXT NOT NULL,
    previous TEXT NOT NULL,
    state TEXT NOT NULL,
    location TEXT NOT NULL,
    at REAL NOT NULL,
    undo INTEGER NOT NULL,
    source TEXT NOT NULL            -- 'mah' (the wire API) or 'verify' (a scan in a market)
);
CREATE INDEX IF NOT EXISTS history_of_pack ON pack_history (pid, serial);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the cursor: never reused, even after the last row goes
    alert_id TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    product_code TEXT NOT NULL,
    batch_id TEXT,
    serial TEXT,
    market TEXT,
    location TEXT,
    raised_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    digest BLOB NOT NULL,           -- sha256 of method, path and body bytes
    status INTEGER NOT NULL,
    answer BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class Stored:
    """An answer recorded under an idempotency key."""

    digest: bytes
    status: int
    answer: bytes


@dataclass(frozen=True)
class Batch:
    bid: int
    batch_id: str
    expiry: str
    state: str


@dataclass(frozen=True)
class Pack:
    serial: str
    state: str
    changed_at: float | None
    changed_location: str | None
    batch: Batch
    markets: frozenset[str]


class Store:
    def __init__(self, path: Path) -> None:
        # isolation_level=None: transactions are begun and ended here, explicitly, never implicitly.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives the process being killed (the crash the tests make);
        # only a power cut could lose the last ones, which a simulator can afford.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA cache_size=-65536")
        self.db.execute("PRAGMA temp_store=MEMORY")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """All or nothing inside a transaction: a refusal undoes the work but not the transaction,
        which still records the refusal under its idempotency key."""
        self.db.execute("SAVEPOINT work")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO work")
            self.db.execute("RELEASE work")
            raise
        self.db.execute("RELEASE work")

    # --- idempotency --------------------------------------------------------------------------
    def stored_answer(self, key: str) -> Stored | None:
        row = self.db.execute("SELECT digest, status, answer FROM idempotency WHERE key = ?", (key,)).fetchone()
        return Stored(row[0], row[1], row[2]) if row else None

    def store_answer(self, key: str, stored: Stored) -> None:
        self.db.execute(
            "INSERT INTO idempotency (key, digest, status, answer) VALUES (?, ?, ?, ?)",
            (key, stored.digest, stored.status, stored.answer),
        )

    # --- lookups shared by the operations -----------------------------------------------------
    def product_id(self, code: str) -> int | None:
        row = self.db.execute("SELECT pid FROM products WHERE code = ?", (code,)).fetchone()
        return int(row[0]) if row else None

    def batch(self, pid: int, batch_id: str) -> Batch | None:
        row = self.db.execute(
            "SELECT bid, batch_id, expiry, state FROM batches WHERE pid = ? AND batch_id = ?", (pid, batch_id)
        ).fetchone()
        return Batch(*row) if row else None

    def pack(self, pid: int, serial: str) -> Pack | None:
        row = self.db.execute(
            "SELECT p.state, p.changed_at, p.changed_location, b.bid, b.batch_id, b.expiry, b.state, c.markets"
            " FROM packs p JOIN chunks c ON c.cid = p.cid JOIN batches b ON b.bid = c.bid"
            " WHERE p.pid = ? AND p.serial = ?",
            (pid, serial),
        ).fetchone()
        if row is None:
            return None
        batch = Batch(row[3], row[4], row[5], row[6])
        return Pack(serial, row[0], row[1], row[2], batch, frozenset(row[7].split()))

    def count_packs(self, bid: int, state: str, delta: int) -> None:
        self.db.execute(
            "INSERT INTO batch_counts (bid, state, n) VALUES (?, ?, ?)"
            " ON CONFLICT (bid, state) DO UPDATE SET n = n + excluded.n",
            (bid, state, delta),
        )

    def total_packs(self) -> int:
        return int(self.db.execute("SELECT coalesce(sum(packs), 0) FROM chunks").fetchone()[0])
