"""Reads of the grants in force (`partner_grants`, kept by the repository read model)."""

from __future__ import annotations

from typing import Any

from serialtrail_contracts.identity import Principal, Role
from serialtrail_gs1.epcis_checks import batch_link
from serialtrail_kit.db import Pool

from epcis_reporting.projections.repository import RM

MOST = 1000


async def one(pool: Pool, partner_gln: str, gtin: str, lot: str) -> Any:
    async with pool.acquire() as conn:
        return await conn.fetchrow(
            f"SELECT * FROM {RM}.partner_grants WHERE partner_gln = $1 AND batch = $2",
            partner_gln,
            batch_link(gtin, lot),
        )


async def visible(pool: Pool, principal: Principal, partner_gln: str | None, gtin: str | None) -> list[Any]:
    """The grants in force `principal` may see: a partner those to the GLNs it acts for; a key
    narrowed to products or company prefixes those of its products."""
    args: list[Any] = []
    conditions = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    scope = principal.scope
    if principal.role == Role.partner:
        conditions.append(f"partner_gln = ANY({arg(sorted(scope.sites or ()))}::text[])")
    if scope.gtins is not None and principal.role != Role.partner:
        conditions.append(f"gtin = ANY({arg(sorted(scope.gtins))}::text[])")
    if scope.company_prefixes is not None and principal.role != Role.partner:
        prefixes = arg(sorted(scope.company_prefixes))
        conditions.append(f"EXISTS (SELECT FROM unnest({prefixes}::text[]) p WHERE substr(gtin, 2) LIKE p || '%')")
    if partner_gln is not None:
        conditions.append(f"partner_gln = {arg(partner_gln)}")
    if gtin is not None:
        conditions.append(f"gtin = {arg(gtin)}")
    where = " AND ".join(conditions) or "true"
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                f"SELECT * FROM {RM}.partner_grants WHERE {where} ORDER BY granted_at DESC LIMIT {MOST}", *args
            )
        )
