"""The SHA-256 hash chain over the log: pure functions, shared by append and verify."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from serialtrail_kit import canonical

GENESIS_HASH = bytes(32)
_NOTHING = object()  # equal to no column's value


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
    return canonical_fields(
        (
            row.global_position,
            row.stream_id,
            row.stream_version,
            str(row.event_id),
            row.event_type,
            row.event_version,
            row.payload,
            row.metadata,
            canonical.format_timestamp(row.recorded_at),
        )
    )


def canonical_fields(fields: tuple[Any, ...]) -> bytes:
    """The hashed bytes of a row given as its fields in column order, the recording time already
    as text, the event id as text or as its UUID (orjson writes a UUID as the same text; the
    append passes it as it is). `ChainWalker.check_rows` builds the same bytes inline."""
    return canonical.dumps(list(fields))


def chain_hash(prev_hash: bytes, row: RowContent) -> bytes:
    return hashlib.sha256(prev_hash + canonical_row(row)).digest()


def fields_hash(prev_hash: bytes, fields: tuple[Any, ...]) -> bytes:
    """`chain_hash` of a row given as `canonical_fields` takes it (the append's hot loop)."""
    return hashlib.sha256(prev_hash + canonical_fields(fields)).digest()


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

    def check_rows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Rows as fields in column order (the event id and the recording time as text, as
        `canonical_row` writes them; payload and metadata as their JSON text) followed by
        prev_hash and hash: `verify.TEXT_COLUMNS`. Plain tuples, no object per row and no list
        rebuilt: verify reads whole logs at close to the speed of hashing."""
        # orjson called as `canonical` calls it (the same parse, the same options), not through
        # canonical's wrappers: three Python calls less per row.
        sha256, loads, dumps, option = hashlib.sha256, orjson.loads, orjson.dumps, canonical.DUMPS_OPTION
        expected_prev, expected_position, checked = self.expected_prev, self.expected_position, 0
        # The events of one append share their metadata: text equal to the row before's is not parsed again.
        metadata_text: object = _NOTHING
        for row in rows:
            position, stream_id, version, event_id, kind, kind_version, payload, metadata, at, prev, stored = row
            if self.first_break is None:
                try:
                    if metadata != metadata_text:
                        metadata_text, parsed_metadata = metadata, loads(metadata)
                    content = dumps(
                        (
                            position,
                            stream_id,
                            version,
                            event_id,
                            kind,
                            kind_version,
                            loads(payload),
                            parsed_metadata,
                            at,
                        ),
                        option=option,
                    )
                except (TypeError, ValueError):  # a NULL or unreadable column: its content hashes to nothing
                    content = b""
                if position != expected_position or prev != expected_prev or sha256(prev + content).digest() != stored:
                    self.first_break = _located(position, prev, expected_position, expected_prev)
            expected_prev, expected_position = stored, position + 1
            checked += 1
        self.expected_prev, self.expected_position = expected_prev, expected_position
        self.checked += checked


def _located(position: int, prev_hash: bytes, expected_position: int, expected_prev: bytes) -> ChainBreak:
    """What broke at a row found wrong: a gap before it, its link to the previous row, or else its content."""
    if position != expected_position:
        return ChainBreak(
            global_position=expected_position,
            reason=f"position {expected_position} is missing (next stored is {position})",
        )
    if prev_hash != expected_prev:
        return ChainBreak(global_position=position, reason="prev_hash does not match the previous row")
    return ChainBreak(global_position=position, reason="row content does not match its hash")
