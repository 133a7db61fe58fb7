"""HTTP request and response bodies, with OpenAPI examples."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from serialtrail_contracts.exception_vocabulary import VOCABULARY
from serialtrail_contracts.exceptions import ExceptionType, Outcome
from serialtrail_kit.http.body import Body, Timestamp
from serialtrail_kit.http.signing import SignatureIn

from line_exceptions.domain.records import MAX_UNITS

GTIN = "09506000134352"
UNITS = ["(01)09506000134352(21)7Q4XK2M9PZ3A", "]d2010950600013435221H2JD8W5NQ0RT"]
UnitText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="an SGTIN as a line sends it: raw scanner data, HRI, element string, EPC URI or GS1 Digital Link",
    ),
]
ParentText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="an SSCC (or a bundle's SGTIN) as a line sends it: raw scanner data, HRI, element string, "
        "EPC URI or GS1 Digital Link",
    ),
]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Reason = Annotated[str, Field(min_length=1, max_length=500, description="why, in words QA and an inspector read")]


def examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


def named(examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A route's `openapi_examples`: /docs shows only the first of a schema's examples, but
    lets the reader pick any named one."""
    return {summary: {"summary": summary, "value": value} for summary, value in examples.items()}


def _types_meaning() -> str:
    """Which types take units out, read from the one reason vocabulary so it cannot drift from it."""
    out = [t.value for t, meaning in VOCABULARY.items() if meaning.takes_out]
    stay = [t.value for t, meaning in VOCABULARY.items() if not meaning.takes_out]
    return (
        f"what went wrong. Taken out of the supply chain (serials decommissioned): {', '.join(out)}. "
        f"Only recorded, the units stay in it: {', '.join(stay)}."
    )


TYPE_MEANING = _types_meaning()
RecordType = Annotated[ExceptionType, Field(description=TYPE_MEANING)]


class BatchIn(Body):
    gtin: Annotated[str, Field(pattern=r"^[0-9]{14}$", description="GTIN-14")]
    lot: Annotated[str, Field(min_length=1, max_length=20, description="batch/lot (AI 10)")]


RECORD_EXAMPLES: dict[str, dict[str, Any]] = {
    "two cartons misprinted": {
        "type": "label-misprint",
        "batch": {"gtin": GTIN, "lot": "L-2026-07"},
        "units": UNITS,
        "line_id": "LINE-1",
        "event_time": "2026-11-22T08:15:00+01:00",
        "description": "expiry printed blurred on two cartons; rejected at the vision station",
        "observed_by": "J. Doe, line operator",
    },
    "a case destroyed with everything in it (cascade)": {
        "type": "destroyed",
        "batch": {"gtin": GTIN, "lot": "L-2026-07"},
        "parents": ["https://id.gs1.org/00/095060000000000015"],
        "cascade": True,
        "line_id": "LINE-1",
        "event_time": "2026-11-22T09:05:00+01:00",
        "description": "case crushed by the palletiser; destroyed with its contents",
        "observed_by": "J. Doe, line operator",
    },
    "a carton reworked under a new serial": {
        "type": "rework",
        "batch": {"gtin": GTIN, "lot": "L-2026-07"},
        "units": [UNITS[0]],
        "replacement": "(01)09506000134352(21)Q7N2C4M8K1XZ",
        "line_id": "LINE-1",
        "event_time": "2026-11-22T08:20:00Z",
        "description": "carton relabelled after a torn label",
        "observed_by": "J. Doe, line operator",
    },
}


class RecordIn(Body):
    model_config = examples(*RECORD_EXAMPLES.values())
    type: RecordType
    batch: BatchIn
    units: Annotated[
        list[UnitText], Field(max_length=MAX_UNITS, description="SGTINs of the batch that went wrong")
    ] = []
    parents: Annotated[
        list[ParentText],
        Field(max_length=MAX_UNITS, description="cases, pallets or bundles (SSCC, or SGTIN of a bundle) named whole"),
    ] = []
    cascade: Annotated[
        StrictBool,
        Field(description="take out every unit below the parents too, each with its own entry (closed parents only)"),
    ] = False
    replacement: Annotated[
        UnitText | None, Field(description="rework only: the serial relabelled in the reworked unit's place")
    ] = None
    line_id: Annotated[
        str, Field(min_length=1, max_length=64, description="the registered line, by its id or its read point's SGLN")
    ]
    event_time: Timestamp
    description: Text
    observed_by: Annotated[str, Field(min_length=1, max_length=200, description="who saw it on the line")]


class InvestigationIn(Body):
    model_config = examples({"note": "vision station logs pulled; printer head suspected"})
    note: Text


class ResolutionIn(Body):
    model_config = examples(
        {
            "outcome": "confirmed",
            "reason": "both cartons destroyed under supervision; printer head replaced (CAPA-114)",
            "signature": {"meaning": "approved", "credential": "st_… (your API key again, or a fresh OIDC token)"},
        }
    )
    outcome: Outcome
    reason: Reason
    signature: Annotated[
        SignatureIn | None,
        Field(description="QA e-signature: required when the record took units out of the supply chain"),
    ] = None


class UndoIn(Body):
    model_config = examples(
        {
            "reason": "re-inspected: the carton is intact, the dent is in the shipper only",
            "line_id": "LINE-1",
            "event_time": "2026-11-23T10:00:00+01:00",
        }
    )
    units: Annotated[
        list[UnitText], Field(max_length=MAX_UNITS, description="units to put back; none: all still out by the record")
    ] = []
    reason: Reason
    line_id: Annotated[
        str,
        Field(
            min_length=1, max_length=64, description="where it is undone: the site must be where they were taken out"
        ),
    ]
    event_time: Timestamp


class CancellationIn(Body):
    model_config = examples({"reason": "recorded twice; see the other record"})
    reason: Reason


Signed = Annotated[
    dict[str, Any] | None,
    Field(
        description="the QA e-signature recorded with it, bound to its hash: signature_id, signer_id, "
        "printed_name, signer_role, meaning, reason, record (service, global_position), record_hash, signed_at"
    ),
]
Position = Annotated[int, Field(description="the change's position in this service's log (audit trail)")]


class RecordOut(BaseModel):
    exception_id: UUID = Field(description="the new record's id")
    type: RecordType
    state: str = Field(description="open")
    units: int = Field(description="units the record names itself")
    parents: int = Field(description="parents it names whole")
    taken_out: int = Field(description="units it took out of the supply chain (those below parents included)")
    record_url: str = Field(description="where to read it back")


class ChangeOut(BaseModel):
    exception_id: UUID = Field(description="the record changed")
    state: str = Field(description="its state after the change")
    global_position: Position
    signature: Signed = None


class WindowIn(Body):
    start: Timestamp
    end: Annotated[Timestamp, Field(description="not after now: what is commissioned later needs a hold of its own")]


HOLD_EXAMPLES: dict[str, dict[str, Any]] = {
    "units and parents of a batch": {
        "batch": {"gtin": GTIN, "lot": "L-2026-07"},
        "whole_batch": False,
        "units": [UNITS[0]],
        "parents": ["https://id.gs1.org/00/095060000000000015"],
        "reason": "label printer fault on line 1 between 08:00 and 08:40: isolate until reviewed",
        "event_time": "2026-11-22T08:45:00+01:00",
    },
    "a line's output in a time window": {
        "batch": {"gtin": GTIN, "lot": "L-2026-07"},
        "line_id": "LINE-1",
        "window": {"start": "2026-11-22T08:00:00+01:00", "end": "2026-11-22T08:40:00+01:00"},
        "reason": "label printer fault on line 1 between 08:00 and 08:40",
        "event_time": "2026-11-22T08:45:00+01:00",
    },
    "a whole batch": {
        "batch": {"gtin": GTIN, "lot": "L-2026-07"},
        "whole_batch": True,
        "reason": "stability deviation under investigation",
        "event_time": "2026-11-22T09:00:00Z",
    },
}


class HoldIn(Body):
    model_config = examples(*HOLD_EXAMPLES.values())
    batch: BatchIn
    whole_batch: StrictBool = False
    units: Annotated[list[UnitText], Field(max_length=MAX_UNITS, description="SGTINs of the batch to hold")] = []
    parents: Annotated[
        list[ParentText],
        Field(max_length=MAX_UNITS, description="parents to hold (SSCC, or SGTIN of a bundle), with all below them"),
    ] = []
    line_id: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=64,
            description="the line whose hold it is (by id or read point SGLN); none: the batch's, at every line",
        ),
    ] = None
    window: Annotated[
        WindowIn | None,
        Field(description="hold the line's output: units of the batch commissioned on it in [start, end)"),
    ] = None
    reason: Reason
    event_time: Timestamp


class LiftIn(Body):
    model_config = examples(
        {
            "reason": "reviewed: the units printed before 08:00 are fine (DEV-2026-031)",
            "signature": {"meaning": "approved", "credential": "st_… (your API key again, or a fresh OIDC token)"},
        }
    )
    reason: Reason
    signature: Annotated[SignatureIn | None, Field(description="QA e-signature: lifting a hold releases product")] = (
        None
    )


class HoldOut(BaseModel):
    hold_id: UUID = Field(description="the hold's id")
    state: str = Field(description="active, or lifted")
    global_position: Position
    signature: Signed = None
    hold_url: str = Field(description="where to read it back")
