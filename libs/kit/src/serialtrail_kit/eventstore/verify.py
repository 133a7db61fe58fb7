"""Walk the hash chain of a service's log, check it against the signed checkpoints of its
head (`checkpoints`), and report the first broken position and every checkpoint it fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from serialtrail_kit.db import Pool, ident
from serialtrail_kit.eventstore.checkpoints import Checkpoint, signature_valid
from serialtrail_kit.eventstore.hashchain import GENESIS_HASH, ChainBreak, ChainWalker

# The stored columns in `canonical_row`'s order, the event id and the recording time written
# by PostgreSQL as `canonical_row` writes them (str(UUID); canonical.format_timestamp): done on
# the database's core, they cost the verifier nothing. A test pins the two writings together.
# Payload and metadata come as their JSON text, parsed by the walker itself (`ChainWalker.check_rows`):
# no codec call per value in the driver, and no chunk of dicts held alive for the garbage collector
# to walk again and again. The database only writes the text; the walker still rebuilds the
# canonical bytes from the parsed content and hashes them itself.
RECORDED_AT_TEXT = """to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
TEXT_COLUMNS = (
    "global_position, stream_id, stream_version, event_id::text, event_type, event_version, "
    f"payload::text, metadata::text, {RECORDED_AT_TEXT}, prev_hash, hash"
)

Progress = Callable[[int, int], None]
FIRST_CHUNK = 250  # rows in the first fetch of a walk; `chunk` bounds the later ones


@dataclass(frozen=True)
class VerifyReport:
    schema: str
    checked: int
    head: int
    first_break: ChainBreak | None
    checkpoints: int = 0  # signed checkpoints checked against the log
    anchored: int = 0  # the highest position a checkpoint still vouches for
    findings: tuple[str, ...] = ()  # every checkpoint the log fails, located

    @property
    def ok(self) -> bool:
        return self.first_break is None and not self.findings

    @property
    def unanchored(self) -> bool:
        """Events, yet no checkpoint vouches for them: a running service writes one at least every
        CHECKPOINT_EVERY_SECONDS and at shutdown, so theirs were removed or are kept elsewhere."""
        return self.head > 0 and self.checkpoints == 0


async def verify_log(
    pool: Pool,
    schema: str,
    *,
    checkpoints: Sequence[Checkpoint] = (),
    keys: Sequence[Ed25519PublicKey] = (),
    chunk: int = 5000,
    progress: Progress | None = None,
) -> VerifyReport:
    table = f"{ident(schema)}.events"
    walker = ChainWalker()
    wanted = {c.position for c in checkpoints}
    hashes: dict[int, bytes] = {0: GENESIS_HASH}
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        head = int(await conn.fetchval(f"SELECT coalesce(max(global_position), 0) FROM {table}"))
        cursor = await conn.cursor(f"SELECT {TEXT_COLUMNS} FROM {table} ORDER BY global_position")
        # The next chunk is asked for before this one is hashed: the database reads it meanwhile.
        # The first is small and each is at most twice the one before (up to `chunk`): hashing
        # starts at once and the database stays about a chunk ahead, also for a short log.
        size = min(chunk, FIRST_CHUNK)
        fetching = asyncio.ensure_future(cursor.fetch(size))
        try:
            while rows := await fetching:
                size = min(chunk, 2 * size)
                fetching = asyncio.ensure_future(cursor.fetch(size))
                await asyncio.sleep(0)  # lets the request go out
                walker.check_rows(rows)
                if wanted:
                    hashes |= {row[0]: row[-1] for row in rows if row[0] in wanted}
                if progress is not None:
                    progress(walker.checked, head)
        finally:
            fetching.cancel()  # only when stopped early: a finished fetch ignores it
    if progress is not None and walker.checked == 0:
        progress(0, head)
    findings, anchored = against_checkpoints(schema, checkpoints, keys, head, hashes)
    return VerifyReport(schema, walker.checked, head, walker.first_break, len(checkpoints), anchored, findings)


def against_checkpoints(
    schema: str,
    checkpoints: Sequence[Checkpoint],
    keys: Sequence[Ed25519PublicKey],
    head: int,
    hashes: dict[int, bytes],
) -> tuple[tuple[str, ...], int]:
    """What the log fails of its checkpoints, each located, and the highest position still
    vouched for. A checkpoint of another log or with a bad signature is a finding too: it is
    evidence someone tampered with the checkpoints themselves."""
    findings: list[str] = []
    anchored = 0
    for checkpoint in sorted(checkpoints, key=lambda c: c.position):
        when = f"checkpoint of {checkpoint.at} (position {checkpoint.position})"
        if checkpoint.log != schema or not signature_valid(checkpoint, keys):
            findings.append(f"{when}: not validly signed for log {schema} by a known key")
        elif checkpoint.position > head:
            missing = f"{head + 1}..{checkpoint.position}"
            findings.append(f"{when}: the log ends at {head}; events {missing} were removed (truncated)")
        elif hashes.get(checkpoint.position, b"").hex() != checkpoint.hash:
            findings.append(
                f"{when}: the event there is not the one signed for; the log was rewritten at or before "
                f"position {checkpoint.position} and after {anchored}, the last checkpoint that still matches"
            )
        elif not findings:
            anchored = checkpoint.position
    return tuple(findings), anchored
