"""The rules line exceptions refuses requests by, each named once: the code that refuses cites
the constant, and the OpenAPI document shows its meaning and example on every operation that
can break it. The names are what clients match on: they do not change."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from serialtrail_kit.errors import Rule, Violation

_UNIT = "https://id.gs1.org/01/09506000134352/21/7Q4XK2M9PZ3A"

# What a request says of itself and of the records it names (422).

UNIQUE_UNIT = Rule("unique-unit", "a record names each unit once", "units[1]", f"{_UNIT} appears twice")
KNOWN_BATCH = Rule(
    "known-batch",
    "the batch named is registered (and within your scope)",
    "batch.lot",
    "no batch 'L-2026-07' is known for GTIN 09506000134352",
)
REGISTERED_LINE = Rule(
    "registered-line",
    "the line named is registered (by its id or its read point's SGLN)",
    "line_id",
    "no line is registered as 'LINE-9' (a line registered moments ago may not have reached line exceptions yet)",
)
UNIT_OF_BATCH = Rule(
    "unit-of-batch",
    "each unit named is an SGTIN commissioned into the batch named",
    "units[0]",
    f"{_UNIT} was commissioned into batch L-2026-06, not L-2026-07",
)
LABEL_MATCHES_BATCH = Rule(
    "label-matches-batch",
    "a unit scanned with a lot or expiry names the batch's (a label of another batch is a wrong-label record)",
    "units[0]",
    "its label says lot L-2026-06, not L-2026-07",
)
COMMISSIONED = Rule(
    "commissioned",
    "each unit named is known as commissioned (a unit commissioned moments ago may not have arrived yet)",
    "units[0]",
    f"{_UNIT} is not known as commissioned",
)
AFTER_COMMISSIONING = Rule(
    "after-commissioning",
    "a record's time is not before its units were commissioned",
    "event_time",
    f"{_UNIT} was commissioned at 2026-11-22T07:00:00+00:00, after it",
)
REPLACEMENT_FOR_REWORK = Rule(
    "replacement-for-rework",
    "a rework names its one reworked unit and the replacement serial; no other type names a replacement",
    "replacement",
    "a rework names the serial relabelled in the old one's place",
)
SIGNED_BY_QA = Rule(
    "qa-signature",
    "resolving a record that took units out of the supply chain, or lifting a hold, needs a QA e-signature "
    "(credential and meaning)",
    "signature",
    "this record took units out of the supply chain: resolving it needs a QA signature",
)

NAMES_UNITS = Rule("names-units", "a record names the units or the parents that went wrong", "units", "name units")
CASCADE = Rule(
    "cascade",
    "a cascade names parents, and only a type that takes units out of the supply chain cascades",
    "cascade",
    "a cascade takes out the units below the parents named; an unreadable record takes no unit out",
)
PARENT_OF_BATCH = Rule(
    "parent-of-batch",
    "each parent named is known (from aggregation) to hold units of the batch named, and only those "
    "(a parent packed moments ago may not have arrived yet)",
    "parents[0]",
    "https://id.gs1.org/00/095060000000000015 is not known as a parent holding units of batch L-2026-07 only",
)

# What the records say (409).

SETTLED_PARENT = Rule(
    "settled-parent",
    "a cascade covers parents that are closed, with every unit below known as commissioned: below an open "
    "parent units may still change, and a pending link would be orphaned",
    "parents[0]",
    "https://id.gs1.org/00/095060000000000015 is open: units may still be packed or unpacked there",
)

IN_SUPPLY_CHAIN = Rule(
    "in-supply-chain",
    "a unit already taken out of the supply chain cannot be taken out again",
    "units[0]",
    f"{_UNIT} was taken out by exception 3f0b6c1e-…",
)
REPLACEMENT_UNUSED = Rule(
    "replacement-unused",
    "a replacement is commissioned into the same batch, not taken out, not already a replacement, "
    "and not among the units reworked",
    "replacement",
    f"{_UNIT} already replaced a unit (exception 3f0b6c1e-…)",
)
STATE = Rule(
    "state",
    "open → under investigation → resolved or cancelled: a closed record changes no more",
    "state",
    "the record is resolved; it changes no more",
)
NOT_TAKEN_OUT = Rule(
    "cancel-not-taken-out",
    "a record that took units out of the supply chain is resolved (or its decommission undone), not cancelled",
    "state",
    "this record took 1 unit out of the supply chain: resolve it instead",
)

# Holds.

HOLD_NAMES_UNITS = Rule(
    "hold-names-units",
    "a hold holds one of: its whole batch, a line's output in a time window, or units and parents it names",
    "whole_batch",
    "hold the whole batch, or a line's output in a window, or name units or parents (one of them)",
)
WINDOW_HOLDS_UNITS = Rule(
    "window-holds-units",
    "a window names the line whose output it holds, and starts before it ends",
    "window",
    "a window holds a line's output: name the line",
)
HOLD_ACTIVE = Rule(
    "hold-active",
    "a hold is lifted once; a lifted hold changes no more",
    "state",
    "the hold was lifted already",
)

# Deviations.

_RECORD = "exception record 3f0b6c1e-8d5a-4d0e-9a51-0c2b7f1f2a10"
LINKS_SOMETHING = Rule(
    "links-something", "a link names exception records or holds", "exception_ids", "name records or holds"
)
LINKED_OF_BATCH = Rule(
    "linked-of-batch",
    "each exception record and hold grouped under a deviation is one of its batch (and within your scope)",
    "exception_ids[0]",
    f"{_RECORD} is not known as one of batch L-2026-07",
)
LINKED_ONCE = Rule(
    "linked-once", "a record or hold is grouped under a deviation once", "exception_ids[0]", f"{_RECORD} is here"
)
DEVIATION_OPEN = Rule(
    "deviation-open", "a closed deviation changes no more", "state", "the deviation is closed; it changes no more"
)
ROOT_CAUSE_FIRST = Rule(
    "root-cause-first",
    "a deviation is closed once its root cause is recorded",
    "root_cause",
    "record the root cause before closing the deviation",
)
CAPA_OPEN = Rule(
    "capa-open",
    "a CAPA action is completed once; an ineffective one is followed by a new one",
    "capa_id",
    "this CAPA was completed already",
)

# Undoing a decommission (EU FMD rules, Delegated Regulation 2016/161 Art. 13).

UNDO_ALLOWED = Rule(
    "undo-allowed-state",
    "a pack taken out as stolen or destroyed (a line reject is destroyed) is never put back",
    "state",
    "a destroyed pack (Destroyed) is never put back",
)
UNDO_WITHIN_10_DAYS = Rule(
    "undo-within-10-days",
    "a decommission is undone within 10 days after it",
    "event_time",
    "the units were taken out at 2026-11-02T08:15:00+00:00: an undo is within 10 days after",
)
UNDO_SAME_LOCATION = Rule(
    "undo-same-location",
    "a decommission is undone at the site where it was made",
    "line_id",
    "taken out at site 9506000000008; line LINE-9 is at 9506000000015",
)
UNDO_BATCH_NOT_EXPIRED = Rule(
    "undo-batch-not-expired",
    "the packs of an expired (or recalled) batch are not put back",
    "batch",
    "batch L-2026-07 expired on 2026-11-30: its packs are not put back",
)
UNDO_TAKEN_OUT = Rule(
    "undo-taken-out",
    "an undo puts back units this record took out that are still out",
    "units[0]",
    f"{_UNIT} is not out of the supply chain by this record",
)


def repeats(items: Sequence[Hashable]) -> list[int]:
    """The indexes of items named earlier in the list (in one pass: lists run to 10,000)."""
    seen: set[Hashable] = set()
    found = []
    for index, item in enumerate(items):
        if item in seen:
            found.append(index)
        seen.add(item)
    return found


def named_twice(items: Sequence[str], field: str, what: str) -> list[Violation]:
    return [UNIQUE_UNIT.at(f"{field}[{i}]", f"{what} {items[i]} appears twice") for i in repeats(items)]


def summary(found: Sequence[Violation]) -> str:
    """The first violation's message, and how many more there are."""
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return found[0].message + more


# What an ObjectEvent captured through EPCIS must be to be recorded here (see domain.captured).

CAPTURED_EXCEPTION = Rule(
    "captured-exception",
    "an ObjectEvent captured through EPCIS is recorded here when it takes serialised units (SGTINs) of one "
    "product out of the supply chain and says what became of them: bizStep decommissioning (action DELETE; "
    "disposition inactive, damaged, destroyed, stolen or unavailable), destroying (action DELETE; disposition "
    "destroyed, or none) or sampling (action DELETE, or OBSERVE with disposition non_sellable_other)",
    "eventList[0].disposition",
    "a decommissioning says what became of its units: disposition inactive, damaged, destroyed, stolen or unavailable",
)
RECORDED_AS_CAPTURED = Rule(
    "recorded-as-captured",
    "a decommissioning, destroying or sampling captured through EPCIS is one line exceptions records",
    "eventList[0]",
    "the exception could not be recorded",
)
CAPTURER_SCOPE = Rule(
    "capturer-scope",
    "a decommissioning, destroying or sampling captured through EPCIS happens on a line, and names units of a "
    "product, within the capturing key's scope",
    "eventList[0].readPoint.id",
    "the line at this read point is not within the capturing key's scope",
)
