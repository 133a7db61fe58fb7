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


@dataclass(frozen=True)
class Rule:
    """A rule a request can break, declared once where it is enforced: its name (what clients
    match on), what it means, and an example of a violation (the OpenAPI document shows it on
    every operation that can break it)."""

    name: str
    meaning: str
    field: str
    example: str

    def at(self, field: str, message: str) -> Violation:
        return Violation(field, self.name, message)


class DomainError(Exception):
    """A refusal: `kind` names its problem type, `example` a typical detail (for the docs)."""

    kind: ClassVar[str] = "invalid-input"
    status: ClassVar[int] = 422
    title: ClassVar[str] = "The request breaks a rule"
    example: ClassVar[str] = "the request breaks the rules named in `errors`"

    def __init__(self, detail: str, violations: list[Violation] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.violations = violations or []


class InvalidInput(DomainError):
    pass


class NotFound(DomainError):
    kind, status, title = "not-found", 404, "Not found"
    example = "no such record (or not yours to see: out of scope answers as unknown)"


class Conflict(DomainError):
    kind, status, title = "conflict", 409, "Conflicts with the current state"
    example = "the current state does not allow it; `errors` names the rule"


class Unavailable(DomainError):
    kind, status, title = "temporarily-unavailable", 503, "Temporarily unavailable"
    example = "the read model is still catching up; retry after the Retry-After seconds"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class ChangedConcurrently(DomainError):
    kind, status, title = "concurrent-change", 409, "Changed concurrently"
    example = "the records changed while the request was decided; retry the request"


class MalformedJson(DomainError):
    kind, status, title = "malformed-json", 400, "Malformed JSON"
    example = "The request body is not valid JSON"


def invalid(field: str, rule: Rule, message: str) -> InvalidInput:
    return InvalidInput(message, [rule.at(field, message)])
