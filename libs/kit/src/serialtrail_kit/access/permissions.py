"""Permissions are declared by the service that owns the routes needing them, each with the
roles that hold it. The kit only checks them; it knows no service's permissions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from serialtrail_contracts.identity import Role


@dataclass(frozen=True)
class Permission:
    """`name` is "<area>:<verb>"; an admin holds every permission, other roles only those
    listed in `granted_to`."""

    name: str
    granted_to: frozenset[Role]
    description: str = ""

    def __post_init__(self) -> None:
        area, colon, verb = self.name.partition(":")
        if not (area and colon and verb):
            raise ValueError(f"permission {self.name!r} must be named '<area>:<verb>'")

    def allows(self, role: Role) -> bool:
        return role is Role.admin or role in self.granted_to

    def missing_for(self, role: Role) -> str | None:
        return None if self.allows(role) else f"role {role.value} lacks permission {self.name}"


def permission(name: str, *roles: Role, description: str = "") -> Permission:
    return Permission(name, frozenset(roles), description)


def by_name(permissions: Iterable[Permission]) -> dict[str, Permission]:
    """Every permission once, by name; two declarations of one name must agree."""
    found: dict[str, Permission] = {}
    for declared in permissions:
        if found.setdefault(declared.name, declared) != declared:
            raise ValueError(f"permission {declared.name!r} is declared twice, differently")
    return found
