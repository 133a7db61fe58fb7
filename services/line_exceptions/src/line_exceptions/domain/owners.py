"""Whose what a record touches is: the scope dimensions a principal needs, checked in one place
(`Scope.missing`) for a request's principal and for the sender of an EPCIS capture alike.

A record to be made names its product (GTIN) and its line (the line, its site and the CMO
operating it): out of scope is a 403. Its batch's CMO is found in the records: out of scope, the
batch is answered exactly as an unknown one. A unit the caller may not see (another CMO's batch,
or for a principal narrowed to lines another line's) reads as an unknown unit."""

from __future__ import annotations

from serialtrail_contracts.identity import NO_CMO, Scope, Target

from line_exceptions.domain.records import Batch, Line


def line_owner(line: Line) -> Target:
    return Target(
        lines=frozenset({line.line_id}), sites=frozenset({line.site_gln}), cmos=frozenset({line.cmo_id or NO_CMO})
    )


def product_owner(gtin: str) -> Target:
    return Target(gtins=frozenset({gtin}))


def named(gtin: str | None, line: Line | None) -> Target:
    """What a record (or a hold) to be made names itself: its product and its line."""
    found = Target() if gtin is None else product_owner(gtin)
    return found if line is None else found | line_owner(line)


def batch_owner(batch: Batch) -> Target:
    """Whose a batch is, beside its product's: its CMO's (none: no CMO packs it)."""
    return Target(cmos=frozenset({batch.cmo_id or NO_CMO}))


def unit_visible(scope: Scope, line_id: str, cmo_id: str | None, *, of_the_batch: bool) -> bool:
    """May `scope` be told of a unit commissioned on `line_id` into a batch of `cmo_id`? A unit
    of the batch a record is for is its batch's CMO's already (checked with the batch)."""
    return scope.allows_line(line_id) and (of_the_batch or scope.allows_cmo(cmo_id or NO_CMO))
