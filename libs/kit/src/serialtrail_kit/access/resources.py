"""What a route touches, and who owns it: declared once per route (`requires(permission,
resource)`) and checked by the kit before the endpoint runs, for commands and reads alike.

Ownership has two sources, checked in this order:

- what the request itself names (identifiers in the path or body, the scope values they
  carry, what the caller claims to act as): out of scope is a 403 naming the scope lacking.
  The refusal reveals nothing the caller did not already say.
- what the current records say (whose the addressed record is, what a container holds):
  looked up by the service's `owner` resolver. Out of scope answers exactly like an unknown
  resource of that kind (`unknown`), so existence does not leak; the refusal is recorded
  all the same. A resolver may raise the answer for an unknown resource itself.

A resource that is `whole` (a whole log, every key) is only for principals no scope narrows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from fastapi import Request
from serialtrail_contracts.identity import Principal, Target

from serialtrail_kit.errors import DomainError, NotFound, Rule

EXISTS = Rule("exists", "the record named exists (and is within the caller's scope)", "id", "unknown record")

TargetOf = Callable[[Request], Awaitable[Target]]
OwnerOf = Callable[[Request], Awaitable["Target | None"]]
# The answer for an unknown resource: an error to raise, or `Answered` with a complete response.
Unknown = Callable[[Request], Exception]
# What a check can refuse with, by problem type: shown on every operation that declares it.
Refusals = Mapping[type[DomainError], Sequence[Rule]]


async def names_nothing(_request: Request) -> Target:
    return Target()


def not_found(kind: str) -> Unknown:
    def unknown(_request: Request) -> Exception:
        return NotFound(f"no {kind}", [EXISTS.at("id", f"unknown {kind}")])

    return unknown


@dataclass(frozen=True)
class Resource:
    """`kind` names it (the authorization matrix and the OpenAPI document carry it); `named`
    takes the scoped things from the request; `owner` looks up what the state says owns it
    (None: unknown, the endpoint reports that itself); `unknown` is how an unknown one is
    answered; `refuses` what its lookups can refuse with (the OpenAPI document shows it on
    every route touching it; an unknown one's default answer is added by the kit)."""

    kind: str
    named: TargetOf = names_nothing
    owner: OwnerOf | None = None
    unknown: Unknown | None = None
    whole: bool = False
    description: str = field(default="", compare=False)
    refuses: Refusals = field(default_factory=dict, compare=False)

    @classmethod
    def everything(cls, kind: str, description: str = "", refuses: Refusals | None = None) -> Resource:
        """Every record of its kind at once (a whole log, all keys): no narrowed principal."""
        return cls(kind, whole=True, description=description, refuses=refuses or {})

    def answer_unknown(self, request: Request) -> Exception:
        return (self.unknown or not_found(self.kind))(request)

    def refusals(self) -> Refusals:
        """What a route touching it can be refused with, beyond the kit's own checks."""
        if self.owner is None or self.unknown is not None:
            return self.refuses
        return {NotFound: (EXISTS,), **self.refuses}  # the kit's answer for an unknown one


def whole_scope_missing(principal: Principal, resource: Resource) -> str | None:
    if resource.whole and not principal.scope.is_unrestricted:
        return f"{principal.id} lacks scope over every {resource.kind} (its key or token is narrowed)"
    return None


def owner_of(request: Request) -> Target | None:
    """The owner the kit resolved for this request (endpoints reuse it rather than look it up again)."""
    found: Target | None = getattr(request.state, "owner", None)
    return found
