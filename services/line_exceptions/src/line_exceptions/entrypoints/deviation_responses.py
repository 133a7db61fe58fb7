"""What the reads of deviations answer, for the OpenAPI document only (see `responses`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field
from serialtrail_contracts.deviations import AnalysisMethod, CapaKind, RootCauseCategory
from serialtrail_kit.http.answers import Answer

from line_exceptions.entrypoints.responses import Cmo, Gtin, HistoryEntry, Lot, Principal


class Deviation(Answer):
    """A deviation: the QA record grouping a batch's exception records and holds, up to its root cause."""

    deviation_id: UUID = Field(description="the deviation's id")
    gtin: Gtin
    lot: Lot
    cmo_id: Cmo
    title: str = Field(description="what it is about, in a line")
    description: str = Field(description="what happened, in QA's words")
    qms_reference: str | None = Field(description="its id in the company's QMS, if given")
    state: Literal["open", "closed"] = Field(description="closed: by QA, e-signed, once its root cause was recorded")
    root_cause_category: RootCauseCategory | None = Field(
        description="where the root cause lies (the six Ms); null until recorded"
    )
    root_cause_method: AnalysisMethod | None = Field(description="how the root cause was found")
    root_cause_findings: str | None = Field(description="what was found (the latest root cause recorded)")
    opened_at: datetime = Field(description="when it was opened (server clock)")
    opened_by: Principal
    closed_at: datetime | None = Field(description="when it was closed; null while open")
    closed_by: str | None = Field(description="the QA principal that closed it (e-signed)")
    close_reason: str | None = Field(description="why it was closed")


class Deviations(Answer):
    deviations: list[Deviation] = Field(description="deviations in the caller's scope, oldest first")


class Capa(Answer):
    """A corrective or preventive action planned under the deviation."""

    capa_id: UUID = Field(description="the action's id")
    kind: CapaKind = Field(description="a correction, a corrective or a preventive action")
    action: str = Field(description="what is to be done")
    owner: str = Field(description="who is to do it, as QA names them")
    due_date: date = Field(description="by when")
    effectiveness_check: str = Field(description="how its effectiveness is to be checked")
    state: Literal["open", "completed"] = Field(description="completed: done, with its effectiveness checked")
    effective: bool | None = Field(description="whether the check found it effective; null until completed")
    evidence: str | None = Field(description="the evidence of the check")
    completed_at: datetime | None = Field(description="when it was completed (server clock)")


class DeviationDetail(Deviation):
    exception_ids: list[UUID] = Field(description="exception records it groups")
    hold_ids: list[UUID] = Field(description="holds it groups")
    capas: list[Capa] = Field(description="its CAPA actions, by due date")
    history: list[HistoryEntry] = Field(description="who did what, when, oldest first")
