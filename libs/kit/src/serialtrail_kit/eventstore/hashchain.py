"""The SHA-256 hash chain over the log: pure functions, shared by append and verify."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from serialtrail_kit import canonical

GENESIS_HASH = bytes(32)


@dataclass(frozen=True, kw_only=True)
class RowContent:
    """Every stored column except the hashes themselves."""

    global_position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    event_type: str
    event_version: int
    payload: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime


def canonical_row(row: RowContent) -> bytes:
    return canonical.dumps(
        [
            row.global_position,
            row.stream_id,
            row.stream_version,
            str(row.event_id),
            row.event_type,
            row.event_version,
            row.payload,
            row.metadata,
            canonical.format_timestamp(row.recorded_at),
        ]
    )


def chain_hash(prev_hash: bytes, row: RowContent) -> bytes:
    return hashlib.sha256(prev_hash + canonical_row(row)).digest()


@dataclass(frozen=True, kw_only=True)
class ChainBreak:
    global_position: int
    reason: str


@dataclass
class ChainWalker:
    """Feeds rows in position order; remembers the first break it sees."""

    expected_prev: bytes = GENESIS_HASH
    expected_position: int = 1
    checked: int = 0
    first_break: ChainBreak | None = None

    def check(self, row: RowContent, prev_hash: bytes, stored_hash: bytes) -> None:
        if self.first_break is None:
            self.first_break = self._problem(row, prev_hash, stored_hash)
        self.expected_prev = stored_hash
        self.expected_position = row.global_position + 1
        self.checked += 1

    def _problem(self, row: RowContent, prev_hash: bytes, stored_hash: bytes) -> ChainBreak | None:
        position = row.global_position
        if position != self.expected_position:
            return ChainBreak(
                global_position=self.expected_position,
                reason=f"position {self.expected_position} is missing (next stored is {position})",
            )
        if prev_hash != self.expected_prev:
            return ChainBreak(global_position=position, reason="prev_hash does not match the previous row")
        if chain_hash(prev_hash, row) != stored_hash:
            return ChainBreak(global_position=position, reason="row content does not match its hash")
        return None
