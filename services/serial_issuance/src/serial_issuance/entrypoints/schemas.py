"""HTTP request and response bodies, with OpenAPI examples."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from serialtrail_contracts.identity import CMO_ID_PATTERN, CMO_ID_RULE
from serialtrail_contracts.serials import Address, LineRegistered, OutputForm, SerialAlphabet, SiteRegistered
from serialtrail_kit.http.body import Body, Count, Timestamp

GTIN_EXAMPLE = "09506000134352"
MAX_SCANS = 10_000  # scans may need the full parser (~13,000/s): bounded, and read off the event loop

# A CMO a key's scope can name (`Scope`'s rule for its `cmos`): no space, tab or control character.
CmoId = Annotated[str, Field(pattern=CMO_ID_PATTERN, description=f"a CMO's id: {CMO_ID_RULE}")]


class ProductIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "gtin": GTIN_EXAMPLE,
                    "company_prefix_length": 7,
                    "name": "Paracetamol 500 mg tablets",
                    "strength": "500 mg",
                    "dosage_form": "tablet",
                    "pack_size": 20,
                    "target_markets": ["DE", "FR"],
                    "serial_length": 12,
                    "serial_alphabet": "alphanumeric",
                }
            ]
        }
    )
    gtin: Annotated[str, Field(description="GTIN-14 with check digit", min_length=1, max_length=14)]
    company_prefix_length: Annotated[int, Field(ge=6, le=12)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    ndc: Annotated[str | None, Field(description="US National Drug Code (10 digits, dashes allowed)")] = None
    strength: str | None = None
    dosage_form: str | None = None
    pack_size: Annotated[int | None, Field(ge=1)] = None
    target_markets: Annotated[list[Annotated[str, Field(pattern=r"^[A-Z]{2,3}$")]], Field(max_length=60)] = []
    serial_length: Annotated[Count, Field(ge=1, le=20, description="characters per serial (AI 21)")] = 12
    serial_alphabet: SerialAlphabet = SerialAlphabet.numeric


class BatchIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"gtin": GTIN_EXAMPLE, "lot": "L2026A", "expiry": "2028-06-30", "site_gln": "9506000000008"}]
        }
    )
    gtin: str
    lot: Annotated[str, Field(min_length=1, max_length=20)]
    expiry: date
    site_gln: Annotated[str, Field(description="GLN of the manufacturing site")]
    cmo_id: CmoId | None = None


class SiteIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "gln": "9506000000008",
                    "company_prefix_length": 7,
                    "name": "Paracetamol packaging plant",
                    "address": {"street": "Industriestr. 1", "city": "Mainz", "postal_code": "55116", "country": "DE"},
                }
            ]
        }
    )
    gln: Annotated[str, Field(min_length=1, max_length=13, description="the site's GLN (13 digits, check digit)")]
    company_prefix_length: Annotated[Count, Field(ge=6, le=12, description="of the GLN's company prefix")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    address: Address
    cmo_id: Annotated[CmoId | None, Field(description="the CMO operating it")] = None


class LineIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"line_id": "LINE-1", "name": "Blister line 1", "extension": "L1"}]}
    )
    line_id: Annotated[str, Field(min_length=1, max_length=64, description="the id line systems will send")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    extension: Annotated[
        str | None,
        Field(
            min_length=1, max_length=20, description="GLN extension (AI 254) of the read point; default: the line id"
        ),
    ] = None


class SiteOut(SiteRegistered):
    lines: list[LineRegistered]


class SerialRequestIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"gtin": GTIN_EXAMPLE, "lot": "L2026A", "quantity": 1000, "output_form": "serial"}]
        }
    )
    gtin: str
    lot: str | None = None
    quantity: Annotated[Count, Field(ge=1, le=1_000_000)]
    output_form: OutputForm = OutputForm.serial


class SerialRequestOut(BaseModel):
    request_id: UUID
    gtin: str
    lot: str | None
    quantity: int
    output_form: OutputForm
    serials_url: str


class SerialImportIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "gtin": GTIN_EXAMPLE,
                    "lot": "L2026A",
                    "source": "CMO-ACME",
                    "serials": ["CMO0001", "CMO0002"],
                }
            ]
        }
    )
    gtin: str
    lot: str | None = None
    source: Annotated[str, Field(min_length=1, max_length=100, description="who supplied the list")]
    serials: Annotated[list[str], Field(min_length=1, max_length=1_000_000)]


class SerialImportOut(BaseModel):
    import_id: UUID
    gtin: str
    lot: str | None
    quantity: int


class SsccRequestIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"company_prefix": "9506000", "extension_digit": 3, "quantity": 10}]}
    )
    company_prefix: Annotated[str, Field(pattern=r"^\d{6,12}$")]
    extension_digit: Annotated[Count, Field(ge=0, le=9)]
    quantity: Annotated[Count, Field(ge=1, le=100_000)]


class SsccRequestOut(BaseModel):
    request_id: UUID
    quantity: int
    first: str
    last: str
    ssccs_url: str


class CommissioningIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "gtin": GTIN_EXAMPLE,
                    "serials": ["<a serial from a serial request>"],
                    "lot": "L2026A",
                    "expiry": "2028-06-30",
                    "line_id": "LINE-1",
                    "event_time": "2026-11-22T08:00:00Z",
                },
                {
                    "scans": ["]d201095060001343521728063010L2026A\u001d21<a serial from a serial request>"],
                    "lot": "L2026A",
                    "line_id": "urn:epc:id:sgln:9506000.00000.LINE-1",
                    "event_time": "2026-11-22T09:00:00+01:00",
                },
            ]
        }
    )
    gtin: str | None = None
    serials: Annotated[list[str], Field(max_length=100_000)] = []
    epcs: Annotated[list[str], Field(max_length=100_000, description="SGTIN pure identity URIs")] = []
    scans: Annotated[
        list[Annotated[str, Field(max_length=200)]],
        Field(
            max_length=MAX_SCANS,
            description="what the line's scanner read, in any form the line parser accepts (GS1 DataMatrix "
            "with ]d2 and GS separators, HRI, GS1 Digital Link, EPC URI): a lot or expiry they carry must be "
            "the batch's",
        ),
    ] = []
    lot: str
    expiry: date | None = Field(default=None, description="if given, must match the batch")
    line_id: Annotated[
        str, Field(min_length=1, max_length=64, description="a registered line id, or its read point's SGLN URI")
    ]
    event_time: Timestamp


class CommissioningOut(BaseModel):
    commissioning_id: UUID
    gtin: str
    lot: str
    expiry: date
    line_id: str
    read_point: str
    biz_location: str
    commissioned: int


class SerialSummaryOut(BaseModel):
    gtin: str
    lot: str
    issued: int = Field(description="serials requested for this lot (requests that named the lot)")
    imported: int
    commissioned: int
