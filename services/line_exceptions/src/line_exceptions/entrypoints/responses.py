"""What the reads of records and holds answer, for the OpenAPI document only.

The routes build their answers from the read models and render them with orjson; these models
are attached with `responses=` so the answer is neither re-validated nor changed. They are
closed (`extra="forbid"`, i.e. `additionalProperties: false`), so a field an answer gains
without being described here fails test_documented_answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field
from serialtrail_contracts.exception_vocabulary import DscsaReason, EuFmdPackState
from serialtrail_contracts.exceptions import DecommissionReason, Outcome
from serialtrail_kit.http.answers import Answer

from line_exceptions.domain.records import State
from line_exceptions.entrypoints.schemas import RecordType

Gtin = Annotated[str, Field(description="GTIN-14 of the product")]
Lot = Annotated[str, Field(description="batch/lot (AI 10)")]
Cmo = Annotated[str | None, Field(description="the contract manufacturer packing the batch; null: packed in house")]
Principal = Annotated[str, Field(description="the principal (API key or OIDC subject) that did it")]


class TypeMeaning(Answer):
    """What the record's type means in every vocabulary its units are reported in."""

    takes_out: bool = Field(description="whether the record took its units out of the supply chain (decommissioned)")
    decommission_reason: DecommissionReason | None = Field(
        description="why the units were decommissioned; null: they stay in the supply chain"
    )
    biz_step: str = Field(description="the CBV 2.0 business step of its EPCIS event (bare name)")
    disposition: str = Field(description="the CBV 2.0 disposition the units end in (bare name)")
    eu_fmd_pack_state: EuFmdPackState | None = Field(
        description="the pack state the EU FMD hub is told; null: the hub is told nothing"
    )
    dscsa_reason: DscsaReason | None = Field(
        description="what a DSCSA trading partner is told; null: nothing, the units stay in commerce"
    )


class Record(Answer):
    """An exception record: what went wrong with which units, where, and how far QA has taken it."""

    exception_id: UUID = Field(description="the record's id")
    exception_type: RecordType
    state: State = Field(description="open, under investigation, resolved or cancelled")
    gtin: Gtin
    lot: Lot
    line_id: str = Field(description="the packaging line it happened on")
    read_point: str = Field(description="the line's EPCIS read point (SGLN)")
    biz_location: str = Field(description="the site's EPCIS business location (SGLN)")
    site_gln: str = Field(description="GLN of the line's site")
    cmo_id: Cmo
    event_time: datetime = Field(description="when it happened on the line")
    recorded_at: datetime = Field(description="when it was recorded (server clock)")
    recorded_by: Principal
    observed_by: str = Field(description="who saw it on the line, as the line states it")
    description: str = Field(description="what happened, in the line's words")
    units: int = Field(description="how many units the record names itself (not counting those below parents)")
    taken_out: int = Field(description="units the record holds out of the supply chain now (undone ones no longer)")
    replacement_serial: str | None = Field(description="rework only: the serial relabelled in the unit's place")
    parents: list[str] = Field(description="cases, pallets or bundles named whole (canonical GS1 Digital Link URIs)")
    cascade: bool = Field(description="whether every unit below the parents was taken out too")
    outcome: Outcome | None = Field(description="how it was resolved; null until resolved")
    reason: str | None = Field(description="why it was resolved or cancelled; null while open")
    closed_at: datetime | None = Field(description="when it was resolved or cancelled; null while open")
    meaning: TypeMeaning


class RecordsPage(Answer):
    exceptions: list[Record] = Field(description="records in the caller's scope, by exception_id")
    next_after: UUID | None = Field(description="pass as `after` for the next page; null: this is the last page")


GroupedUnder = Annotated[list[UUID], Field(description="deviations the record is grouped under (deviation_id)")]


class CascadedUnit(Answer):
    serial: str = Field(description="serial number of a unit taken out because it was below a parent")
    parent: str = Field(description="the parent it was taken out with")


class UndoneUnit(Answer):
    serial: str = Field(description="serial number of a unit put back in the supply chain")
    at: datetime = Field(description="when its decommission was undone (event time)")


class HistoryEntry(Answer):
    global_position: int = Field(description="the event's position in this service's log (audit trail)")
    event: str = Field(description="what was done, e.g. ExceptionRecorded, SerialsDecommissioned, ExceptionResolved")
    recorded_at: datetime = Field(description="when (server clock)")
    principal_id: Principal
    detail: dict[str, Any] = Field(description="the event's fields as recorded (without the id of what it belongs to)")


class RecordDetail(Record):
    deviations: GroupedUnder
    serials: list[str] = Field(description="serial numbers of the units the record names itself")
    cascaded: list[CascadedUnit] = Field(description="units taken out with a parent, each naming that parent")
    undone: list[UndoneUnit] = Field(description="units whose decommission was undone")
    history: list[HistoryEntry] = Field(description="who did what, when, oldest first")


class RecordOfUnit(Record):
    role: Literal["named", "replacement", "cascaded"] = Field(
        description="how the record names the unit: itself, as a rework's replacement, or below a parent"
    )
    via: str | None = Field(description="cascaded only: the parent it was taken out with")
    undone_at: datetime | None = Field(
        description="when this record's decommission of the unit was undone; null: not undone"
    )
    deviations: GroupedUnder


class UnitRecords(Answer):
    gtin: Gtin
    serial: str = Field(description="the unit's serial number")
    exceptions: list[RecordOfUnit] = Field(description="every record naming the unit, by event time")


class OpenAgeing(Answer):
    """How long the records still open (or under investigation) have been open."""

    oldest_open_since: datetime | None = Field(description="when the oldest was recorded; null: none open")
    under_1_day: int = Field(description="open for less than a day")
    from_1_to_7_days: int = Field(alias="1_to_7_days", description="open for 1 to 7 days")
    over_7_days: int = Field(description="open for 7 days or more")


class ActiveHolds(Answer):
    active: int = Field(description="holds in force on the batch")
    hold_ids: list[UUID] = Field(description="their ids, oldest first")


class OpenDeviations(Answer):
    open_deviations: int = Field(description="deviations of the batch not yet closed")
    open_capas: int = Field(description="CAPA actions of its deviations not yet completed")
    overdue_capas: int = Field(description="of those, past their due date")


class BatchSummary(Answer):
    """What QA reviews before releasing a batch."""

    gtin: Gtin
    lot: Lot
    records: int = Field(description="exception records of the batch, in the caller's scope")
    units_taken_out: int = Field(description="units those records hold out of the supply chain")
    by_type: dict[str, dict[str, int]] = Field(
        description="records by exception type, then by state (only those there are)"
    )
    by_state: dict[str, int] = Field(description="records by state")
    open_ageing: OpenAgeing
    holds: ActiveHolds
    deviations: OpenDeviations


class Hold(Answer):
    """A containment hold: what it holds, why, by whom, and whether it was lifted."""

    hold_id: UUID = Field(description="the hold's id")
    gtin: Gtin
    lot: Lot
    cmo_id: Cmo
    whole_batch: bool = Field(description="whether it holds the whole batch")
    serials: list[str] = Field(description="serial numbers held (a window hold: the line's output in the window)")
    parents: list[str] = Field(description="parents held with everything below them (canonical URIs)")
    state: Literal["active", "lifted"] = Field(description="active: packing refuses what it holds")
    reason: str = Field(description="why it was placed")
    event_time: datetime = Field(description="when it was placed, as stated")
    placed_at: datetime = Field(description="when it was recorded (server clock)")
    placed_by: Principal
    lifted_at: datetime | None = Field(description="when it was lifted; null while active")
    lifted_by: str | None = Field(description="the QA principal that lifted it (e-signed)")
    lift_reason: str | None = Field(description="why it was lifted")
    line_id: str | None = Field(description="the line whose hold it is; null: the batch's, at every line")
    window_start: datetime | None = Field(description="a line's output held from this time (inclusive)")
    window_end: datetime | None = Field(description="…up to this time (exclusive)")


class Holds(Answer):
    holds: list[Hold] = Field(description="holds in the caller's scope, oldest first")
