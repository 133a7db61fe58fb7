"""Principals, their roles and scopes: the identity vocabulary every service shares.
Which role holds which permission is declared by each service with its routes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
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


# A CMO's id as batches and sites record it and scopes name it: one rule, so that every CMO a
# record names can be named in a key's scope.
CMO_ID_PATTERN = r"^[!-~]{1,64}$"
CMO_ID_RULE = "1 to 64 printable ASCII characters without spaces"

# What each dimension's values must look like (a scope is refused, never widened, when one does not).
_DIMENSION_FORMATS = {
    "company_prefixes": (re.compile(r"^[0-9]{4,12}$"), "4 to 12 digits (a GS1 company prefix)"),
    "gtins": (re.compile(r"^[0-9]{14}$"), "14 digits (a GTIN-14)"),
    "sites": (re.compile(r"^[0-9]{13}$"), "13 digits (a GLN)"),
    # Line ids as registered (an SGLN names a line in requests, never in a scope: one spelling each).
    "lines": (re.compile(r"^[0-9A-Za-z._-]{1,64}$"), "a line id: 1 to 64 letters, digits, '.', '_' or '-'"),
    "cmos": (re.compile(CMO_ID_PATTERN), CMO_ID_RULE),
}


_CHECKED_KEYS = frozenset({"gtins", "sites"})  # GS1 keys ending in a mod-10 check digit


def _check_digit(body: str) -> int:
    """GS1's mod-10 (weights 3, 1, 3 … from the right). Contracts depend on pydantic alone, so
    the two lines live here too; serialtrail_gs1.keys has the same for the services."""
    return -sum(int(d) * (3 - 2 * (i % 2)) for i, d in enumerate(reversed(body))) % 10


class ScopeInvalid(ValueError):
    """A scope that would not mean what its holder thinks: refused, never widened."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule, self.message = field, rule, message


@dataclass(frozen=True)
class Scope:
    """What a principal may touch. `None` fields are unrestricted; the dimensions narrow
    together (a GTIN must be in the company prefixes *and* among the GTINs, when both are
    given). Scoped roles always name their company prefixes (see `checked`)."""

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

    @property
    def is_unrestricted(self) -> bool:
        return self == Scope()

    @classmethod
    def checked(cls, data: object, role: Role) -> Scope:
        """A scope as an API, the CLI or an identity provider states it, checked strictly:
        an object of known dimensions, each a non-empty list of well-formed values; a role
        that must be scoped names its company prefixes; GTINs lie inside those prefixes.
        `None` (no scope stated) is unrestricted only for the roles that are by default."""
        if data is None:
            if role in UNSCOPED_BY_DEFAULT:
                return cls.unrestricted()
            raise ScopeInvalid("scope", "required-for-role", f"a {role.value} key or token needs a scope")
        if not isinstance(data, dict):
            raise ScopeInvalid("scope", "object", "a scope must be an object of dimensions")
        unknown = sorted(str(k) for k in data if k not in SCOPE_DIMENSIONS)
        if unknown:
            raise ScopeInvalid(f"scope.{unknown[0]}", "known-dimension", f"unknown scope dimension {unknown[0]!r}")
        values = {name: _dimension(name, data.get(name)) for name in SCOPE_DIMENSIONS}
        if role not in UNSCOPED_BY_DEFAULT and values["company_prefixes"] is None:
            message = f"a {role.value} scope must name its company_prefixes"
            raise ScopeInvalid("scope.company_prefixes", "required-for-role", message)
        scope = cls(**values)
        for gtin in sorted(scope.gtins or ()):
            if scope.company_prefixes is not None and not scope._in_prefixes(gtin[1:]):
                message = f"GTIN {gtin} is outside the scope's company prefixes"
                raise ScopeInvalid("scope.gtins", "within-company-prefixes", message)
        return scope

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
        """A scope as recorded (already checked when it was issued)."""

        def get(name: str) -> frozenset[str] | None:
            value = data.get(name)
            return None if value is None else frozenset(value)

        return cls(get("company_prefixes"), get("gtins"), get("sites"), get("lines"), get("cmos"))

    def _in_prefixes(self, digits: str) -> bool:
        # GS1 company prefixes are prefix-free: at most one can start a key.
        return self.company_prefixes is None or any(digits.startswith(p) for p in self.company_prefixes)

    def allows_gtin(self, gtin: str) -> bool:
        return self._in_prefixes(gtin[1:]) and (self.gtins is None or gtin in self.gtins)

    def allows_company_prefix(self, prefix: str) -> bool:
        return self.company_prefixes is None or prefix in self.company_prefixes

    def allows_sscc(self, sscc: str) -> bool:
        """An SSCC (18 digits) belongs to the company whose prefix follows its extension digit."""
        return self._in_prefixes(sscc[1:])

    def allows_site(self, gln: str) -> bool:
        return self.sites is None or gln in self.sites

    def allows_line(self, line: str) -> bool:
        return self.lines is None or line in self.lines

    def allows_cmo(self, cmo: str) -> bool:
        return self.cmos is None or cmo in self.cmos

    def missing(self, target: Target) -> str | None:
        """Names the first scope lacking for `target` (`site:9506000000008`), or None: the one
        ownership check, for a request's principal and for what a reactor records on a
        capturer's behalf alike."""
        checks: Iterable[tuple[str, frozenset[str], Callable[[str], bool]]] = (
            ("gtin", target.gtins, self.allows_gtin),
            ("company-prefix", target.company_prefixes, self.allows_company_prefix),
            ("sscc", target.ssccs, self.allows_sscc),
            ("site", target.sites, self.allows_site),
            ("line", target.lines, self.allows_line),
            ("cmo", target.cmos, self.allows_cmo),
        )
        for kind, values, allows in checks:
            for value in sorted(values):
                if not allows(value):
                    return f"{kind}:{value}"
        return None


def _dimension(name: str, value: object) -> frozenset[str] | None:
    if value is None:
        return None
    field = f"scope.{name}"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScopeInvalid(field, "list-of-strings", f"{field} must be a list of strings")
    if not value:
        raise ScopeInvalid(field, "non-empty", f"{field} is empty: leave it out, or name what is in scope")
    pattern, described = _DIMENSION_FORMATS[name]
    for item in value:
        if not pattern.fullmatch(item):  # not `match`: its `$` lets a final newline through
            raise ScopeInvalid(field, "format", f"{field}: {item!r} must be {described}")
        if name in _CHECKED_KEYS and _check_digit(item[:-1]) != int(item[-1]):
            expected = _check_digit(item[:-1])
            raise ScopeInvalid(field, "check-digit", f"{field}: {item!r} has a wrong check digit (expected {expected})")
    return frozenset(value)


@dataclass(frozen=True)
class Target:
    """The scoped things a request touches, taken from the request itself."""

    gtins: frozenset[str] = frozenset()
    company_prefixes: frozenset[str] = frozenset()
    ssccs: frozenset[str] = frozenset()  # 18 digits each: their company is in their digits
    sites: frozenset[str] = frozenset()
    lines: frozenset[str] = frozenset()
    cmos: frozenset[str] = frozenset()

    def __or__(self, other: Target) -> Target:
        """Both at once: what a request touches when it touches each."""
        return Target(
            gtins=self.gtins | other.gtins,
            company_prefixes=self.company_prefixes | other.company_prefixes,
            ssccs=self.ssccs | other.ssccs,
            sites=self.sites | other.sites,
            lines=self.lines | other.lines,
            cmos=self.cmos | other.cmos,
        )


NO_CMO = "(no cmo)"  # the cmo target of a batch that names none: only unrestricted principals reach it
EVERY_LINE = "(every line)"  # the line target of what covers every line: only principals not narrowed to lines


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    role: Role
    auth_method: str
    scope: Scope = field(default_factory=Scope)

    def missing_scope(self, target: Target) -> str | None:
        """Names the first scope the principal lacks for `target`, or None."""
        return self.scope.missing(target)


# A target's sites, CMOs and lines are often learnt from records, not sent (the site and CMO of the
# line or batch a request names; the line id behind a read point's SGLN): refused, the caller is told
# which dimension it lacks, never the value, which may be another party's (who packs a line, where a
# batch is made, what a line is called). The access audit keeps it.
_NOT_TOLD = frozenset({"site", "cmo", "line"})


def as_told(lacking: str) -> str:
    """`Scope.missing`'s answer as the refused caller may see it: `cmo:CMO-B` is `cmo`."""
    kind, _, _ = lacking.partition(":")
    if kind not in _NOT_TOLD:
        return lacking
    return f"{kind} (which {kind} is not said: a request's {kind} may be learnt from another party's records)"


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
    """A request refused (401, 403, 429; 404 for a resource out of scope answered as unknown),
    recorded in the log of the service that refused it, or a summary of several (`count`)."""

    EVENT_TYPE: ClassVar[str] = "identity.AccessRefused"
    EVENT_VERSION: ClassVar[int] = 1

    status: int
    reason: str
    method: str
    path: str
    principal_id: str | None = None
    presented_key_id: str | None = None
    # More than a few refusals from one source within a window are recorded as one summary:
    # `count` refusals (the last one's details above), the first at `first_at`.
    count: int = 1
    first_at: datetime | None = None


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
