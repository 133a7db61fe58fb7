"""What a capture records, decided from the checked events alone: which events are captured and
which are refused, and why. Pure: the handler brings what the log already holds."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from serialtrail_contracts.epcis import CapturedEvent, ErrorBehaviour, EventError, Named, Scope, identity, identity_of
from serialtrail_contracts.identity import EVERY_LINE, NO_CMO, Principal, Target
from serialtrail_contracts.identity import Scope as Scope_
from serialtrail_gs1.epcis_checks import Keys
from serialtrail_kit.errors import Violation

from epcis_reporting.domain import routing, rules

INVALID, NOT_YOURS, DUPLICATE = 400, 403, 409
BATCH, BATCH_BYTES = 1_000, 256 * 1024  # per EventsCaptured: well within a topic message
MAX_EVENT_BYTES = 512 * 1024  # one event alone in an EventsCaptured, still within a topic message (1 MB)


@dataclass(frozen=True)
class Candidate:
    """An event as checked: its position, what it is, its hash id (None when it did not validate)."""

    index: int
    event: dict[str, Any]
    event_id: str | None
    violations: tuple[Violation, ...]
    status: int = INVALID
    keys: Keys | None = None


@dataclass(frozen=True)
class Earlier:
    capture_id: UUID
    index: int


@dataclass(frozen=True)
class Outcome:
    captured: tuple[CapturedEvent, ...]
    errors: tuple[EventError, ...]


def job_owner(scope: Scope, names: Named) -> Target:
    """Whose a capture job is: its capturer's party (the same company, CMO, site and line scope)
    for the keys its events name. A capturer no CMO narrows captured as the brand owner: only
    keys no CMO narrows read its jobs; one no line narrows, for every line."""
    return Target(
        gtins=frozenset(names.gtins),
        ssccs=frozenset(names.ssccs),
        company_prefixes=frozenset(names.company_prefixes),
        sites=frozenset(scope.sites or ()),
        lines=frozenset(scope.lines or (EVERY_LINE,)),
        cmos=frozenset(scope.cmos or (NO_CMO,)),
    )


def scope_violations(principal: Principal, keys: Keys, at: str) -> list[Violation]:
    """What an event names outside the capturing key's scope. A key no scope narrows captures
    anything; a narrowed one only what it can be shown to own."""
    scope = principal.scope
    if scope.is_unrestricted:
        return []
    checks = (
        ("GTIN", keys.gtins, scope.allows_gtin),
        ("SSCC", keys.ssccs, scope.allows_sscc),
        ("company prefix", keys.company_prefixes, scope.allows_company_prefix),
    )
    found = [
        rules.IN_SCOPE.at(at, f"{kind} {value} is not within this key's scope")
        for kind, values, allows in checks
        for value in sorted(values)
        if not allows(value)
    ]
    found += [
        rules.IN_SCOPE.at(at, f"{value!r} names no GS1 company: a key narrowed to companies cannot capture it")
        for value in sorted(keys.unowned)
    ]
    return found + _place_violations(scope, keys, at)


def _place_violations(scope: Scope_, keys: Keys, at: str) -> list[Violation]:
    """A key narrowed to sites or lines captures what happened there: its read point (and business
    location) an SGLN of one of its sites, the read point's extension one of its lines (a line's
    read point is its site's GLN with the line's id as extension unless it was registered otherwise:
    then it is refused, never let through)."""
    found = []
    if scope.sites is not None:
        for name, place in (("readPoint", keys.read_point), ("bizLocation", keys.biz_location)):
            if place is not None and not scope.allows_site(place[0]):
                found.append(rules.IN_SCOPE.at(f"{at}.{name}.id", f"site {place[0]} is not within this key's scope"))
    if (scope.sites is not None or scope.lines is not None) and keys.read_point is None:
        message = "a key narrowed to sites or lines names where the event happened: a readPoint that is an SGLN"
        found.append(rules.IN_SCOPE.at(f"{at}.readPoint", message))
    elif scope.lines is not None and keys.read_point is not None and not scope.allows_line(keys.read_point[1]):
        message = f"line {keys.read_point[1]} (the read point's extension) is not within this key's scope"
        found.append(rules.IN_SCOPE.at(f"{at}.readPoint.id", message))
    return found


def decide(
    behaviour: ErrorBehaviour,
    candidates: Sequence[Candidate],
    earlier: Mapping[str, Earlier],
    routed: Collection[str] = (),
) -> Outcome:
    """Under `rollback` one error anywhere captures nothing; under `proceed` every event without
    one is captured. An event captured before, or earlier in the same document, is a duplicate.
    Each captured event names its owner among the services `routed` to (`routing.owner_of`)."""
    errors: list[EventError] = []
    accepted: list[CapturedEvent] = []
    first_here: dict[str, int] = {}
    for candidate in candidates:
        errors.extend(_errors(candidate))
        if candidate.violations or candidate.event_id is None:
            continue
        declares = declares_error(candidate.event)
        owner = None if declares else routing.owner_of(candidate.event, candidate.keys, routed)
        captured = _captured(candidate, candidate.event_id, owner, declares)
        duplicate = _duplicate(candidate.index, captured, earlier, first_here)
        if duplicate is not None:
            errors.append(duplicate)
            continue
        first_here[identity_of(captured)] = candidate.index
        accepted.append(captured)
    if errors and behaviour is ErrorBehaviour.rollback:
        return Outcome((), tuple(errors))
    return Outcome(tuple(accepted), tuple(errors))


def _errors(candidate: Candidate) -> Iterator[EventError]:
    for violation in candidate.violations:
        yield EventError(
            index=candidate.index,
            event_id=candidate.event_id,
            field=violation.field,
            rule=violation.rule,
            message=violation.message,
            status=candidate.status,
        )


def _duplicate(
    index: int, captured: CapturedEvent, earlier: Mapping[str, Earlier], first_here: Mapping[str, int]
) -> EventError | None:
    identity, event_id = identity_of(captured), captured.event_id
    what = "the declaration of this event's error" if captured.declares_error else "this event"
    if identity in earlier:
        # Not whose capture it was: another party's job is not the sender's to know of.
        message = f"{what} was captured before: {event_id}"
    elif identity in first_here:
        message = f"{what} is event {first_here[identity]} of this document again: {event_id}"
    else:
        return None
    return EventError(
        index=index,
        event_id=event_id,
        field=f"eventList[{index}]",
        rule=rules.CAPTURED_ONCE.name,
        message=message,
        status=DUPLICATE,
    )


def _captured(candidate: Candidate, event_id: str, owner: str | None, declares: bool) -> CapturedEvent:
    event = candidate.event if "eventID" in candidate.event else {**candidate.event, "eventID": event_id}
    return CapturedEvent(
        index=candidate.index,
        event_id=event_id,
        event_json=orjson.dumps(event).decode(),
        owner=owner,
        declares_error=declares,
    )


def declares_error(event: dict[str, Any]) -> bool:
    return isinstance(event.get("errorDeclaration"), dict)


def identities(candidates: Iterable[Candidate]) -> list[str]:
    """Every identity the candidates could be captured under (see `identity_of`)."""
    return [identity(c.event_id, declares_error(c.event)) for c in candidates if c.event_id is not None]


def owners(captured: Iterable[CapturedEvent]) -> tuple[str, ...]:
    """The services the captured events were routed to: each decides before the job ends."""
    return tuple(sorted({event.owner for event in captured if event.owner is not None}))


def named(candidates: Iterable[Candidate]) -> Named:
    """The GS1 keys the document's events name, of those within the capturing key's scope (one
    naming another company's objects is refused, and does not make the job that company's)."""
    gtins: set[str] = set()
    ssccs: set[str] = set()
    prefixes: set[str] = set()
    for keys in (c.keys for c in candidates if c.keys is not None and c.status != NOT_YOURS):
        gtins |= keys.gtins
        ssccs |= keys.ssccs
        prefixes |= keys.company_prefixes
    return Named(gtins=tuple(sorted(gtins)), ssccs=tuple(sorted(ssccs)), company_prefixes=tuple(sorted(prefixes)))


def batches(events: Sequence[CapturedEvent]) -> Iterable[tuple[CapturedEvent, ...]]:
    """The captured events in log records of at most about `BATCH_BYTES` of JSON each (a topic's
    messages are limited, to 1 MB by default) and `BATCH` events; a larger event alone."""
    batch: list[CapturedEvent] = []
    size = 0
    for event in events:
        weight = len(event.event_json) + 100
        if batch and (size + weight > BATCH_BYTES or len(batch) == BATCH):
            yield tuple(batch)
            batch, size = [], 0
        batch.append(event)
        size += weight
    if batch:
        yield tuple(batch)
