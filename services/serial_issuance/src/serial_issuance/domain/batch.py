"""Batches (stream `batch-<gtin>-<lot>`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from serialtrail_contracts.serials import BatchRegistered, LineRegistered, SiteRegistered
from serialtrail_gs1.keys import lot_problem, require_gln
from serialtrail_gs1.rules import LOT
from serialtrail_kit.errors import Conflict, InvalidInput, Violation

from serial_issuance.domain.rules import (
    AFTER_MANUFACTURE,
    MADE_BY_SITES_CMO,
    MADE_ON_CMOS_LINE,
    UNIQUE,
    WITHIN_SHELF_LIFE,
)


def stream_id(gtin: str, lot: str) -> str:
    return f"batch-{gtin}-{lot}"


def expiry_problem(expiry: date, registered_on: date, max_shelf_life: timedelta) -> Violation | None:
    """A batch is registered when it is made: its expiry lies after that day, and no further
    from it than the longest shelf life the company allows (a year typed as 2099 or 0001)."""
    if expiry <= registered_on:
        message = f"expiry {expiry} is not after the batch's manufacture (registered on {registered_on})"
        return AFTER_MANUFACTURE.at("expiry", message)
    if expiry > registered_on + max_shelf_life:
        latest = registered_on + max_shelf_life
        message = (
            f"expiry {expiry} is beyond the longest shelf life ({max_shelf_life.days} days: {latest} at the latest)"
        )
        return WITHIN_SHELF_LIFE.at("expiry", message)
    return None


def register(
    existing: Sequence[BatchRegistered],
    proposed: BatchRegistered,
    today: date,
    max_shelf_life: timedelta,
    site: SiteRegistered | None = None,
) -> BatchRegistered:
    """Registering the same again is answered with what was registered (checked then). `site`:
    the site registered with the batch's `site_gln`, if one is."""
    problem = lot_problem(proposed.lot)
    if problem is not None:
        raise InvalidInput(problem, [LOT.at("lot", problem)])
    require_gln(proposed.site_gln, "site_gln")
    if existing:
        if existing[-1] == proposed:
            return existing[-1]
        raise Conflict(
            f"batch {proposed.lot} of {proposed.gtin} is already registered with different data",
            [UNIQUE.at("lot", "already registered for this GTIN")],
        )
    implausible = expiry_problem(proposed.expiry, today, max_shelf_life) or cmo_problem(proposed, site)
    if implausible is not None:
        raise InvalidInput(implausible.message, [implausible])
    return proposed


def cmo_problem(proposed: BatchRegistered, site: SiteRegistered | None) -> Violation | None:
    """A site a CMO operates makes that CMO's batches only: its batches name it, so the CMO's key
    reaches them and no other party's batch is recorded as made there. A site of the company's own,
    or one not registered, makes anyone's."""
    if site is None or site.cmo_id is None or proposed.cmo_id == site.cmo_id:
        return None
    message = f"site {site.gln} is operated by CMO {site.cmo_id}: a batch made there names cmo_id {site.cmo_id}"
    return MADE_BY_SITES_CMO.at("cmo_id", message)


def made_on(line: LineRegistered, batch: BatchRegistered) -> Violation | None:
    """A line a CMO operates makes that CMO's batches only (as its site does): a key narrowed to
    the line, not to a CMO, cannot make another party's batch there."""
    if line.cmo_id is None or batch.cmo_id == line.cmo_id:
        return None
    message = f"line {line.line_id} is operated by CMO {line.cmo_id}; batch {batch.lot} is not {line.cmo_id}'s"
    return MADE_ON_CMOS_LINE.at("lot", message)
