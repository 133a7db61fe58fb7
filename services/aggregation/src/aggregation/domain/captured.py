"""A packing or an unpacking captured through EPCIS (an AggregationEvent, checked by EPCIS
reporting against the schema, GS1 syntax and the CBV), read as the pack or unpack it is here:
its parent, its children, its line (the read point), its time. What is wrong with it is named
where the sender wrote it, in the event.

What EPCIS does not say, decided here:

- The packaging level of a pack (EPCIS has none). A parent packed into before keeps the level
  it was recorded with (a parent keeps its level: `rules.SAME_LEVEL`). A new parent is a pallet
  when it holds a case or a pallet (any SSCC child, or a child recorded as a case or pallet),
  else a case (units, or bundles). A bundle is never guessed: an SGTIN parent holding units is
  as likely a case with a GTIN of its own; a bundle is recorded as one through the API
  (`POST /v1/pack`, `packaging_level: bundle`), and captured packs into it keep that level.
- The reason of an unpack (EPCIS has none): `damaged` when the event's disposition says so,
  else `rework` (children taken out to be repacked)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from serialtrail_contracts.aggregation import PackagingLevel, UnpackReason
from serialtrail_contracts.identity import Scope
from serialtrail_gs1.captured_share import OutOfScope
from serialtrail_gs1.epcis_checks import cbv_word, place_of
from serialtrail_gs1.identity import SSCC, IdentifierError, ObjectId
from serialtrail_gs1.scan import parse_object_id, rule_of
from serialtrail_kit.errors import InvalidInput, Violation

from aggregation.domain import owners
from aggregation.domain.hierarchy import MAX_CHILDREN
from aggregation.domain.objects import Line
from aggregation.domain.rules import CAPTURED_AGGREGATION, CAPTURER_SCOPE, REGISTERED_LINE

# Where a pack's or unpack's fields were read from, in the captured event.
FIELDS = {  # where each field of the command was read from in the event (`CapturedShare.event_fields`)
    "parent": "parentID",
    "packaging_level": "parentID",  # inferred from the parent and its children
    "children": "childEPCs",
    "line_id": "readPoint.id",
    "event_time": "eventTime",
    "reason": "disposition",
}
_OF_A_CASE = frozenset({PackagingLevel.case, PackagingLevel.pallet})
_WHAT: dict[tuple[Any, Any], bool] = {("ADD", "packing"): True, ("DELETE", "unpacking"): False}  # packing?


@dataclass(frozen=True)
class CapturedAggregation:
    packing: bool  # a pack (ADD, packing); else an unpack (DELETE, unpacking)
    parent: ObjectId
    children: tuple[ObjectId, ...]  # an unpack naming none takes every child out
    place: tuple[str, str] | None  # the read point's (GLN, extension)
    event_time: datetime
    reason: UnpackReason  # an unpack's

    @property
    def objects(self) -> dict[str, ObjectId]:
        """Every object named, by its canonical URI."""
        return {o.uri: o for o in (self.parent, *self.children)}


def read(event: dict[str, Any]) -> CapturedAggregation:
    """Raises InvalidInput naming the event's fields (`parentID`, `childEPCs[2]`, `bizStep` …)."""
    packing = _what(event)
    problems: list[Violation] = []
    parent = _object(event.get("parentID"), "parentID", problems)
    children = [_object(epc, f"childEPCs[{n}]", problems) for n, epc in enumerate(event.get("childEPCs") or ())]
    if event.get("childQuantityList"):
        message = "aggregation records serialised objects (SGTINs, SSCCs); quantities of a class are not packed here"
        problems.append(CAPTURED_AGGREGATION.at("childQuantityList", message))
    if packing and not event.get("childEPCs"):
        message = "a packing names the children it packs: childEPCs"
        problems.append(CAPTURED_AGGREGATION.at("childEPCs", message))
    if len(children) > MAX_CHILDREN:
        message = f"a parent takes at most {MAX_CHILDREN:,} children in one event"
        problems.append(CAPTURED_AGGREGATION.at("childEPCs", message))
    when = _time(event.get("eventTime"), problems)
    if problems:
        raise InvalidInput(f"{len(problems)} problem(s) with the aggregation event", problems)
    assert parent is not None
    assert when is not None
    place = place_of(str((event.get("readPoint") or {}).get("id") or ""))
    found = tuple(c for c in children if c is not None)
    damaged = cbv_word(event.get("disposition"), "Disp") == "damaged"
    return CapturedAggregation(
        packing, parent, found, place, when, UnpackReason.damaged if damaged else UnpackReason.rework
    )


def packaging_level(proposed: CapturedAggregation, levels: Mapping[str, PackagingLevel]) -> PackagingLevel:
    """The level a captured pack fills its parent as (see the module's notes). `levels`: those
    of the parent and children packed into before, as recorded."""
    if (level := levels.get(proposed.parent.uri)) is not None:
        return level
    holds_cases = any(c.kind is SSCC or levels.get(c.uri) in _OF_A_CASE for c in proposed.children)
    return PackagingLevel.pallet if holds_cases else PackagingLevel.case


def check_scope(capturer: Scope, proposed: CapturedAggregation, line: Line) -> None:
    """What the capturing key may pack or unpack, as if it had posted it itself: the Target the
    API's ownership check builds from a request (the ids named, the line named), each part that
    lacks named where the event wrote it. Its line first: where the line is not the key's, which
    of the ids are is not its business either."""
    named = owners.named_by(proposed.objects.values())
    if capturer.missing(named | owners.line_owner(line)) is None:
        return
    if capturer.missing(owners.line_owner(line)) is not None:
        message = "the line at this read point is not within the capturing key's scope"
        raise OutOfScope(message, [CAPTURER_SCOPE.at(FIELDS["line_id"], message)])
    located = [("parentID", proposed.parent), *((f"childEPCs[{n}]", c) for n, c in enumerate(proposed.children))]
    lacking: dict[tuple[str | None, str | None], bool] = {}  # by company key: a pallet's units share a few
    problems = []
    for where, found in located:
        key = (found.gtin, found.sscc)
        if key not in lacking:
            lacking[key] = capturer.missing(owners.named_by([found])) is not None
        if lacking[key]:
            problems.append(
                CAPTURER_SCOPE.at(where, f"{found.uri}: its company is not within the capturing key's scope")
            )
    raise OutOfScope(problems[0].message, problems)


def line_unknown(event: dict[str, Any]) -> InvalidInput:
    read_point = (event.get("readPoint") or {}).get("id")
    message = f"the read point {read_point!r} is no registered line's: packing and unpacking happen on a line"
    return InvalidInput(message, [REGISTERED_LINE.at(FIELDS["line_id"], message)])


def _what(event: dict[str, Any]) -> bool:
    """A packing (True) or an unpacking (False); anything else is refused, never guessed."""
    kind, action, step = event.get("type"), event.get("action"), cbv_word(event.get("bizStep"), "BizStep")
    problem: Violation | None = None
    if kind != "AggregationEvent":
        problem = CAPTURED_AGGREGATION.at("type", f"aggregation records AggregationEvents, not {kind!r}")
    elif action not in ("ADD", "DELETE"):
        message = f"aggregation records packing (action ADD) and unpacking (action DELETE), not action {action!r}"
        problem = CAPTURED_AGGREGATION.at("action", message)
    elif (action, step) not in _WHAT:
        expected = "packing" if action == "ADD" else "unpacking"
        message = f"an AggregationEvent with action {action} is recorded here as bizStep {expected}, not {step!r}"
        problem = CAPTURED_AGGREGATION.at("bizStep", message)
    if problem is not None:
        raise InvalidInput(problem.message, [problem])
    return _WHAT[(action, step)]


def _object(text: Any, where: str, problems: list[Violation]) -> ObjectId | None:
    if not isinstance(text, str) or not text:
        message = "an AggregationEvent names the parent packed into or unpacked from: parentID"
        if where != "parentID":
            message = f"{text!r} is not an identifier"
        problems.append(CAPTURED_AGGREGATION.at(where, message))
        return None
    try:
        return parse_object_id(text)
    except IdentifierError as error:
        problems.append(rule_of(error).at(where, f"{text!r}: {error}"))
        return None


def _time(text: Any, problems: list[Violation]) -> datetime | None:
    """The event time with the offset it was written with."""
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        message = f"{text!r} is not a date-time with its offset"
        problems.append(CAPTURED_AGGREGATION.at("eventTime", message))
        return None
    return when
