"""The European Hub as the outbound worker calls it: which of this service's events cause a
call (a master data version, each chunk of an upload, the reconciliation once every chunk of
an upload is acknowledged), what each call is, and which event records what the hub answered.

The hub's interface (EMVO's) is not public; the messages are modelled on its published field
lists, and `eu_hub_simulator` keeps its rules. A chunk's serials are not carried in its job:
they are read back from the write side, exactly as planned, when the chunk is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote
from uuid import UUID

import orjson
from serialtrail_contracts import fmd
from serialtrail_contracts.base import EventContract
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.outbound import (
    Delivered,
    Failure,
    HttpRequest,
    Job,
    JobRecord,
    OutboundSource,
    Outcome,
    Outcomes,
    Retryable,
    Send,
)
from serialtrail_kit.outbound.jobs import Attempt

from fmd_hub.application import write_side
from fmd_hub.domain.uploads import HUB_CHUNK_LIMIT

OUTBOUND = "hub"
DESTINATION = "eu-hub"
RECEIPT_BYTES = 16 * 1024  # the hub's answers are short JSON; a batch's summary fits


async def jobs_of(event: RecordedEvent, conn: Connection, schema: str) -> Sequence[Job]:
    states = await _pack_states(event, conn, schema) if event.event_type in STATE_TRIGGERS else []
    return [*states, *await _jobs_of(event, conn, schema)]


# Events at whose position a pack's state change may become sendable (see `write_side.ready_at`).
STATE_TRIGGERS = frozenset(
    {
        fmd.ChunkAcknowledged.EVENT_TYPE,
        fmd.TakenOutNoted.EVENT_TYPE,
        fmd.PackStateChanged.EVENT_TYPE,
        fmd.PackStateRefused.EVENT_TYPE,
    }
)


async def _pack_states(event: RecordedEvent, conn: Connection, schema: str) -> list[Job]:
    return [
        Job(
            DESTINATION,
            f"pack-state/{row['gtin']}/{row['serial']}/{row['seq']}",
            {"kind": "pack-state", **{k: row[k] for k in ("gtin", "serial", "seq", "lot", "state", "undo", "location")}}
            | {"expiry": row["expiry"].isoformat()},
        )
        for row in await write_side.ready_at(conn, schema, event.global_position)
    ]


async def _jobs_of(event: RecordedEvent, conn: Connection, schema: str) -> Sequence[Job]:
    p = event.payload
    if event.event_type == fmd.BatchStateRequested.EVENT_TYPE:
        payload = {
            "kind": "batch-state",
            "gtin": p["gtin"],
            "lot": p["lot"],
            "state": p["state"],
            "reason": p["reason"],
        }
        return [Job(DESTINATION, f"batch-state/{p['gtin']}/{p['lot']}", payload)]
    if event.event_type == fmd.MasterDataVersioned.EVENT_TYPE:
        return [Job(DESTINATION, f"master-data/{p['gtin']}/{p['version']}", {"kind": "master-data", "data": p})]
    if event.event_type == fmd.UploadPlanned.EVENT_TYPE:
        batch = {key: p[key] for key in ("upload_id", "gtin", "lot", "expiry", "master_data_version", "markets")}
        count = len(p["chunks"])
        return [
            Job(
                DESTINATION,
                f"chunk/{p['upload_id']}/{c['index']}",
                {"kind": "chunk", **batch, "chunk": c["index"], "of": count},
            )
            for c in p["chunks"]
        ]
    if event.event_type == fmd.ChunkAcknowledged.EVENT_TYPE:
        upload_id = UUID(p["upload_id"])
        done = await write_side.completed_by(conn, schema, upload_id, event.global_position)
        if done is None:
            return []
        counts = {"planned": done.planned, "acknowledged": done.acknowledged}
        payload = {"kind": "reconcile", "upload_id": p["upload_id"], "gtin": p["gtin"], "lot": p["lot"], **counts}
        return [Job(DESTINATION, f"reconcile/{p['upload_id']}", payload)]
    return []


SOURCE = OutboundSource(
    (
        fmd.MasterDataVersioned.EVENT_TYPE,
        fmd.UploadPlanned.EVENT_TYPE,
        fmd.BatchStateRequested.EVENT_TYPE,
        *sorted(STATE_TRIGGERS),
    ),
    jobs_of,
)


class HubClient:
    """The boundary to the hub: each job as the HTTP request the hub takes (the outbound worker
    sends it, with the job's idempotency key, and classifies the answer)."""

    def __init__(self, base_url: str, token: str, pool: Pool, schema: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.pool = pool
        self.schema = schema

    async def __call__(self, attempt: Attempt) -> HttpRequest:
        p = attempt.job.payload
        if p["kind"] == "master-data":
            return self._put(f"/v1/products/{_segment(p['data']['gtin'])}", _master_data(p["data"]))
        if p["kind"] == "chunk":
            async with self.pool.acquire() as conn:
                serials = await write_side.chunk_serials(conn, self.schema, UUID(p["upload_id"]), p["chunk"])
            return self._post(f"/v1/batches/{_segment(p['gtin'])}/{_segment(p['lot'])}/packs", _chunk(p, serials))
        batch = f"/v1/batches/{_segment(p['gtin'])}/{_segment(p['lot'])}"
        if p["kind"] == "pack-state":
            body = {"batch_id": p["lot"], "expiry": _yymmdd(p["expiry"]), "state": p["state"]}
            body |= {"location": p["location"], "undo": p["undo"]}
            return self._post(f"/v1/packs/{_segment(p['gtin'])}/{_segment(p['serial'])}/state", body)
        if p["kind"] == "batch-state":
            return self._post(f"{batch}/state", {"state": p["state"], "reason": p["reason"]})
        return HttpRequest("GET", self.base_url + batch, headers=self.headers)

    def _put(self, path: str, body: dict[str, Any]) -> HttpRequest:
        return HttpRequest("PUT", self.base_url + path, content=orjson.dumps(body), headers=self.headers)

    def _post(self, path: str, body: dict[str, Any]) -> HttpRequest:
        return HttpRequest("POST", self.base_url + path, content=orjson.dumps(body), headers=self.headers)


def _segment(text: str) -> str:
    return quote(text, safe="")


def _master_data(p: Mapping[str, Any]) -> dict[str, Any]:
    fields = ("version", "coding_scheme", "name", "common_name", "pharmaceutical_form", "strength", "pack_type")
    return {
        **{key: p[key] for key in fields},
        "pack_size": p["pack_size"],
        "markets": p["markets"],
        "mah": p["mah"],
        "wholesalers": p["wholesalers"],
    }


def _chunk(p: Mapping[str, Any], serials: list[str]) -> dict[str, Any]:
    return {
        "expiry": _yymmdd(p["expiry"]),
        "master_data_version": p["master_data_version"],
        "markets": p["markets"],
        "upload_id": p["upload_id"],
        "chunk": {"index": p["chunk"], "count": p["of"]},
        "serials": serials,
    }


def _yymmdd(iso_date: str) -> str:
    year, month, day = iso_date.split("-")
    return year[2:] + month + day


def _answer(delivered: Delivered) -> dict[str, Any]:
    """The hub's JSON answer, as far as the receipt kept it (nothing when it is not JSON)."""
    try:
        found = orjson.loads(delivered.receipt.get("body", ""))
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def checked(send: Send) -> Send:
    """A hub's acceptance counts only when its answer says what the service records: how many packs
    it took (0 to a chunk's worth) or holds. Otherwise the job is tried again with its key (the hub
    answers the same), and dies after its attempts for an operator to look at, rather than being
    recorded as acknowledged with a count that is not the hub's."""

    async def checking(attempt: Attempt) -> Outcome:
        outcome = await send(attempt)
        if isinstance(outcome, Delivered):
            problem = answer_problem(attempt.job.payload, _answer(outcome))
            if problem is not None:
                return Retryable(f"HTTP {outcome.status}, but the hub's answer {problem}", outcome.status)
        return outcome

    return checking


COUNTED = {"chunk": ("accepted", HUB_CHUNK_LIMIT), "reconcile": ("packs", 2**31 - 1)}


def answer_problem(job: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    if job["kind"] not in COUNTED:
        return None
    field, most = COUNTED[job["kind"]]
    value = answer.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most:
        return f"gives no count of packs in {field!r} (0 to {most:,}): {value!r}"[:300]
    batch_packs = answer.get("batch_packs")
    if job["kind"] == "chunk" and batch_packs is not None and _int(batch_packs) is None:
        return f"gives a batch count that is no count: {batch_packs!r}"[:300]
    return None


def _int(value: object) -> int | None:
    counted = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31
    return value if counted else None  # type: ignore[return-value]


def _pack(p: Mapping[str, Any]) -> dict[str, Any]:
    return {k: p[k] for k in ("gtin", "serial", "lot", "seq", "state", "undo")}


def delivered_event(job: JobRecord, delivered: Delivered) -> EventContract:
    p, answer = job.payload, _answer(delivered)
    if p["kind"] == "pack-state":
        return fmd.PackStateChanged(**_pack(p), job_id=job.job_id, attempts=job.attempts)
    if p["kind"] == "batch-state":
        return fmd.BatchStateChanged(
            gtin=p["gtin"], lot=p["lot"], state=p["state"], job_id=job.job_id, attempts=job.attempts
        )
    if p["kind"] == "master-data":
        return fmd.MasterDataAcknowledged(
            gtin=p["data"]["gtin"], version=p["data"]["version"], job_id=job.job_id, attempts=job.attempts
        )
    if p["kind"] == "chunk":
        return fmd.ChunkAcknowledged(
            upload_id=p["upload_id"],
            gtin=p["gtin"],
            lot=p["lot"],
            chunk=p["chunk"],
            packs=_int(answer.get("accepted")) or 0,
            batch_packs=_int(answer.get("batch_packs")),
            job_id=job.job_id,
            attempts=job.attempts,
        )
    hub_packs = _int(answer.get("packs"))
    return fmd.UploadReconciled(
        upload_id=p["upload_id"],
        gtin=p["gtin"],
        lot=p["lot"],
        planned=p["planned"],
        acknowledged=p["acknowledged"],
        hub_packs=-1 if hub_packs is None else hub_packs,
        matched=hub_packs == p["planned"] == p["acknowledged"],
    )


def dead_event(job: JobRecord, failure: Failure) -> EventContract:
    p = job.payload
    said = {"job_id": job.job_id, "reason": failure.reason, "status": failure.status, "attempts": failure.attempts}
    if p["kind"] == "pack-state":
        return fmd.PackStateRefused(**_pack(p), **said)
    if p["kind"] == "batch-state":
        return fmd.BatchStateRefused(gtin=p["gtin"], lot=p["lot"], state=p["state"], **said)
    if p["kind"] == "master-data":
        return fmd.MasterDataRefused(gtin=p["data"]["gtin"], version=p["data"]["version"], **said)
    if p["kind"] == "chunk":
        return fmd.ChunkRefused(upload_id=p["upload_id"], gtin=p["gtin"], lot=p["lot"], chunk=p["chunk"], **said)
    return fmd.ReconciliationFailed(upload_id=p["upload_id"], gtin=p["gtin"], lot=p["lot"], **said)


OUTCOMES = Outcomes(delivered=delivered_event, dead=dead_event)
