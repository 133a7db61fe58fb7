"""Product master data (stream `product-<gtin>`)."""

from __future__ import annotations

from collections.abc import Sequence

from serialtrail_contracts.serials import ProductRegistered
from serialtrail_gs1.keys import require_gtin
from serialtrail_kit.errors import Conflict, InvalidInput

from serial_issuance.domain.rules import NDC_IN_GTIN, SERIAL_RANDOMISATION, UNIQUE
from serial_issuance.domain.serial_format import SerialFormat

EU_MARKETS = {"EU", "EEA"} | {
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
    "XI",  # Northern Ireland: EU FMD applies (Windsor Framework)
}


def stream_id(gtin: str) -> str:
    return f"product-{gtin}"


def serial_format(product: ProductRegistered) -> SerialFormat:
    return SerialFormat(product.serial_length, product.serial_alphabet)


def register(existing: Sequence[ProductRegistered], proposed: ProductRegistered) -> ProductRegistered:
    require_gtin(proposed.gtin)
    problem = serial_format(proposed).problem()
    if problem is not None:
        raise InvalidInput(problem, [SERIAL_RANDOMISATION.at("serial_length", problem)])
    if proposed.ndc is not None and not _ndc_matches(proposed.ndc, proposed.gtin):
        message = "an NDC must be 10 digits and appear in the GTIN (GS1 US: GTIN = 0 + 03 + NDC + check)"
        raise InvalidInput(message, [NDC_IN_GTIN.at("ndc", message)])
    if existing:
        if existing[-1] == proposed:
            return existing[-1]  # the same registration again is a no-op, not an error
        raise Conflict(
            f"product {proposed.gtin} is already registered with different master data",
            [UNIQUE.at("gtin", "already registered")],
        )
    return proposed


def _ndc_matches(ndc: str, gtin: str) -> bool:
    digits = ndc.replace("-", "")
    return len(digits) == 10 and digits.isascii() and digits.isdigit() and gtin[3:13] == digits


def for_eu(product: ProductRegistered) -> bool:
    return any(m.upper() in EU_MARKETS for m in product.target_markets)
