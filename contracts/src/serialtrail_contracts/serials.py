"""Events of the serial issuance service, published on `serialtrail.serials.v1`."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from serialtrail_contracts.base import Contract, EventContract, event_types
from serialtrail_contracts.epcis import CaptureDecision
from serialtrail_contracts.locations import Sgln, with_unregistered_locations

Gtin = str  # 14 digits with a valid GS1 check digit


class SerialAlphabet(StrEnum):
    numeric = "numeric"
    alphanumeric = "alphanumeric"  # upper-case A-Z and 0-9


class OutputForm(StrEnum):
    serial = "serial"
    sgtin_uri = "sgtin-uri"
    element_string = "element-string"
    digital_link = "digital-link"


class ProductRegistered(EventContract):
    EVENT_TYPE: ClassVar[str] = "serials.ProductRegistered"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: Gtin
    company_prefix_length: int = Field(ge=6, le=12)
    name: str
    ndc: str | None = None
    strength: str | None = None
    dosage_form: str | None = None
    pack_size: int | None = None
    target_markets: tuple[str, ...] = ()
    serial_length: int = Field(ge=1, le=20)
    serial_alphabet: SerialAlphabet


class BatchRegistered(EventContract):
    EVENT_TYPE: ClassVar[str] = "serials.BatchRegistered"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: Gtin
    lot: str
    expiry: date
    site_gln: str
    cmo_id: str | None = None


class Address(Contract):
    """A postal address as EPCIS location master data carries it (CBV 2.0 §10)."""

    street: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class SiteRegistered(EventContract):
    """A manufacturing or packaging site: its GLN, and its SGLN as business location."""

    EVENT_TYPE: ClassVar[str] = "serials.SiteRegistered"
    EVENT_VERSION: ClassVar[int] = 1

    gln: str
    company_prefix_length: int = Field(ge=6, le=12)
    name: str
    address: Address
    cmo_id: str | None = None  # the CMO operating it; None: the company's own
    biz_location: Sgln


class LineRegistered(EventContract):
    """A packaging line (EPCIS read point) at a registered site. Self-contained, so a service
    that learns of lines from this topic needs no site lookup."""

    EVENT_TYPE: ClassVar[str] = "serials.LineRegistered"
    EVENT_VERSION: ClassVar[int] = 1

    line_id: str  # the short code line systems send; unique in the deployment
    name: str
    site_gln: str
    cmo_id: str | None = None  # the site's
    read_point: Sgln
    biz_location: Sgln  # the site's


class SerialPoolOpened(EventContract):
    """The pool of randomised serials for one GTIN: its format and the fingerprint of the
    key its serials are derived with (a different key would break uniqueness)."""

    EVENT_TYPE: ClassVar[str] = "serials.SerialPoolOpened"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: Gtin
    serial_length: int
    serial_alphabet: SerialAlphabet
    key_id: str
    capacity: str  # alphabet ** length, as a decimal string (may exceed 64 bits)
    max_issuable: int


class SerialsAllocated(EventContract):
    """Counters [first_counter, end_counter) minus skipped_counters map to the serials."""

    EVENT_TYPE: ClassVar[str] = "serials.SerialsAllocated"
    EVENT_VERSION: ClassVar[int] = 1

    request_id: UUID
    gtin: Gtin
    lot: str | None = None
    quantity: int
    first_counter: int
    end_counter: int
    skipped_counters: tuple[int, ...] = ()
    output_form: OutputForm


class SerialCountersReserved(EventContract):
    """Imported serials that fall inside the pool's own format: their counters are never
    allocated, so a generated serial can never repeat an imported one."""

    EVENT_TYPE: ClassVar[str] = "serials.SerialCountersReserved"
    EVENT_VERSION: ClassVar[int] = 1

    gtin: Gtin
    import_id: UUID
    counters: tuple[int, ...]


class SerialsImported(EventContract):
    EVENT_TYPE: ClassVar[str] = "serials.SerialsImported"
    EVENT_VERSION: ClassVar[int] = 1

    import_id: UUID
    gtin: Gtin
    lot: str | None = None
    source: str
    serials: tuple[str, ...]


class SsccRangeAllocated(EventContract):
    EVENT_TYPE: ClassVar[str] = "serials.SsccRangeAllocated"
    EVENT_VERSION: ClassVar[int] = 1

    request_id: UUID
    company_prefix: str
    extension_digit: int = Field(ge=0, le=9)
    first_reference: int
    quantity: int


class SerialsCommissioned(EventContract):
    """EPCIS ObjectEvent ADD, bizStep commissioning, disposition active.

    `counter_ranges` are the pool counters of those serials that have the product's serial
    format (issued by a request, or imported and reserved), as sorted [start, end) ranges;
    `unpooled_serials` are the imported serials outside that format. Together they let a
    reader keep per-batch bitmaps instead of one row per serial."""

    EVENT_TYPE: ClassVar[str] = "serials.SerialsCommissioned"
    EVENT_VERSION: ClassVar[int] = 2  # v2: read_point, biz_location (see UPCASTS)

    commissioning_id: UUID
    gtin: Gtin
    lot: str
    expiry: date
    line_id: str
    read_point: Sgln
    biz_location: Sgln
    event_time: datetime
    serials: tuple[str, ...]
    counter_ranges: tuple[tuple[int, int], ...] = ()
    unpooled_serials: tuple[str, ...] = ()


class SerialReplaced(EventContract):
    """A pack relabelled in rework: `replacement_serial` (commissioned, unused, of the same batch)
    now stands for the pack `serial` was on. Serial issuance records it when line exceptions
    records the rework (exception `exception_id`), so each serial's own history names the other."""

    EVENT_TYPE: ClassVar[str] = "serials.SerialReplaced"
    EVENT_VERSION: ClassVar[int] = 1

    exception_id: UUID
    gtin: Gtin
    lot: str
    serial: str
    replacement_serial: str
    line_id: str
    event_time: datetime


class CaptureDecided(CaptureDecision):
    """The commissioning events of an EPCIS capture, decided (see `CaptureDecision`): those
    applied are the `SerialsCommissioned` this stream's unit recorded with it."""

    EVENT_TYPE: ClassVar[str] = "serials.CaptureDecided"
    EVENT_VERSION: ClassVar[int] = 1


EVENTS = event_types(
    ProductRegistered,
    BatchRegistered,
    SiteRegistered,
    LineRegistered,
    SerialPoolOpened,
    SerialsAllocated,
    SerialCountersReserved,
    SerialsImported,
    SsccRangeAllocated,
    SerialsCommissioned,
    SerialReplaced,
    CaptureDecided,
)

# Older payload versions and the step lifting each to the next; every reader of this topic
# registers them (a service's upcasters cover what it reads, not only what it writes).
UPCASTS: dict[tuple[str, int], Any] = {
    (SerialsCommissioned.EVENT_TYPE, 1): with_unregistered_locations,
}
