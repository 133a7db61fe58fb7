"""Per-request record context: who, from where, which correlation — turned into the
metadata stored with every event the request appends."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.http.request_id import request_id
from serialtrail_kit.telemetry import current_traceparent


@dataclass(frozen=True)
class SoftwareIdentity:
    version: str
    config_digest: str


def record_metadata(request: Request, reason: str | None = None) -> RecordMetadata:
    """Fails closed: an endpoint that records must have authenticated its principal first."""
    software: SoftwareIdentity = request.app.state.software
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise RuntimeError(f"{request.url.path} records an event without an authenticated principal")
    return RecordMetadata(
        principal_id=principal.id,
        principal_role=str(principal.role),
        auth_method=principal.auth_method,
        correlation_id=request.headers.get("x-correlation-id") or request_id(request),
        causation_id=request.headers.get("x-causation-id"),
        # The request's own span when tracing is on (a child of the caller's), else the caller's.
        traceparent=current_traceparent() or request.headers.get("traceparent"),
        client_address=request.client.host if request.client else None,
        reason=reason,
        software_version=software.version,
        config_digest=software.config_digest,
    )
