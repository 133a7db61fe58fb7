"""The packing hierarchy: which parent holds which child, and the rules for changing it.

Pure: the application loads the part of the hierarchy a request touches (under the log's
append lock), these functions decide, and the events they return are what gets recorded.
A request is all-or-nothing: every broken rule is collected, then raised together.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from serialtrail_contracts.aggregation import (
    ChildrenPacked,
    ChildrenUnpacked,
    PackagingLevel,
    ParentClosed,
    UnpackReason,
)
from serialtrail_kit.errors import Conflict, Rule, Violation

from aggregation.domain import rules
from aggregation.domain.objects import Knowledge, Line, Standing

MAX_DEPTH = 16  # unit → bundle → case → pallet needs 4; anything deeper is a cycle or a mistake
MAX_CHILDREN = 10_000  # per parent and request: a pallet of 5,000 units is the largest we know


# What each decision can refuse with (409), for the operations that make it to declare.
PACK_RULES = (
    rules.IN_SCOPE,
    rules.OPEN_PARENT,
    rules.SAME_LEVEL,
    rules.NO_CYCLE,
    rules.NOT_ALREADY_PACKED,
    rules.NOT_DECOMMISSIONED,
    rules.NOT_HELD,
    rules.LABEL_MATCHES_BATCH,
    rules.AFTER_COMMISSIONING,
)
UNPACK_RULES = (rules.KNOWN_PARENT, rules.AFTER_LAST_CHANGE, rules.IN_PARENT, rules.NOT_EMPTY, rules.NOT_HELD)
CLOSE_RULES = (rules.KNOWN_PARENT, rules.AFTER_LAST_CHANGE, rules.OPEN_PARENT, rules.MATCHES_COUNT)


def stream_id(parent: str) -> str:
    return f"parent-{parent}"


@dataclass(frozen=True)
class ParentState:
    level: PackagingLevel | None = None
    closed: bool = False
    child_count: int = 0
    version: int = 0  # of the parent's stream
    last_event_at: datetime | None = None  # the latest event time recorded for it


@dataclass
class Hierarchy:
    """The loaded part of the current hierarchy, updated as a request's decisions are made
    so that later parts of the same request see earlier ones."""

    parent_of: dict[str, str] = field(default_factory=dict)
    parents: dict[str, ParentState] = field(default_factory=dict)
    children_of: dict[str, set[str]] = field(default_factory=dict)  # only for parents loaded whole

    def state(self, parent: str) -> ParentState:
        return self.parents.get(parent, ParentState())

    def ancestors(self, uri: str) -> list[str]:
        chain: list[str] = []
        while (up := self.parent_of.get(uri)) is not None and len(chain) <= MAX_DEPTH:
            chain.append(up)
            uri = up
        return chain


@dataclass(frozen=True)
class Pack:
    parent: str
    level: PackagingLevel
    children: tuple[str, ...]
    line: Line
    event_time: datetime
    field: str = ""  # where this pack sits in the request, for naming violations


@dataclass(frozen=True)
class Unpack:
    parent: str
    children: tuple[str, ...] | None  # None: all of them
    reason: UnpackReason
    comment: str | None
    line: Line
    event_time: datetime


@dataclass(frozen=True)
class Close:
    parent: str
    expected_count: int | None
    line: Line
    event_time: datetime


# May the caller touch objects of this CMO's batches? None: the caller is not scoped by CMO.
InScope = Callable[[str | None], bool] | None
# A rule one object breaks, and how, in words (its field is known where it is named).
Problem = tuple[Rule, str]


def named_ids(command: Pack) -> list[tuple[str, str]]:
    """(field, id) for every id a pack names, parent first."""
    return [(_at(command.field, "parent"), command.parent)] + [
        (_at(command.field, f"children[{index}]"), child) for index, child in enumerate(command.children)
    ]


def _at(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def pack(
    h: Hierarchy,
    command: Pack,
    knowledge: Knowledge,
    in_scope: InScope,
    *,
    narrowed: bool = False,
    skew: timedelta = timedelta(0),
) -> tuple[ChildrenPacked, list[Violation]]:
    """Decide one pack; on success `h` reflects it. Violations are returned, not raised, so a
    multi-pack request can name every problem at once. `skew`: how far line clocks may differ."""
    state = h.state(command.parent)
    violations = _parent_violations(h, command, state) + _parent_unit_violations(command, knowledge, in_scope)
    ancestors = set(h.ancestors(command.parent))
    # Set operations in C find the few children worth a closer look among thousands. A mapping's
    # keys view, not the mapping: set.intersection(mapping) walks the whole mapping, and the
    # hierarchy's grows with every pack of a request (one capture's thousands of packs: quadratic).
    children = set(command.children)
    suspects = (h.parent_of.keys() & children) | (children & (ancestors | {command.parent}))
    suspects |= knowledge.decommissioned.keys() & children
    suspects |= knowledge.held.keys() & children
    suspects |= knowledge.scanned.keys() & children
    late = _commissioned_after(children, knowledge, command.event_time + skew)
    suspects |= late.keys()
    if in_scope is not None:  # a narrowed principal: every child's batch must be in its scope
        suspects |= {c for c in command.children if not _in_scope(c, knowledge, in_scope)}
    for index, child in enumerate(command.children):
        if child in suspects:
            problem = _child_problem(h, command.parent, child, ancestors, knowledge, in_scope, narrowed) or (
                _timing_problem(child, late.get(child), command.event_time)
            )
            if problem is not None:
                rule, message = problem
                violations.append(rule.at(_at(command.field, f"children[{index}]"), message))
    event = ChildrenPacked(
        pack_id=uuid.uuid4(),
        parent_id=command.parent,
        packaging_level=command.level,
        child_ids=command.children,
        **_where(command.line),
        event_time=command.event_time,
        pending_child_ids=(pending := _unknown(command.children, knowledge)),
        parent_pending=(parent_pending := knowledge.standing(command.parent) is Standing.unknown),
        scanned_lots=_scanned_lots((*pending, *([command.parent] if parent_pending else [])), knowledge),
    )
    if not violations:
        for child in command.children:
            h.parent_of[child] = command.parent
        h.parents[command.parent] = replace(
            state, level=command.level, child_count=state.child_count + len(command.children)
        )
    return event, violations


def _commissioned_after(children: set[str], knowledge: Knowledge, limit: datetime) -> dict[str, datetime]:
    """The children commissioned later than `limit`: a pack cannot hold what did not exist yet."""
    if not knowledge.commissioned_at:
        return {}
    at = knowledge.commissioned_at
    return {c: at[c] for c in at.keys() & children if at[c] > limit}


def _timing_problem(child: str, commissioned_at: datetime | None, packed_at: datetime) -> Problem | None:
    if commissioned_at is None:
        return None
    message = (
        f"{child} was commissioned at {commissioned_at.isoformat()}, after this pack's time "
        f"{packed_at.isoformat()} (beyond the clock skew lines may have)"
    )
    return rules.AFTER_COMMISSIONING, message


def _scanned_lots(pending: tuple[str, ...], knowledge: Knowledge) -> dict[str, str]:
    if not knowledge.scanned:
        return {}
    return {c: lot for c in pending if c in knowledge.scanned and (lot := knowledge.scanned[c].lot) is not None}


def _unknown(children: tuple[str, ...], knowledge: Knowledge) -> tuple[str, ...]:
    if knowledge.known.issuperset(children):
        return ()
    return tuple(c for c in children if knowledge.standing(c) is Standing.unknown)


def _parent_violations(h: Hierarchy, command: Pack, state: ParentState) -> list[Violation]:
    where = _at(command.field, "parent")
    violations = []
    if state.closed:
        violations.append(
            rules.OPEN_PARENT.at(where, f"{command.parent} is closed; unpack one of its children to reopen it first")
        )
    if state.level is not None and state.level is not command.level:
        violations.append(
            rules.SAME_LEVEL.at(
                _at(command.field, "packaging_level"),
                f"{command.parent} was packed as {state.level.value}, not {command.level.value}",
            )
        )
    return violations


def _parent_unit_violations(command: Pack, knowledge: Knowledge, in_scope: InScope) -> list[Violation]:
    """A unit as parent (a bundle) answers to the rules a unit as child does: the caller's own,
    and its label agreeing with its batch."""
    parent = command.parent
    if parent in knowledge.held:
        return [rules.NOT_HELD.at(_at(command.field, "parent"), _held(parent, knowledge))]
    if parent in knowledge.ssccs:
        return []
    if in_scope is not None and not _in_scope(parent, knowledge, in_scope):
        return [rules.IN_SCOPE.at(_at(command.field, "parent"), f"{parent} {NOT_IN_SCOPE}")]
    problem = _label_problem(parent, knowledge)
    if problem is None:
        return []
    rule, message = problem
    return [rule.at(_at(command.field, "parent"), message)]


def _child_problem(
    h: Hierarchy,
    parent: str,
    child: str,
    ancestors: set[str],
    knowledge: Knowledge,
    in_scope: InScope,
    narrowed: bool,
) -> Problem | None:
    # Scope first: where a child outside it is packed, or why, is not the caller's to learn.
    if in_scope is not None and not _in_scope(child, knowledge, in_scope):
        return rules.IN_SCOPE, f"{child} {NOT_IN_SCOPE}"
    return (
        _placement_problem(h, parent, child, ancestors, narrowed)
        or _standing_problem(child, knowledge)
        or _label_problem(child, knowledge)
    )


# One answer for a child of another CMO's batch and for one whose batch cannot be told yet, so
# the answer says nothing about units outside the caller's scope.
NOT_IN_SCOPE = (
    "is not known as commissioned into a batch in your scope; a unit whose commissioning is still "
    "on its way is accepted when it is sent with its lot (AI 10) and that batch is yours"
)


def _in_scope(child: str, knowledge: Knowledge, in_scope: Callable[[str | None], bool]) -> bool:
    """Commissioned into a batch in scope, or pending with a lot naming such a batch. An SSCC's
    scope comes from its range and what it holds, checked before (`entrypoints.resources`)."""
    if child in knowledge.owner:
        return in_scope(knowledge.owner[child])
    if child in knowledge.pending_owner:
        return in_scope(knowledge.pending_owner[child])
    return child in knowledge.ssccs


def _placement_problem(h: Hierarchy, parent: str, child: str, ancestors: set[str], narrowed: bool) -> Problem | None:
    """A narrowed principal is not told which other parent holds the child: it may be one it
    cannot read (another line's, or another CMO's holding a unit still pending)."""
    if child == parent:
        return rules.NO_CYCLE, f"{child} cannot be packed into itself"
    if child in ancestors:
        return rules.NO_CYCLE, f"{child} already contains {parent}; packing it inside would make a cycle"
    current = h.parent_of.get(child)
    if current == parent:
        return rules.NOT_ALREADY_PACKED, f"{child} is already in {parent}"
    if current is not None:
        where = "another parent" if narrowed else current
        return rules.NOT_ALREADY_PACKED, f"{child} is already in {where}; unpack it from there first"
    return None


def _label_problem(child: str, knowledge: Knowledge) -> Problem | None:
    """A unit whose label says another lot or expiry than its batch: a label mix-up on the line.
    (A pending unit's scanned lot is checked when its commissioning arrives.)"""
    scanned, batch = knowledge.scanned.get(child), knowledge.batch_label.get(child)
    if scanned is None or batch is None:
        return None
    if scanned.lot is not None and scanned.lot != batch.lot:
        message = f"{child} was scanned with lot {scanned.lot}, but its batch is lot {batch.lot}"
        return rules.LABEL_MATCHES_BATCH, message
    if scanned.expiry is not None and batch.expiry is not None and scanned.expiry != batch.expiry:
        return (
            rules.LABEL_MATCHES_BATCH,
            f"{child} was scanned with expiry {scanned.expiry}, but its batch {batch.lot} expires {batch.expiry}",
        )
    return None


def _standing_problem(child: str, knowledge: Knowledge) -> Problem | None:
    if child in knowledge.decommissioned:
        return rules.NOT_DECOMMISSIONED, f"{child} was decommissioned ({knowledge.decommissioned[child]})"
    if child in knowledge.held:
        return rules.NOT_HELD, _held(child, knowledge)
    return None


def _held(uri: str, knowledge: Knowledge) -> str:
    return f"{uri} is held (hold {knowledge.held[uri]}): lift the hold first"


def _not_before_last_change(state: ParentState, command: Unpack | Close, skew: timedelta) -> None:
    """An unpack or close dated before what was last recorded for the parent (beyond the clock
    skew) would rewrite its history: the tree "as it was then" would change after the fact."""
    if state.last_event_at is not None and command.event_time < state.last_event_at - skew:
        message = (
            f"{command.parent} was last changed at {state.last_event_at.isoformat()}; an unpack or close "
            f"cannot be dated before it ({command.event_time.isoformat()})"
        )
        raise Conflict(message, [rules.AFTER_LAST_CHANGE.at("event_time", message)])


def unpack(
    h: Hierarchy, command: Unpack, skew: timedelta = timedelta(0), held: Mapping[str, str] | None = None
) -> ChildrenUnpacked:
    """`held`: the parent's hold, when it (or a parent it is on) is held: contained product stays as it is."""
    state = h.state(command.parent)
    if held and command.parent in held:
        message = f"{command.parent} is held (hold {held[command.parent]}): lift the hold first"
        raise Conflict(message, [rules.NOT_HELD.at("parent", message)])
    if state.version == 0:
        raise nothing_packed_into(command.parent)
    _not_before_last_change(state, command, skew)
    children = command.children or tuple(sorted(h.children_of.get(command.parent, ())))
    violations = [
        rules.IN_PARENT.at(f"children[{index}]", f"{child} is not in {command.parent}")
        for index, child in enumerate(children)
        if h.parent_of.get(child) != command.parent
    ]
    if not children:
        violations.append(rules.NOT_EMPTY.at("children", f"{command.parent} holds no children"))
    if violations:
        raise Conflict(_summary(violations), violations)
    for child in children:
        del h.parent_of[child]
    h.parents[command.parent] = replace(state, closed=False, child_count=state.child_count - len(children))
    return ChildrenUnpacked(
        unpack_id=uuid.uuid4(),
        parent_id=command.parent,
        child_ids=children,
        reason=command.reason,
        comment=command.comment,
        **_where(command.line),
        event_time=command.event_time,
    )


def nothing_packed_into(parent: str) -> Conflict:
    """An unpack of a parent that never held anything (and of one outside the caller's scope:
    answered exactly so)."""
    message = f"nothing was ever packed into {parent}"
    return Conflict(f"{parent} holds nothing", [rules.KNOWN_PARENT.at("parent", message)])


def close(h: Hierarchy, command: Close, skew: timedelta = timedelta(0)) -> ParentClosed:
    state = h.state(command.parent)
    if state.version != 0:
        _not_before_last_change(state, command, skew)
    problem: Violation | None = None
    if state.version == 0:
        problem = rules.KNOWN_PARENT.at("parent", f"nothing was ever packed into {command.parent}")
    elif state.closed:
        problem = rules.OPEN_PARENT.at("parent", f"{command.parent} is already closed")
    elif command.expected_count is not None and command.expected_count != state.child_count:
        problem = rules.MATCHES_COUNT.at(
            "expected_count",
            f"{command.parent} holds {state.child_count} children, not {command.expected_count}",
        )
    if problem is not None:
        raise Conflict(problem.message, [problem])
    h.parents[command.parent] = replace(state, closed=True)
    return ParentClosed(
        parent_id=command.parent,
        child_count=state.child_count,
        expected_count=command.expected_count,
        **_where(command.line),
        event_time=command.event_time,
    )


def _where(line: Line) -> dict[str, str]:
    """What an event records of the line it happened on."""
    return {"line_id": line.line_id, "read_point": line.read_point, "biz_location": line.biz_location}


def check_request(packs: Sequence[Pack]) -> list[Violation]:
    """Rules on the request alone: each parent once, each child once across the request."""
    violations: list[Violation] = []
    parents: set[str] = set()
    children: set[str] = set()
    for command in packs:
        if command.parent in parents:
            violations.append(rules.UNIQUE_PARENT.at(_at(command.field, "parent"), f"{command.parent} appears twice"))
        parents.add(command.parent)
        for index, child in enumerate(command.children):
            if child in children:
                where = _at(command.field, f"children[{index}]")
                violations.append(rules.UNIQUE_CHILD.at(where, f"{child} appears more than once"))
            children.add(child)
    return violations


def _summary(violations: Sequence[Violation]) -> str:
    first = violations[0].message
    more = len(violations) - 1
    return first if more == 0 else f"{first} (and {more} more)"


def rejected(violations: Sequence[Violation]) -> Conflict:
    return Conflict(_summary(violations), list(violations))
