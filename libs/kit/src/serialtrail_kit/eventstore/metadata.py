"""Who, when, why and with what: the record metadata stored with every event."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict


class RecordMetadata(BaseModel):
    """Part 11 record metadata. The server time is not here on purpose: it is taken from
    the database clock inside the append transaction, never from a caller."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    principal_id: str
    principal_role: str
    auth_method: str
    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = None
    client_address: str | None = None
    reason: str | None = None
    software_version: str
    config_digest: str

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def local_metadata(
    *,
    principal_id: str,
    role: str,
    auth_method: str,
    software_version: str,
    config_digest: str,
    reason: str | None = None,
) -> RecordMetadata:
    """Metadata for records made outside an HTTP request (CLI, first start, tests, benchmarks)."""
    return RecordMetadata(
        principal_id=principal_id,
        principal_role=role,
        auth_method=auth_method,
        correlation_id=str(uuid.uuid4()),
        reason=reason,
        software_version=software_version,
        config_digest=config_digest,
    )


def system_metadata(worker: str, software: tuple[str, str]) -> RecordMetadata:
    """Metadata for what a service's worker records on its own time (no request, no caller)."""
    version, digest = software
    return local_metadata(
        principal_id=f"worker:{worker}",
        role="system",
        auth_method="worker",
        software_version=version,
        config_digest=digest,
    )
