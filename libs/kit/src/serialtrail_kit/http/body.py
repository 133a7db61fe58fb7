"""What every request body shares. FastAPI validates the decoded JSON in pydantic's lax mode,
which would take `true` for the number 1 and `0` for 1970-01-01T00:00:00Z; a request body
says what it means instead: unknown fields, numbers that are not numbers and times that are
not RFC 3339 strings with an offset are refused, naming the field."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


_RFC3339_START = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _written_as_text(value: Any) -> Any:
    """Lax parsing would also read a number, or a string of digits, as seconds since 1970."""
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339_START.match(value)):
        return value
    raise ValueError("a time is an RFC 3339 string with its offset, e.g. 2026-11-22T08:00:00+01:00")


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # later rules (after the batch, the last change) name their own floor


def _plausible(value: datetime) -> datetime:
    """A time every reader can hold as UTC: 0001-01-01T00:00:00+14:00 is a year-0 instant that no
    Python datetime holds, and a read model folding it would fail on it forever."""
    try:
        instant = value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("the time is out of range once converted to UTC") from error
    if instant < EARLIEST:
        raise ValueError(f"a time before {EARLIEST.date().isoformat()} is not a time this system records")
    return value


# A time as a client writes it: with its offset (kept as sent), never a number, never out of range.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_written_as_text), AfterValidator(_plausible)]

# A whole number written as one: not `true`, not `7.0`.
Count = Annotated[int, Field(strict=True)]
