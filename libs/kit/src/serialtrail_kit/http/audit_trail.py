"""The audit trail as inspectors read it: every event of a log (or one stream of it) with
its full Part 11 record metadata and its place in the hash chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from serialtrail_contracts.identity import Role

from serialtrail_kit.access.authz import requires
from serialtrail_kit.access.permissions import permission
from serialtrail_kit.errors import NotFound, Violation
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.http.problems import PROBLEM_RESPONSES

AUDIT_TRAIL_READ = permission("audit-trail:read", Role.qa, Role.auditor, description="read any log with its records")


def _entry(event: RecordedEvent) -> dict[str, Any]:
    return {
        "global_position": event.global_position,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "event_version": event.event_version,
        "recorded_at": event.recorded_at,
        "record": event.metadata,
        "payload": event.payload,
        "hash": event.hash.hex(),
        "prev_hash": event.prev_hash.hex(),
    }


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["audit trail"], responses=PROBLEM_RESPONSES)

    @router.get("/audit-trail/{service}", dependencies=[requires(AUDIT_TRAIL_READ)])
    async def audit_trail(
        service: str,
        request: Request,
        stream_id: Annotated[str | None, Query(description="only this stream (one aggregate)")] = None,
        after: Annotated[int, Query(ge=0, description="global position to continue after")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Events of a service's log in order, each with who/when/why/which software and its chain hashes."""
        if service not in request.app.state.known_logs:
            raise NotFound(f"no log {service!r}", [Violation("service", "known-log", "unknown service")])
        store = PostgresEventStore(request.app.state.runtime.app_pool, service)
        if stream_id is not None:
            events = [e for e in await store.read_stream(stream_id) if e.global_position > after][:limit]
        else:
            events = await store.read_raw(after, limit)
        entries = [_entry(e) for e in events]
        return {
            "service": service,
            "events": entries,
            "next_after": entries[-1]["global_position"] if entries else after,
        }

    return router
