"""The shapes of request bodies. Strict (no "1" for 1, no true for 1) and closed (an unknown field is
refused, naming it): a sender's typo should fail here, loudly, rather than be ignored by the hub.

The pack upload is not here: its 250,000 serials are checked by hand (uploads.py), which is several
times faster than building a model around them."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eu_hub_simulator.rules import Refused

NonEmpty = Annotated[str, Field(min_length=1)]
PackState = Literal[
    "Supplied", "Exported", "Checked-out", "Stolen", "Sample", "Free sample", "Locked", "Destroyed", "Active"
]
Decommissioned = Literal[
    "Supplied", "Exported", "Checked-out", "Stolen", "Sample", "Free sample", "Locked", "Destroyed"
]

# What a malformed body is answered with when no rule-specific code applies.
NOT_JSON = "NMVS_FE_REQ_01"
BAD_FIELD = "NMVS_FE_REQ_02"


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class MarketEntry(Strict):
    market: str
    national_code: str | None = None  # absent or blank is NMVS_FE_MD_03, not a shape error


class Party(Strict):
    name: str
    id: str


class Product(Strict):
    coding_scheme: Literal["GTIN", "NTIN", "PPN"]
    version: Annotated[int, Field(ge=1)]
    name: NonEmpty
    common_name: NonEmpty
    pharmaceutical_form: NonEmpty
    strength: NonEmpty
    pack_type: str
    pack_size: Annotated[int, Field(ge=1)]
    markets: Annotated[list[MarketEntry], Field(min_length=1, max_length=31)]
    mah: Party
    wholesalers: Annotated[list[Party], Field(max_length=50)] = []


class PackChange(Strict):
    batch_id: str
    expiry: str
    state: PackState
    location: str
    undo: bool = False


class BatchChange(Strict):
    state: Literal["Recalled", "Withdrawn"]
    reason: NonEmpty


class Verify(Strict):
    product_code: str
    serial: str
    batch_id: str
    expiry: str
    market: str
    location: str
    decommission: Decommissioned | None = None


class FaultAnswer(Strict):
    status: Annotated[int, Field(ge=100, le=599)] = 200
    delay: Annotated[float, Field(ge=0, le=600)] = 0.0
    retry_after: str | None = None
    process: bool | None = None


class FaultScript(Strict):
    answers: Annotated[list[FaultAnswer], Field(min_length=1, max_length=10_000)]
    path: str | None = None


class ClockOffset(Strict):
    offset_seconds: float


M = TypeVar("M", bound=BaseModel)


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise Refused(400, NOT_JSON, f"the body is not JSON: {error}") from None


def field_name(loc: tuple[int | str, ...]) -> str:
    """('markets', 0, 'market') → 'markets[0].market', as a person would write it."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def parse(model: type[M], body: bytes, code: str = BAD_FIELD) -> M:
    """The body as `model`, or the refusal naming the first field that is missing or wrong."""
    data = parse_json(body)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = [f"{field_name(e['loc'])}: {e['msg']}" for e in error.errors()]
        raise Refused(422, code, f"invalid field {problems[0]}", problems) from None
