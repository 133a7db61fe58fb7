"""The audit trail as inspectors read it: every event of a log (or one stream of it) with
its full Part 11 record metadata and its place in the hash chain; and electronic signatures
of its records, recorded in the same log. Served for every service's own log."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from serialtrail_contracts.identity import Role

from serialtrail_kit.access import signatures
from serialtrail_kit.access.authenticate import SIGNS, Authenticator
from serialtrail_kit.access.authz import requires
from serialtrail_kit.access.permissions import permission
from serialtrail_kit.access.resources import EXISTS, Resource
from serialtrail_kit.access.signatures import Meaning
from serialtrail_kit.errors import InvalidInput, NotFound, Rule
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.refusals import refuses

KNOWN_LOG = Rule("known-log", "the service named is one whose log this server holds", "service", "unknown service")
INTACT_RECORD = Rule(
    "intact-record",
    "the position names a record of the log whose hash chain verifies",
    "global_position",
    "no intact record at position 912 of the log",
)

AUDIT_TRAIL_READ = permission("audit-trail:read", Role.qa, Role.auditor, description="read any log with its records")
MAX_POSITION = 2**63 - 1  # a log position is a bigint
SECRET_FIELDS = ("secret_hash",)  # shown in no audit trail view, though recorded and chained
SIGN = permission("records:sign", Role.qa, description="sign a record electronically")
SIGNATURES_READ = permission("signatures:read", Role.qa, Role.auditor, description="read signatures")
ALL = (AUDIT_TRAIL_READ, SIGN, SIGNATURES_READ)


class SignatureIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "meaning": "approved",
                    "reason": "record reviewed",
                    "credential": "st_… (your API key again, or a fresh OIDC token)",
                }
            ]
        },
    )
    meaning: Meaning
    reason: Annotated[str | None, Field(max_length=500)] = None
    credential: Annotated[str, Field(min_length=1, description="re-authentication at signing time")]


def _log(request: Request, service: str) -> PostgresEventStore:
    if service not in request.app.state.known_logs:
        raise NotFound(f"no log {service!r}", [KNOWN_LOG.at("service", "unknown service")])
    return PostgresEventStore(request.app.state.runtime.app_pool, service)


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
        "payload": {k: "(redacted)" if k in SECRET_FIELDS else v for k, v in event.payload.items()},
        "hash": event.hash.hex(),
        "prev_hash": event.prev_hash.hex(),
    }


# A log holds every party's records, so only a principal no scope narrows reads or signs in it.
LOG = Resource.everything("audit-trail", "a service's whole log", {NotFound: (KNOWN_LOG,)})
SIGNATURES = Resource.everything("signature", "the signatures in a service's log", {NotFound: (KNOWN_LOG, EXISTS)})


def build_router(logs: Collection[str]) -> APIRouter:
    """The audit trail of the logs this app serves; their names are listed in the OpenAPI
    document, which is how the distributed mode's gateway finds the service that holds a log."""
    router = APIRouter(prefix="/v1", tags=["audit trail"])
    service_path = Path(description="the service whose log", json_schema_extra={"enum": sorted(logs)})

    @router.get("/audit-trail/{service}", dependencies=[requires(AUDIT_TRAIL_READ, LOG)])
    async def audit_trail(
        request: Request,
        stream_id: Annotated[str | None, Query(description="only this stream (one aggregate)")] = None,
        after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="global position to continue after")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        service: str = service_path,  # a default, not an annotation: the names are known only here
    ) -> dict[str, Any]:
        """Events of a service's log in order, each with who/when/why/which software and its chain hashes."""
        store = _log(request, service)
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

    _signature_routes(router, service_path)
    return router


def _signature_routes(router: APIRouter, service_path: Any) -> None:
    @router.post(
        "/audit-trail/{service}/{global_position}/signatures",
        status_code=status.HTTP_201_CREATED,
        dependencies=[requires(SIGN, LOG)],
        openapi_extra=refuses({InvalidInput: (INTACT_RECORD,), **SIGNS}),
    )
    async def sign_record(
        global_position: Annotated[int, Path(ge=1, le=MAX_POSITION)],
        body: SignatureIn,
        request: Request,
        service: str = service_path,
    ) -> dict[str, Any]:
        """Sign a record electronically: re-authenticate, state the meaning. The signature is
        recorded in the same log, bound to the record's hash."""
        log = _log(request, service)
        authenticator: Authenticator = request.app.state.authenticator
        await authenticator.reauthenticate(request, body.credential, request.state.principal)
        meta = record_metadata(request, reason=body.reason)
        try:
            return await signatures.sign(log, request.state.principal, global_position, body.meaning, body.reason, meta)
        except LookupError as error:
            raise InvalidInput(str(error), [INTACT_RECORD.at("global_position", str(error))]) from error

    @router.get(
        "/audit-trail/{service}/signatures/{signature_id}", dependencies=[requires(SIGNATURES_READ, SIGNATURES)]
    )
    async def get_signature(signature_id: UUID, request: Request, service: str = service_path) -> dict[str, Any]:
        """A signature and whether it still verifies against the record it names."""
        log = _log(request, service)
        signed = await signatures.signature(log, str(signature_id))
        if signed is None:
            raise NotFound(f"no signature {signature_id}", [EXISTS.at("signature_id", "unknown signature")])
        # Signatures made before they were kept beside their record sit in another log.
        signed_in = str(signed["record"]["service"])
        if signed_in in request.app.state.known_logs:
            check = await signatures.verify(_log(request, signed_in), signed)
        else:
            check = signatures.Verification(False, f"the signed record is in {signed_in}'s log, not served here")
        return {**signed, "verification": {"valid": check.valid, "reason": check.reason}}
