"""HTTP request and response bodies of the hub service, with OpenAPI examples."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from serialtrail_contracts.exception_vocabulary import EuFmdPackState
from serialtrail_contracts.fmd import BatchHubState
from serialtrail_kit.http.body import Body
from serialtrail_kit.http.signing import SignatureIn

Text = Annotated[str, Field(min_length=1, max_length=200)]

MASTER_DATA_EXAMPLE: dict[str, Any] = {
    "name": "Paracetamol 500 mg tablets",
    "common_name": "paracetamol",
    "pharmaceutical_form": "tablet",
    "strength": "500 mg",
    "pack_type": "blister pack in carton",
    "pack_size": 20,
    "markets": [{"market": "DE", "national_code": "01234567"}, {"market": "FR", "national_code": "3400912345678"}],
    "mah": {"name": "Example Pharma GmbH", "id": "9506000000008"},
    "wholesalers": [{"name": "Example Wholesale AG", "id": "4000001000005"}],
}


BATCH_STATE_EXAMPLE: dict[str, Any] = {
    "state": "Recalled",
    "reason": "recall RC-2026-014: contamination found in stability testing",
    "signature": {"meaning": "approved", "credential": "st_..."},
}


class BatchStateIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [BATCH_STATE_EXAMPLE]})

    state: BatchHubState = Field(description="Recalled or Withdrawn: irreversible")
    reason: Annotated[str, Field(min_length=1, max_length=500, description="why, as QA and an inspector read it")]
    signature: SignatureIn = Field(description="the requester's e-signature, recorded with the request")


class BatchStateOut(BaseModel):
    gtin: str
    lot: str
    state: BatchHubState
    changed: bool = Field(description="false: the batch was in that state already, nothing recorded")
    signature_id: str | None = Field(description="the e-signature recorded with the request")
    status_url: str


class MarketIn(Body):
    market: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 (XI: Northern Ireland)")]
    national_code: Annotated[
        str,
        Field(
            min_length=1,
            max_length=20,
            pattern=r"^[!-~]+$",
            description="the national code the market knows the pack by (PZN, CIP, AIC …): every market has one",
        ),
    ]


class PartyIn(Body):
    name: Text
    id: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[!-~]+$", description="e.g. its GLN")]


class MasterDataIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [MASTER_DATA_EXAMPLE]})

    name: Text
    common_name: Text
    pharmaceutical_form: Text
    strength: Annotated[str, Field(min_length=1, max_length=100)]
    pack_type: Text
    pack_size: Annotated[int, Field(ge=1, le=100_000, strict=True)]
    markets: Annotated[list[MarketIn], Field(min_length=1, max_length=31)]
    mah: PartyIn = Field(description="the marketing authorisation holder")
    wholesalers: Annotated[list[PartyIn], Field(max_length=50)] = []


class MasterDataOut(BaseModel):
    gtin: str
    version: int = Field(description="the version now in force (a new one, or the latest when nothing changed)")
    changed: bool = Field(description="false: the submission was the latest version again, nothing recorded")
    status_url: str = Field(description="where the hub's answer shows")


class ChunkOut(BaseModel):
    chunk: int
    packs: int
    status: str = Field(description="sending, acknowledged or refused")
    acknowledged: int | None = Field(description="packs the hub acknowledged")
    hub_batch_packs: int | None = Field(description="the hub's count of the batch's packs after it")
    reason: str | None = Field(description="why it was refused")
    attempts: int | None


class UploadOut(BaseModel):
    upload_id: UUID
    planned_at: datetime
    master_data_version: int
    markets: list[str]
    commissioned: int = Field(description="the batch's commissioned serials known when planned")
    uploaded_before: int = Field(description="of those, planned by earlier uploads")
    left_out: dict[EuFmdPackState, int] = Field(description="serials the hub is not told of, by pack state")
    states_after_upload: dict[EuFmdPackState, int] = Field(description="uploaded Active, their state to follow")
    packs: int = Field(description="serials sent in this upload")
    acknowledged: int = Field(description="of those, acknowledged by the hub")
    status: str = Field(description="sending, acknowledged (every chunk), refused (a chunk), reconciled or mismatch")
    reconciliation: dict[str, Any] | None = Field(description="the hub's count of the batch against what was planned")
    chunks: list[ChunkOut]


class MasterDataVersionOut(BaseModel):
    version: int
    status: str = Field(description="sending, acknowledged or refused")
    reason: str | None
    recorded_at: datetime


class OpenAlertOut(BaseModel):
    alert_id: str
    code: str
    serial: str | None
    scanned_lot: str | None = Field(description="the lot the pack was scanned with (another: a batch mismatch)")
    state: str = Field(description="new or under-investigation")
    raised_at: datetime


class ProductStatus(BaseModel):
    gtin: str
    in_force: int | None = Field(description="the version the hub acknowledged last: a batch planned now names it")
    versions: list[MasterDataVersionOut]


class PackStatesOut(BaseModel):
    pending: int = Field(
        description="changes not answered yet: waiting for their chunk's acknowledgement or their pack's earlier "
        "change, or being sent"
    )
    changed: int = Field(description="changes the hub took")
    refused: int = Field(description="changes the hub refused, or that failed every attempt")
    not_sent: int = Field(description="undos never sent: the batch is recalled or withdrawn")


class BatchStatus(BaseModel):
    gtin: str
    lot: str
    hub_state: str | None = Field(description="Recalled or Withdrawn at the hub, with the hub's answer; null: neither")
    pack_states: PackStatesOut = Field(description="state changes of the batch's uploaded packs")
    status: str = Field(
        description="not-uploaded, sending, refused, acknowledged or reconciled (the latest upload's; reconciled "
        "only when the hub's count matched)"
    )
    packs_planned: int = Field(description="serials sent or being sent, every upload of the batch")
    packs_acknowledged: int
    uploads: list[UploadOut]
    open_alerts: list[OpenAlertOut] = Field(description="the batch's alerts not closed yet (`GET /v1/fmd/alerts`)")
    master_data: list[MasterDataVersionOut] = Field(description="the product's versions and the hub's answers")


class UploadAccepted(BaseModel):
    upload_id: UUID
    packs: int = Field(description="serials to send")
    chunks: int
    left_out: dict[EuFmdPackState, int]
    states_after_upload: dict[EuFmdPackState, int]
    status_url: str
