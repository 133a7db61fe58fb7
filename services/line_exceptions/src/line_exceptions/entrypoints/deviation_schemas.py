"""HTTP bodies of deviations, with OpenAPI examples."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StrictBool
from serialtrail_contracts.deviations import AnalysisMethod, CapaKind, RootCauseCategory
from serialtrail_kit.http.body import Body
from serialtrail_kit.http.signing import SignatureIn

from line_exceptions.domain.records import MAX_UNITS
from line_exceptions.entrypoints.schemas import (
    GTIN,
    BatchIn,
    Position,
    Reason,
    Signed,
    Text,
    examples,
)

Title = Annotated[str, Field(min_length=1, max_length=200)]
Person = Annotated[str, Field(min_length=1, max_length=200, description="who, as QA names them")]
Ids = Annotated[list[UUID], Field(max_length=MAX_UNITS)]


class DeviationIn(Body):
    model_config = examples(
        {
            "batch": {"gtin": GTIN, "lot": "L-2026-07"},
            "title": "Blurred expiry print on line 1",
            "description": "vision station rejected 212 cartons between 08:00 and 08:40",
            "exception_ids": ["3f0b6c1e-8d5a-4d0e-9a51-0c2b7f1f2a10"],
            "hold_ids": [],
            "qms_reference": "DEV-2026-031",
        }
    )
    batch: BatchIn
    title: Title
    description: Text
    exception_ids: Annotated[Ids, Field(description="exception records of the batch to group")] = []
    hold_ids: Annotated[Ids, Field(description="holds of the batch to group")] = []
    qms_reference: Annotated[
        str | None, Field(min_length=1, max_length=100, description="the deviation's id in the company's QMS")
    ] = None


class LinkIn(Body):
    model_config = examples({"exception_ids": ["3f0b6c1e-8d5a-4d0e-9a51-0c2b7f1f2a10"], "hold_ids": []})
    exception_ids: Ids = []
    hold_ids: Ids = []


class RootCauseIn(Body):
    model_config = examples(
        {
            "category": "machine",
            "method": "5-why",
            "findings": "print head worn past its service interval; the interval was not in the PM plan",
        }
    )
    category: Annotated[RootCauseCategory, Field(description="the six Ms: where the cause lies")]
    method: Annotated[AnalysisMethod, Field(description="how it was found")]
    findings: Text


class CapaIn(Body):
    model_config = examples(
        {
            "kind": "corrective",
            "action": "add the print head to the preventive maintenance plan every 500 h",
            "owner": "Engineering, M. Rossi",
            "due_date": "2026-12-15",
            "effectiveness_check": "no print rejects from worn heads over the next 3 batches",
        }
    )
    kind: CapaKind
    action: Text
    owner: Person
    due_date: date
    effectiveness_check: Text


class CapaDoneIn(Body):
    model_config = examples({"effective": True, "evidence": "batches L-2026-08..10: 0 print rejects (QA-REP-77)"})
    effective: StrictBool
    evidence: Text


class ClosureIn(Body):
    model_config = examples(
        {
            "reason": "root cause removed; corrective action effective (CAPA-114)",
            "signature": {"meaning": "approved", "credential": "st_… (your API key again, or a fresh OIDC token)"},
        }
    )
    reason: Reason
    signature: Annotated[SignatureIn | None, Field(description="QA e-signature: required to close")] = None


class DeviationOut(BaseModel):
    deviation_id: UUID = Field(description="the deviation's id")
    state: str = Field(description="open, or closed")
    global_position: Position
    deviation_url: str = Field(description="where to read it back")
    capa_id: UUID | None = Field(default=None, description="the CAPA action planned or completed, if any")
    signature: Signed = None
