"""Principals, their roles and scopes: the identity vocabulary every service shares.
Which role holds which permission is declared by each service with its routes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from serialtrail_contracts.base import Contract, EventContract, event_types


class Role(StrEnum):
    admin = "admin"
    qa = "qa"
    cmo = "cmo"
    line = "line"
    partner = "partner"
    auditor = "auditor"


# Roles that see everything unless their key narrows them; the others must be scoped.
UNSCOPED_BY_DEFAULT = frozenset({Role.admin, Role.qa, Role.auditor})


# The dimensions of a scope, with what each restricts (API and CLI describe them from here).
SCOPE_DIMENSIONS = {
    "company_prefixes": "GS1 company prefixes in scope",
    "gtins": "GTINs in scope",
    "sites": "site GLNs in scope",
    "lines": "line ids in scope",
    "cmos": "batches of these CMOs only (their cmo_id)",
}

API_KEY_EXAMPLE: dict[str, Any] = {
    "name": "ACME CMO line integration",
    "role": "cmo",
    "scope": {"company_prefixes": ["9506000"], "cmos": ["ACME"]},
}
SIGNATURE_EXAMPLE: dict[str, Any] = {
    "record": {"service": "serial_issuance", "global_position": 42},
    "meaning": "approved",
    "reason": "batch record reviewed",
    "credential": "st_… (your API key again, or a fresh OIDC token)",
}


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

    @classmethod
    def nothing(cls) -> Scope:
        """Restricted in the dimensions that decide ownership, to nothing at all."""
        return cls(frozenset(), frozenset(), frozenset(), frozenset())

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


# --- Events of the identity service, published on `serialtrail.identity.v1` -------------------
# Every service keeps its own read model of the keys (from these events) to authenticate with.


class ApiKeyCreated(EventContract):
    """A key was issued. Only the argon2id hash of its secret is recorded (and published: every
    service verifies keys against its own copy); the token is shown to its requester once."""

    EVENT_TYPE: ClassVar[str] = "identity.ApiKeyCreated"
    EVENT_VERSION: ClassVar[int] = 1

    key_id: str
    principal_id: str
    name: str
    role: Role
    scope: dict[str, list[str] | None]
    expires_at: datetime | None = None
    secret_hash: str


class ApiKeyRevoked(EventContract):
    EVENT_TYPE: ClassVar[str] = "identity.ApiKeyRevoked"
    EVENT_VERSION: ClassVar[int] = 1

    key_id: str
    reason: str


class AccessRefused(EventContract):
    """A request refused (401, 403, 429), recorded in the log of the service that refused it."""

    EVENT_TYPE: ClassVar[str] = "identity.AccessRefused"
    EVENT_VERSION: ClassVar[int] = 1

    status: int
    reason: str
    method: str
    path: str
    principal_id: str | None = None
    presented_key_id: str | None = None


class RecordedRef(Contract):
    service: str
    global_position: int


class RecordSigned(EventContract):
    """An electronic signature, recorded in the log that holds the signed record and bound to
    that record's chain hash."""

    EVENT_TYPE: ClassVar[str] = "identity.RecordSigned"
    EVENT_VERSION: ClassVar[int] = 1

    signature_id: str
    signer_id: str
    printed_name: str
    signer_role: str
    meaning: str
    reason: str | None = None
    record: RecordedRef
    record_hash: str


EVENTS = event_types(ApiKeyCreated, ApiKeyRevoked, AccessRefused, RecordSigned)
# What every service may record in its own log besides its own contracts.
RECORDED_BY_EVERY_SERVICE = event_types(AccessRefused, RecordSigned)
