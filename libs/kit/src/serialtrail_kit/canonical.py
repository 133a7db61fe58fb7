"""Canonical JSON: the one byte form used for hashing and for storing payloads.

Keys are sorted at every level so that the bytes depend only on the content, not on
insertion order, and therefore survive a round trip through PostgreSQL's jsonb.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

# orjson's options for the canonical bytes: `dumps` passes them, and so does the verifier's hot
# loop, which calls orjson itself (hashchain.ChainWalker.check_rows) to save a call per row.
DUMPS_OPTION = orjson.OPT_SORT_KEYS


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=DUMPS_OPTION)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def format_timestamp(moment: datetime) -> str:
    """UTC with microseconds and a Z suffix: the only timestamp text we hash or publish."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def reject_floats(value: Any, path: str = "$") -> None:
    """Floats do not survive jsonb exactly (1e16 comes back as an integer), which would
    break the hash chain on verification. Payloads carry decimals as strings instead."""
    if isinstance(value, float):
        raise TypeError(f"{path}: floats are not allowed in event payloads; use a decimal string")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(item, str):
                reject_floats(item, f"{path}.{key}")
    elif isinstance(value, list) and value and not isinstance(value[0], str):
        for index, item in enumerate(value):
            reject_floats(item, f"{path}[{index}]")
