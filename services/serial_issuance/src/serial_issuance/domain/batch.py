"""Batches (stream `batch-<gtin>-<lot>`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from serialtrail_contracts.serials import BatchRegistered
from serialtrail_gs1.keys import CHARSET_82, require_gln
from serialtrail_kit.errors import Conflict, InvalidInput, Violation

_LOT = re.compile(r"^.{1,20}$")


def stream_id(gtin: str, lot: str) -> str:
    return f"batch-{gtin}-{lot}"


def lot_problem(lot: str) -> str | None:
    if not _LOT.match(lot) or not CHARSET_82.match(lot):
        return "a lot is 1 to 20 characters from GS1 character set 82 (AI 10)"
    return None


def register(existing: Sequence[BatchRegistered], proposed: BatchRegistered) -> BatchRegistered:
    problem = lot_problem(proposed.lot)
    if problem is not None:
        raise InvalidInput(problem, [Violation("lot", "gs1-ai-10", problem)])
    require_gln(proposed.site_gln, "site_gln")
    if existing:
        if existing[-1] == proposed:
            return existing[-1]
        raise Conflict(
            f"batch {proposed.lot} of {proposed.gtin} is already registered with different data",
            [Violation("lot", "unique", "already registered for this GTIN")],
        )
    return proposed
