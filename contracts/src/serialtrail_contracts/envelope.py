"""The message envelope every published event carries (Kafka headers + JSON body)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from serialtrail_contracts.base import Contract


class Envelope(Contract):
    event_id: UUID
    event_type: str
    event_version: int
    stream_id: str
    stream_version: int
    global_position: int
    producer: str
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = None
    payload: dict[str, Any]
    # The producer's Part 11 record of the event: principal, how it authenticated, client
    # address, software version and configuration digest.
    metadata: dict[str, Any] = Field(default_factory=dict)
