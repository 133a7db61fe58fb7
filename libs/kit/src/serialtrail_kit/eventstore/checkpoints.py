"""Signed checkpoints of every log's head, kept outside the log's database.

A log's hash chain shows an edit only to someone who knows what the chain's head was: whoever
can rewrite rows can also recompute every hash after them, or cut the newest rows off. So the
head is anchored elsewhere: at least every `every_events` events or `every_seconds` seconds, a
checkpoint (log, position, chain hash, time) is signed with an Ed25519 key the database never
holds and appended to a checkpoint directory (one JSON line per checkpoint, per log). Anyone
with the public key checks a checkpoint offline; `verify-log` checks the log against every
checkpoint it finds and locates truncation, re-chained edits and removed events.

The idea follows Certificate Transparency's signed tree heads and Azure SQL Ledger's digests
stored outside the database; the signing key is a file readable by the application's OS user
only (0600), never a database secret."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from serialtrail_kit import canonical
from serialtrail_kit.db import Pool, ident

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    log: str
    position: int  # the head's global position (positions are gap-free: also the number of events)
    hash: str  # the chain hash of the event at `position` (hex); genesis for an empty log
    at: str  # when it was taken (UTC, ISO 8601)
    key_id: str  # which public key verifies it (SHA-256 of the raw public key, hex, first 16)
    signature: str = ""  # Ed25519 over the canonical JSON of the fields above (base64)

    def signed_bytes(self) -> bytes:
        fields = asdict(self)
        fields.pop("signature")
        return canonical.dumps(fields)

    def to_line(self) -> str:
        return canonical.dumps(asdict(self)).decode() + "\n"

    @classmethod
    def from_line(cls, line: str) -> Checkpoint:
        data = canonical.loads(line)
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The signing key at `path` (PEM, mode 0600), created on first use with its public key
    beside it (`<path>.pub`, readable by anyone who verifies). Processes starting together
    agree on one key: whoever creates the file first wins, the others read it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _create_once(path, pem, 0o600)
    key = _read_key(path)
    _create_once(Path(f"{path}.pub"), public_pem(key.public_key()), 0o644)
    return key


def _create_once(path: Path, content: bytes, mode: int) -> None:
    """Write `content` to a new file at `path` under a temporary name, then link it into place:
    never a half-written file, and never a second one if it exists already."""
    if path.exists():
        return
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    temporary = Path(name)
    os.chmod(temporary, mode)
    with os.fdopen(descriptor, "wb") as out:
        out.write(content)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _read_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def sign(key: Ed25519PrivateKey, log_name: str, position: int, chain_hash: bytes) -> Checkpoint:
    unsigned = Checkpoint(
        log=log_name,
        position=position,
        hash=chain_hash.hex(),
        at=canonical.format_timestamp(datetime.now(UTC)),
        key_id=key_id_of(key.public_key()),
    )
    signature = base64.b64encode(key.sign(unsigned.signed_bytes())).decode()
    return Checkpoint(**{**asdict(unsigned), "signature": signature})


def signature_valid(checkpoint: Checkpoint, keys: Sequence[Ed25519PublicKey]) -> bool:
    for key in keys:
        if key_id_of(key) != checkpoint.key_id:
            continue
        try:
            key.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True
    return False


class CheckpointDirectory:
    """`<dir>/<log>.checkpoints.jsonl`, appended to and flushed to disk line by line."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, log_name: str) -> Path:
        return self.directory / f"{log_name}.checkpoints.jsonl"

    def append(self, checkpoint: Checkpoint) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.path(checkpoint.log).open("a", encoding="utf-8") as out:
            out.write(checkpoint.to_line())
            out.flush()
            os.fsync(out.fileno())

    def read(self, log_name: str) -> list[Checkpoint]:
        return list(read_lines(self.path(log_name)))

    def last(self, log_name: str) -> Checkpoint | None:
        found = self.read(log_name)
        return found[-1] if found else None


def read_lines(path: Path) -> Iterator[Checkpoint]:
    """Each line's checkpoint; a line that is none (edited, truncated, planted) comes as an
    unsigned checkpoint naming the line, which every check then reports as not validly signed."""
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield parsed_or_unreadable(line, f"unreadable line {number} of {path.name}")


def parsed_or_unreadable(text: str, where: str) -> Checkpoint:
    """The checkpoint `text` holds, else an unsigned one saying `where` the unreadable text
    was: every check reports it as not validly signed, none passes over it."""
    try:
        return Checkpoint.from_line(text)
    except (ValueError, KeyError, TypeError):
        return Checkpoint(log="", position=-1, hash="", at=where, key_id="")


async def log_head(pool: Pool, log_name: str) -> tuple[int, bytes]:
    """(position, chain hash) of the log's newest event; (0, genesis) for an empty log."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT global_position, hash FROM {ident(log_name)}.events ORDER BY global_position DESC LIMIT 1"
        )
    return (0, bytes(32)) if row is None else (int(row["global_position"]), bytes(row["hash"]))


class LogRewritten(RuntimeError):
    """A log no longer holds what its last checkpoint vouched for."""


def _rewritten(name: str, written: int, what: str) -> LogRewritten:
    return LogRewritten(
        f"log {name}: the event at position {written}, vouched for by the last checkpoint, {what}; "
        "the log was rewritten below its checkpoint: no checkpoint is signed until this is investigated "
        "(run `serialtrail verify-log`)"
    )


class CheckpointCopy(Protocol):
    """Another place a checkpoint is written to, besides the directory (the service's topic)."""

    async def append(self, checkpoint: Checkpoint) -> None: ...

    async def close(self) -> None: ...


class Checkpointer:
    """Signs and writes a checkpoint of each log whenever its head moved and `every_events`
    events or `every_seconds` seconds have passed since the last one (a runner, supervised
    like the others). The directory is written first and decides where to resume; `copies`
    get the same checkpoint after it."""

    def __init__(
        self,
        pool: Pool,
        logs: Sequence[str],
        key: Ed25519PrivateKey,
        directory: CheckpointDirectory,
        *,
        copies: Sequence[CheckpointCopy] = (),
        every_events: int = 10_000,
        every_seconds: float = 60.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.pool, self.logs, self.key, self.directory = pool, list(logs), key, directory
        self.copies = list(copies)
        self.every_events, self.every_seconds = every_events, every_seconds
        self.poll_interval = max(poll_interval, 1.0)  # checkpoints are due in seconds, not milliseconds
        self.stopping = asyncio.Event()
        self._last: dict[str, tuple[int, float, str]] = {}  # log → position, when, chain hash

    async def run(self) -> None:
        for name in self.logs:
            last = self.directory.last(name)
            self._last[name] = (last.position, 0.0, last.hash) if last else (-1, 0.0, "")
        try:
            while not self.stopping.is_set():
                for name in self.logs:
                    await self.checkpoint(name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.poll_interval)
            for name in self.logs:  # a last one on the way out
                await self.checkpoint(name, force=True)
        finally:
            for copy in self.copies:
                await copy.close()

    def stop(self) -> None:
        self.stopping.set()

    async def _refuse_rewritten(self, name: str, written: int, written_hash: str) -> None:
        """Never vouch for a log that no longer holds what the last checkpoint vouched for:
        that is tampering below the checkpoint, reported (and shown in readiness, since the
        runner fails) instead of being signed over."""
        async with self.pool.acquire() as conn:
            found = await conn.fetchval(f"SELECT hash FROM {ident(name)}.events WHERE global_position = $1", written)
        if found is None or bytes(found).hex() != written_hash:
            raise _rewritten(name, written, "is gone" if found is None else "has another chain hash")

    async def checkpoint(self, name: str, *, force: bool = False) -> Checkpoint | None:
        position, chain_hash = await log_head(self.pool, name)
        written, when, written_hash = self._last.get(name, (-1, 0.0, ""))
        now = asyncio.get_running_loop().time()
        due = position - written >= self.every_events or now - when >= self.every_seconds
        if written > 0 and (position < written or (position == written and chain_hash.hex() != written_hash)):
            raise _rewritten(name, written, "is gone" if position < written else "has another chain hash")
        if position in (0, written) or not (due or force):  # an empty log has nothing to vouch for
            return None
        if written > 0:
            await self._refuse_rewritten(name, written, written_hash)
        checkpoint = sign(self.key, name, position, chain_hash)
        await asyncio.to_thread(self.directory.append, checkpoint)
        self._last[name] = (position, now, checkpoint.hash)
        for copy in self.copies:
            await copy.append(checkpoint)
        return checkpoint
