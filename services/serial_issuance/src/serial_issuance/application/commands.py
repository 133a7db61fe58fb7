"""Commands the service accepts: plain values, already shaped by the entrypoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from serialtrail_contracts.serials import LineRegistered, OutputForm


@dataclass(frozen=True, kw_only=True)
class RequestSerials:
    gtin: str
    lot: str | None
    quantity: int
    output_form: OutputForm


@dataclass(frozen=True, kw_only=True)
class ImportSerials:
    gtin: str
    lot: str | None
    source: str
    serials: list[str]


@dataclass(frozen=True, kw_only=True)
class RequestSsccs:
    company_prefix: str
    extension_digit: int
    quantity: int


@dataclass(frozen=True, kw_only=True)
class Commission:
    commissioning_id: UUID
    gtin: str | None
    serials: list[str]
    epcs: list[str]
    scans: list[str]
    lot: str
    expiry: date | None
    line: LineRegistered  # resolved from the line the request named (by id or SGLN)
    event_time: datetime
