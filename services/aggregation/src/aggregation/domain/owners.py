"""Whose what a pack or unpack touches is: the scope dimensions a principal needs, checked in one
place (`Scope.missing`) for a request's principal and for the sender of an EPCIS capture alike.

What a command names is its own: an SGTIN is its GTIN's company's, an SSCC the company's whose
prefix it carries, a line its own, its site's and the CMO's operating it. What the hierarchy
says of a parent (the CMOs of what it holds, the line it was formed on) is looked up in the read
model (`projections.hierarchy.queries.owner_of`); a principal lacking it is answered as if the
parent held nothing it may see (`outside_scope`)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from operator import attrgetter

from serialtrail_contracts.identity import NO_CMO, Scope, Target
from serialtrail_gs1.identity import ObjectId
from serialtrail_kit.errors import Conflict, DomainError

from aggregation.domain import rules
from aggregation.domain.hierarchy import InScope
from aggregation.domain.objects import Line

_GTIN, _SSCC = attrgetter("gtin"), attrgetter("sscc")


def named_by(objects: Iterable[ObjectId]) -> Target:
    """The GTINs of the SGTINs and the SSCCs themselves: each carries its company. (A pallet
    names thousands: `map` walks them in C.)"""
    objects = list(objects)
    gtins, ssccs = set(map(_GTIN, objects)), set(map(_SSCC, objects))
    gtins.discard(None)
    ssccs.discard(None)
    return Target(gtins=frozenset(gtins), ssccs=frozenset(ssccs))


def line_owner(line: Line) -> Target:
    return Target(
        lines=frozenset({line.line_id}), sites=frozenset({line.site_gln}), cmos=frozenset({line.cmo_id or NO_CMO})
    )


def narrowed(scope: Scope) -> bool:
    """Scoped to some CMOs or lines: such a principal is told nothing of what lies outside."""
    return scope.cmos is not None or scope.lines is not None


def children_in_scope(scope: Scope) -> InScope:
    """For the children of a pack: may `scope` touch units of this CMO's batches? (None: it is
    not narrowed to CMOs.)"""
    if scope.cmos is None:
        return None

    @functools.cache
    def allowed(cmo: str | None) -> bool:  # asked once per child, answered once per CMO
        return scope.missing(Target(cmos=frozenset({cmo or NO_CMO}))) is None

    return allowed


OUTSIDE_SCOPE = "holds units of a batch outside your scope, or was formed on a line outside it"


def outside_scope(field: str = "parent") -> DomainError:
    """A pack into a parent, or of a case or pallet, whose contents or line the principal lacks:
    one answer for every such case, naming no one else's CMO, line or units."""
    return Conflict(f"a parent, or a case or pallet packed, {OUTSIDE_SCOPE}", [rules.IN_SCOPE.at(field, OUTSIDE_SCOPE)])
