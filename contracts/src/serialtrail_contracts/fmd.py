"""Events of the EU FMD hub service, published on `serialtrail.fmd.v1`: what was sent to the
European Hub (product master data versions, batch uploads in chunks) and what the hub answered.

A batch's serials travel on this log in parts (`PacksPlanned`, at most `PART_SERIALS` each), so
that no message grows with the batch; a chunk sent to the hub is the parts of that chunk."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from serialtrail_contracts.base import Contract, EventContract, event_types
from serialtrail_contracts.exception_vocabulary import EuFmdPackState

PART_SERIALS = 10_000  # serials per PacksPlanned / PacksLeftOut event


class MarketCode(Contract):
    """A market the product is placed on, with its national code (NHRN: PZN, CIP, AIC …)."""

    market: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 (XI: Northern Ireland)")
    national_code: str = Field(min_length=1, max_length=20)


class Party(Contract):
    name: str = Field(min_length=1, max_length=200)
    id: str = Field(min_length=1, max_length=50, description="the party's identifier at the hub (e.g. a GLN)")


class MasterDataVersioned(EventContract):
    """A version of a product's master data for the hub. A batch upload names the version in
    force when it was planned; a later version never changes an uploaded batch's."""

    EVENT_TYPE: ClassVar[str] = "fmd.MasterDataVersioned"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: str
    version: int = Field(ge=1)
    coding_scheme: str = "GTIN"
    name: str
    common_name: str
    pharmaceutical_form: str
    strength: str
    pack_type: str
    pack_size: int = Field(ge=1)
    markets: tuple[MarketCode, ...]
    mah: Party
    wholesalers: tuple[Party, ...] = ()


class MasterDataAcknowledged(EventContract):
    EVENT_TYPE: ClassVar[str] = "fmd.MasterDataAcknowledged"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: str
    version: int
    job_id: UUID
    attempts: int


class MasterDataRefused(EventContract):
    """The hub refused the version for good, or did not answer within the attempts allowed."""

    EVENT_TYPE: ClassVar[str] = "fmd.MasterDataRefused"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: str
    version: int
    job_id: UUID
    reason: str
    status: int | None = None
    attempts: int


class ChunkPlan(Contract):
    index: int = Field(ge=0)
    packs: int = Field(ge=1)


class UploadPlanned(EventContract):
    """A batch's pack data, planned for the hub: the batch's commissioned serials not uploaded
    before, less those taken out before upload that the hub is never told of (line rejects,
    destroyed), sent in chunks. Those taken out in another way (a sample, stolen, locked) are
    uploaded Active and their state follows (`states_after_upload`)."""

    EVENT_TYPE: ClassVar[str] = "fmd.UploadPlanned"
    EVENT_VERSION: ClassVar[int] = 1

    upload_id: UUID
    gtin: str
    lot: str
    expiry: date
    master_data_version: int
    markets: tuple[str, ...]
    commissioned: int  # the batch's commissioned serials known when planned
    uploaded_before: int  # of those, uploaded by earlier uploads of the batch
    left_out: dict[EuFmdPackState, int] = {}
    states_after_upload: dict[EuFmdPackState, int] = {}
    chunks: tuple[ChunkPlan, ...]


class PacksPlanned(EventContract):
    """Serials of one chunk of an upload (a part of it: a chunk spans several of these)."""

    EVENT_TYPE: ClassVar[str] = "fmd.PacksPlanned"
    EVENT_VERSION: ClassVar[int] = 1

    upload_id: UUID
    gtin: str
    lot: str
    chunk: int
    serials: tuple[str, ...] = Field(min_length=1)
    states: dict[str, EuFmdPackState] = {}  # of these, those whose state follows the upload


class PacksLeftOut(EventContract):
    """Serials of the batch the hub is not told of, and why (taken out before upload)."""

    EVENT_TYPE: ClassVar[str] = "fmd.PacksLeftOut"
    EVENT_VERSION: ClassVar[int] = 1

    upload_id: UUID
    gtin: str
    lot: str
    state: EuFmdPackState
    serials: tuple[str, ...] = Field(min_length=1)


class ChunkAcknowledged(EventContract):
    EVENT_TYPE: ClassVar[str] = "fmd.ChunkAcknowledged"
    EVENT_VERSION: ClassVar[int] = 1

    upload_id: UUID
    gtin: str
    lot: str
    chunk: int
    packs: int  # the hub's count of the chunk's packs accepted
    batch_packs: int | None = None  # the hub's count of the batch's packs, after it
    job_id: UUID
    attempts: int


class ChunkRefused(EventContract):
    """The hub refused a chunk for good, or did not answer within the attempts allowed: an
    operator looks at why and retries it (`serialtrail jobs retry`)."""

    EVENT_TYPE: ClassVar[str] = "fmd.ChunkRefused"
    EVENT_VERSION: ClassVar[int] = 1

    upload_id: UUID
    gtin: str
    lot: str
    chunk: int
    job_id: UUID
    reason: str
    status: int | None = None
    attempts: int


class UploadReconciled(EventContract):
    """Every chunk of the upload acknowledged, the hub asked for the batch's count: `matched`
    when the hub holds exactly the packs the batch's uploads planned."""

    EVENT_TYPE: ClassVar[str] = "fmd.UploadReconciled"
    EVENT_VERSION: ClassVar[int] = 1

    upload_id: UUID
    gtin: str
    lot: str
    planned: int  # packs of the batch planned by every upload so far
    acknowledged: int  # packs the hub acknowledged chunk by chunk
    hub_packs: int  # the hub's count of the batch's packs
    matched: bool


class ReconciliationFailed(EventContract):
    EVENT_TYPE: ClassVar[str] = "fmd.ReconciliationFailed"
    EVENT_VERSION: ClassVar[int] = 1

    upload_id: UUID
    gtin: str
    lot: str
    job_id: UUID
    reason: str
    status: int | None = None
    attempts: int


class TakenOutNoted(EventContract):
    """Line exceptions took packs out of the supply chain (`state`), or put them back (`undone`:
    back to Active). Those planned for the hub (`to_hub`: serial → lot) have the change sent once
    their chunk is acknowledged, one change at a time per pack; the others are noted, for an upload
    to leave them out or send their state after them."""

    EVENT_TYPE: ClassVar[str] = "fmd.TakenOutNoted"
    EVENT_VERSION: ClassVar[int] = 1

    exception_id: UUID
    gtin: str
    serials: tuple[str, ...] = Field(min_length=1)
    state: EuFmdPackState
    undone: bool = False
    location: str  # where it happened: the line's site (GLN), as the hub checks an undo against
    to_hub: dict[str, str] = {}
    refused_undo: dict[str, str] = {}  # serial → why an undo is not sent (the batch recalled or withdrawn)


class PackStateChanged(EventContract):
    EVENT_TYPE: ClassVar[str] = "fmd.PackStateChanged"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: str
    serial: str
    lot: str
    seq: int  # the pack's n-th change sent
    state: EuFmdPackState
    undo: bool
    job_id: UUID
    attempts: int


class PackStateRefused(EventContract):
    EVENT_TYPE: ClassVar[str] = "fmd.PackStateRefused"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: str
    serial: str
    lot: str
    seq: int
    state: EuFmdPackState
    undo: bool
    job_id: UUID
    reason: str
    status: int | None = None
    attempts: int


class BatchHubState(StrEnum):
    recalled = "Recalled"
    withdrawn = "Withdrawn"


class BatchStateRequested(EventContract):
    """A batch recalled or withdrawn at the hub: irreversible, signed by QA (the signature is
    recorded with it, bound to its hash)."""

    EVENT_TYPE: ClassVar[str] = "fmd.BatchStateRequested"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: str
    lot: str
    state: BatchHubState
    reason: str


class BatchStateChanged(EventContract):
    EVENT_TYPE: ClassVar[str] = "fmd.BatchStateChanged"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: str
    lot: str
    state: BatchHubState
    job_id: UUID
    attempts: int


class BatchStateRefused(EventContract):
    EVENT_TYPE: ClassVar[str] = "fmd.BatchStateRefused"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: str
    lot: str
    state: BatchHubState
    job_id: UUID
    reason: str
    status: int | None = None
    attempts: int


class AlertReceived(EventContract):
    """An alert the hub raised for the marketing authorisation holder (a pack a pharmacy could not
    verify: unknown product code, batch mismatch, already decommissioned …), fetched and linked to
    the serial or batch it names. `next_cursor`: where the next fetch starts (the last of a page)."""

    EVENT_TYPE: ClassVar[str] = "fmd.AlertReceived"
    EVENT_VERSION: ClassVar[int] = 1

    alert_id: str
    code: str
    message: str
    product_code: str
    lot: str | None = None
    serial: str | None = None
    market: str | None = None
    location: str | None = None
    raised_at: datetime
    next_cursor: str | None = None


class AlertInvestigated(EventContract):
    """Under investigation, linked to a deviation in line exceptions (the investigation with its
    root cause and CAPA) when one is named."""

    EVENT_TYPE: ClassVar[str] = "fmd.AlertInvestigated"
    EVENT_VERSION: ClassVar[int] = 1

    alert_id: str
    note: str
    deviation_id: UUID | None = None


class AlertClosed(EventContract):
    EVENT_TYPE: ClassVar[str] = "fmd.AlertClosed"
    EVENT_VERSION: ClassVar[int] = 1

    alert_id: str
    reason: str


EVENTS = event_types(
    MasterDataVersioned,
    MasterDataAcknowledged,
    MasterDataRefused,
    UploadPlanned,
    PacksPlanned,
    PacksLeftOut,
    ChunkAcknowledged,
    ChunkRefused,
    UploadReconciled,
    ReconciliationFailed,
    TakenOutNoted,
    PackStateChanged,
    PackStateRefused,
    BatchStateRequested,
    BatchStateChanged,
    BatchStateRefused,
    AlertReceived,
    AlertInvestigated,
    AlertClosed,
)
