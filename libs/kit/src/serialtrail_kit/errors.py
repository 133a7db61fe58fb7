"""Errors the domain raises and the HTTP layer turns into RFC 9457 problems.

Pure: no web framework here, so domain code can raise them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Violation:
    """One broken rule: which field (a JSON pointer-ish path), which rule, in words."""

    field: str
    rule: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class DomainError(Exception):
    kind: ClassVar[str] = "invalid-input"
    status: ClassVar[int] = 422
    title: ClassVar[str] = "The request breaks a rule"

    def __init__(self, detail: str, violations: list[Violation] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.violations = violations or []


class InvalidInput(DomainError):
    pass


class NotFound(DomainError):
    kind, status, title = "not-found", 404, "Not found"


class Conflict(DomainError):
    kind, status, title = "conflict", 409, "Conflicts with the current state"


class Unavailable(DomainError):
    kind, status, title = "temporarily-unavailable", 503, "Temporarily unavailable"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


def invalid(field: str, rule: str, message: str) -> InvalidInput:
    return InvalidInput(message, [Violation(field, rule, message)])
