"""Whose serial issuance's records are: the scope dimensions a principal needs to touch them,
checked in one place (`Scope.missing`) for a request and for a capture alike."""

from __future__ import annotations

from serialtrail_contracts.identity import NO_CMO, Target
from serialtrail_contracts.serials import BatchRegistered, LineRegistered, SiteRegistered


def batch_owner(batch: BatchRegistered | None) -> Target:
    """Whose a batch is (None: records not tied to a batch)."""
    if batch is None:
        return Target(cmos=frozenset({NO_CMO}))
    return Target(
        gtins=frozenset({batch.gtin}), sites=frozenset({batch.site_gln}), cmos=frozenset({batch.cmo_id or NO_CMO})
    )


def site_owner(site: SiteRegistered) -> Target:
    return Target(sites=frozenset({site.gln}), cmos=frozenset({site.cmo_id or NO_CMO}))


def line_owner(line: LineRegistered) -> Target:
    return Target(
        lines=frozenset({line.line_id}), sites=frozenset({line.site_gln}), cmos=frozenset({line.cmo_id or NO_CMO})
    )
