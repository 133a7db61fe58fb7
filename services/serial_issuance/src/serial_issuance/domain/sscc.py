"""SSCC ranges per company prefix and extension digit (stream `sscc-pool-<ext><prefix>`)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from serialtrail_contracts.serials import SsccRangeAllocated
from serialtrail_kit.errors import InvalidInput

from serial_issuance.domain.rules import COMPANY_PREFIX, RANGE, SSCC_CAPACITY

MAX_REQUEST = 100_000


def stream_id(extension_digit: int, company_prefix: str) -> str:
    return f"sscc-pool-{extension_digit}{company_prefix}"


def validate(company_prefix: str, extension_digit: int) -> None:
    if not (company_prefix.isascii() and company_prefix.isdigit() and 6 <= len(company_prefix) <= 12):
        message = "a GS1 company prefix is 6 to 12 digits"
        raise InvalidInput(message, [COMPANY_PREFIX.at("company_prefix", message)])
    if not 0 <= extension_digit <= 9:
        message = "the extension digit is a single digit 0-9"
        raise InvalidInput(message, [RANGE.at("extension_digit", message)])


def next_reference(events: Iterable[SsccRangeAllocated]) -> int:
    return max((e.first_reference + e.quantity for e in events), default=0)


def allocate(
    history: list[SsccRangeAllocated],
    company_prefix: str,
    extension_digit: int,
    quantity: int,
    request_id: UUID,
) -> SsccRangeAllocated:
    validate(company_prefix, extension_digit)
    if not 1 <= quantity <= MAX_REQUEST:
        message = f"quantity must be between 1 and {MAX_REQUEST:,}"
        raise InvalidInput(message, [RANGE.at("quantity", message)])
    first = next_reference(history)
    capacity = 10 ** (16 - len(company_prefix))
    if first + quantity > capacity:
        message = (
            f"only {capacity - first:,} serial references remain for prefix {company_prefix} "
            f"with extension digit {extension_digit}"
        )
        raise InvalidInput(message, [SSCC_CAPACITY.at("quantity", message)])
    return SsccRangeAllocated(
        request_id=request_id,
        company_prefix=company_prefix,
        extension_digit=extension_digit,
        first_reference=first,
        quantity=quantity,
    )
