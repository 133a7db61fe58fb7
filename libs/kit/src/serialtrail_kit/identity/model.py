"""Principals, roles, permissions and scopes. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    qa = "qa"
    cmo = "cmo"
    line = "line"
    partner = "partner"
    auditor = "auditor"


class Permission(StrEnum):
    master_data_read = "master-data:read"
    master_data_write = "master-data:write"
    batches_write = "batches:write"
    serials_read = "serials:read"
    serials_request = "serials:request"
    serials_import = "serials:import"
    serials_commission = "serials:commission"
    sscc_request = "sscc:request"
    aggregation_pack = "aggregation:pack"
    aggregation_read = "aggregation:read"
    identity_admin = "identity:admin"
    access_audit_read = "access-audit:read"
    sign = "records:sign"
    signatures_read = "signatures:read"
    audit_trail_read = "audit-trail:read"


_READS = {Permission.master_data_read, Permission.serials_read, Permission.aggregation_read}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.qa: frozenset(_READS | {Permission.sign, Permission.signatures_read, Permission.audit_trail_read}),
    Role.auditor: frozenset(
        _READS | {Permission.access_audit_read, Permission.signatures_read, Permission.audit_trail_read}
    ),
    Role.cmo: frozenset(
        _READS
        | {
            Permission.batches_write,
            Permission.serials_request,
            Permission.serials_import,
            Permission.serials_commission,
            Permission.sscc_request,
            Permission.aggregation_pack,
        }
    ),
    Role.line: frozenset(_READS | {Permission.serials_commission, Permission.aggregation_pack}),
    Role.partner: frozenset(),  # reads what was shipped to it: arrives with the reporting service
}
# Roles that see everything unless their key narrows them; the others must be scoped.
UNSCOPED_BY_DEFAULT = {Role.admin, Role.qa, Role.auditor}


@dataclass(frozen=True)
class Scope:
    """What a principal may touch. An empty set with `all_*` False means nothing; `None`
    fields are unrestricted."""

    company_prefixes: frozenset[str] | None = None
    gtins: frozenset[str] | None = None
    sites: frozenset[str] | None = None
    lines: frozenset[str] | None = None
    cmos: frozenset[str] | None = None  # batches whose cmo_id is one of these

    @classmethod
    def unrestricted(cls) -> Scope:
        return cls()

    def as_json(self) -> dict[str, list[str] | None]:
        return {
            name: (sorted(value) if value is not None else None)
            for name, value in (
                ("company_prefixes", self.company_prefixes),
                ("gtins", self.gtins),
                ("sites", self.sites),
                ("lines", self.lines),
                ("cmos", self.cmos),
            )
        }

    @classmethod
    def from_json(cls, data: dict[str, list[str] | None]) -> Scope:
        def get(name: str) -> frozenset[str] | None:
            value = data.get(name)
            return None if value is None else frozenset(value)

        return cls(get("company_prefixes"), get("gtins"), get("sites"), get("lines"), get("cmos"))

    def allows_gtin(self, gtin: str) -> bool:
        if self.gtins is None and self.company_prefixes is None:
            return True
        in_gtins = self.gtins is not None and gtin in self.gtins
        in_prefix = self.company_prefixes is not None and any(gtin[1:].startswith(p) for p in self.company_prefixes)
        return in_gtins or in_prefix

    def allows_company_prefix(self, prefix: str) -> bool:
        return self.company_prefixes is None or prefix in self.company_prefixes

    def allows_site(self, gln: str) -> bool:
        return self.sites is None or gln in self.sites

    def allows_line(self, line: str) -> bool:
        return self.lines is None or line in self.lines

    def allows_cmo(self, cmo: str) -> bool:
        return self.cmos is None or cmo in self.cmos


@dataclass(frozen=True)
class Target:
    """The scoped things a request touches, taken from the request itself."""

    gtins: frozenset[str] = frozenset()
    company_prefixes: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    lines: frozenset[str] = frozenset()
    cmos: frozenset[str] = frozenset()


NO_CMO = "(no cmo)"  # the cmo target of a batch that names none: only unrestricted principals reach it


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    role: Role
    auth_method: str
    scope: Scope = field(default_factory=Scope)

    def missing_permission(self, permission: Permission) -> str | None:
        if permission in ROLE_PERMISSIONS[self.role]:
            return None
        return f"role {self.role.value} lacks permission {permission.value}"

    def missing_scope(self, target: Target) -> str | None:
        """Names the first scope the principal lacks for `target`, or None."""
        checks: Iterable[tuple[str, frozenset[str], object]] = (
            ("gtin", target.gtins, self.scope.allows_gtin),
            ("company-prefix", target.company_prefixes, self.scope.allows_company_prefix),
            ("site", target.sites, self.scope.allows_site),
            ("line", target.lines, self.scope.allows_line),
            ("cmo", target.cmos, self.scope.allows_cmo),
        )
        for kind, values, allows in checks:
            for value in sorted(values):
                if not allows(value):  # type: ignore[operator]
                    return f"{kind}:{value}"
        return None
