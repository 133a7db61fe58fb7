"""Whose a capture is, as read models keep it: the columns of its owner (`domain.capture.job_owner`:
the keys its events name, its capturer's party), the owner read back from them, and the SQL that
narrows a table holding them to what a principal may read. Capture jobs and captured events are
narrowed by this one rule, but for trading partners: a partner reads only the events about objects
of batches granted to it (`domain.grants`), and whatever its key's other dimensions say."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serialtrail_contracts.epcis import Named, Scope
from serialtrail_contracts.identity import Principal, Role, Target

from epcis_reporting.domain.capture import job_owner

DDL = (
    "principal_id text NOT NULL, gtins text[] NOT NULL, ssccs text[] NOT NULL, company_prefixes text[] NOT NULL, "
    "sites text[] NOT NULL, lines text[] NOT NULL, cmos text[] NOT NULL"
)
COLUMNS = ("principal_id", "gtins", "ssccs", "company_prefixes", "sites", "lines", "cmos")


def values(received: Mapping[str, Any]) -> tuple[Any, ...]:
    """The owner columns of a `CaptureReceived` payload, in `COLUMNS` order."""
    owner = job_owner(Scope.model_validate(received["scope"]), Named.model_validate(received["names"]))
    sets = (owner.gtins, owner.ssccs, owner.company_prefixes, owner.sites, owner.lines, owner.cmos)
    return (received["principal_id"], *(sorted(s) for s in sets))


def owner(row: Mapping[str, Any]) -> Target:
    return Target(**{column: frozenset(row[column]) for column in COLUMNS[1:]})


def visible(principal: Principal, args: list[Any], alias: str) -> list[str]:
    """SQL for "its capturer, or `principal.missing_scope(owner) is None`" over `alias`'s columns."""
    scope = principal.scope
    if scope.is_unrestricted:
        return []
    args.append(principal.id)
    own = f"{alias}.principal_id = ${len(args)}"
    return [f"({own} OR ({' AND '.join(_within(scope, args, alias)) or 'true'}))"]


def events_visible(principal: Principal, args: list[Any], captures: str, events: str, schema: str) -> list[str]:
    """SQL narrowing captured events (`events`, of captures `captures`) to what `principal` may read."""
    if principal.role == Role.partner:
        return [_granted_to_partner(principal, args, events, schema)]
    return visible(principal, args, captures)


def _granted_to_partner(principal: Principal, args: list[Any], events: str, schema: str) -> str:
    """An event names objects or batches, and each is of a batch granted to a GLN the partner's key
    acts for (its scope's sites): an object of a batch not granted, or of none known (a case whose
    contents are not known, a serial no captured commissioning named the lot of), hides the event."""
    args.append(sorted(principal.scope.sites or ()))
    granted = f"ARRAY(SELECT g.batch FROM {schema}.partner_grants g WHERE g.partner_gln = ANY(${len(args)}::text[]))"
    not_granted = (
        f"NOT EXISTS (SELECT FROM {schema}.object_batches b WHERE b.epc = x.epc) OR "
        f"EXISTS (SELECT FROM {schema}.object_batches b WHERE b.epc = x.epc AND NOT b.batch = ANY({granted}))"
    )
    return (
        f"(cardinality({events}.any_epcs) + cardinality({events}.classes) > 0 AND {events}.classes <@ {granted} "
        f"AND NOT EXISTS (SELECT FROM unnest({events}.any_epcs) AS x(epc) WHERE {not_granted}))"
    )


def _within(scope: Any, args: list[Any], alias: str) -> list[str]:
    def every(column: str, allowed: str) -> str:
        return f"NOT EXISTS (SELECT FROM unnest({alias}.{column}) AS v(value) WHERE NOT ({allowed}))"

    conditions = []
    if scope.company_prefixes is not None:
        args.append(sorted(scope.company_prefixes))
        prefixes = f"${len(args)}::text[]"
        of_company = "EXISTS (SELECT FROM unnest({}) AS p(prefix) WHERE substr(v.value, 2) LIKE p.prefix || '%')"
        conditions += [
            every("gtins", of_company.format(prefixes)),
            every("ssccs", of_company.format(prefixes)),
            every("company_prefixes", f"v.value = ANY({prefixes})"),
        ]
    for allowed, column in (
        (scope.gtins, "gtins"),
        (scope.sites, "sites"),
        (scope.lines, "lines"),
        (scope.cmos, "cmos"),
    ):
        if allowed is not None:
            args.append(sorted(allowed))
            conditions.append(every(column, f"v.value = ANY(${len(args)}::text[])"))
    return conditions
