"""The rules aggregation refuses requests by, each named once: the code that refuses cites the
constant, and the OpenAPI document shows its meaning and example on every operation that can
break it. The names are what clients match on: they do not change."""

from __future__ import annotations

from serialtrail_kit.errors import Rule

_CASE = "https://id.gs1.org/00/095060000000000015"
_PALLET = "https://id.gs1.org/00/195060000000000029"
_UNIT = "https://id.gs1.org/01/09506000134352/21/7Q4XK2M9PZ3A"

# What a request says of itself, before any record is read (422).

UNIQUE_PARENT = Rule(
    "unique-parent",
    "a request packs into each parent once (one entry per parent in `packs`)",
    "packs[1].parent",
    f"{_CASE} appears twice",
)
UNIQUE_CHILD = Rule(
    "unique-child",
    "a request names each child once, across all its packs",
    "children[1]",
    f"{_UNIT} appears more than once",
)
REGISTERED_PRODUCT = Rule(
    "registered-product",
    "every SGTIN packed, as parent or child, is of a GTIN registered as a product",
    "children[0]",
    f"{_UNIT}: GTIN 09506000134352 is not registered",
)
REGISTERED_LINE = Rule(
    "registered-line",
    "the line named is registered (by its id or its read point's SGLN), and so is the line a parent was formed on",
    "line_id",
    "no line is registered as 'LINE-9' (give a registered line id or its read point's SGLN; "
    "a line registered moments ago may not have reached aggregation yet)",
)

# What the current hierarchy and what is known of the objects allow (409).

IN_SCOPE = Rule(
    "in-scope",
    "every unit packed is of a batch in the caller's scope, and what a parent or a case packed holds, "
    "and the line it was formed on, are in it too",
    "children[0]",
    f"{_UNIT} is not known as commissioned into a batch in your scope; a unit whose commissioning is still "
    "on its way is accepted when it is sent with its lot (AI 10) and that batch is yours",
)
OPEN_PARENT = Rule(
    "open-parent",
    "a parent packed into or closed is open (unpacking one of its children reopens it)",
    "parent",
    f"{_CASE} is closed; unpack one of its children to reopen it first",
)
SAME_LEVEL = Rule(
    "same-level",
    "a parent keeps the packaging level it was first packed as",
    "packaging_level",
    f"{_CASE} was packed as case, not pallet",
)
NO_CYCLE = Rule(
    "no-cycle",
    "a child is neither the parent itself nor one of the parents holding it",
    "children[0]",
    f"{_PALLET} already contains {_CASE}; packing it inside would make a cycle",
)
NOT_ALREADY_PACKED = Rule(
    "not-already-packed",
    "a child is in no parent yet (unpack it from where it is first)",
    "children[0]",
    f"{_UNIT} is already in {_CASE}; unpack it from there first",
)
NOT_DECOMMISSIONED = Rule(
    "not-decommissioned",
    "a child has not been decommissioned",
    "children[0]",
    f"{_UNIT} was decommissioned (destroyed)",
)
NOT_HELD = Rule(
    "not-held",
    "nothing packed, and no parent packed into, is under a containment hold (line exceptions)",
    "children[0]",
    f"{_UNIT} is held (hold 3f0b6c1e-…): lift the hold first",
)
LABEL_MATCHES_BATCH = Rule(
    "label-matches-batch",
    "the lot and expiry a unit's scan carries are its batch's",
    "children[0]",
    f"{_UNIT} was scanned with lot L2026B, but its batch is lot L2026A",
)
AFTER_COMMISSIONING = Rule(
    "after-commissioning",
    "a unit is packed no earlier than it was commissioned (give or take the clock skew lines may have)",
    "children[0]",
    f"{_UNIT} was commissioned at 2026-11-22T09:00:00+00:00, after this pack's time 2026-11-22T08:15:00+00:00 "
    "(beyond the clock skew lines may have)",
)
KNOWN_PARENT = Rule(
    "known-parent",
    "a parent unpacked or closed has had something packed into it",
    "parent",
    f"nothing was ever packed into {_CASE}",
)
AFTER_LAST_CHANGE = Rule(
    "after-last-change",
    "an unpack or close is not dated before the parent's last recorded change (beyond the clock skew)",
    "event_time",
    f"{_CASE} was last changed at 2026-11-22T08:15:00+00:00; an unpack or close cannot be dated before it "
    "(2026-11-22T07:00:00+00:00)",
)
IN_PARENT = Rule(
    "in-parent",
    "every child unpacked is in that parent now",
    "children[0]",
    f"{_UNIT} is not in {_CASE}",
)
NOT_EMPTY = Rule(
    "not-empty",
    "an unpack removes at least one child",
    "children",
    f"{_CASE} holds no children",
)
MATCHES_COUNT = Rule(
    "matches-count",
    "a close's `expected_count`, when given, is the number of children the parent holds",
    "expected_count",
    f"{_CASE} holds 98 children, not 100",
)

# What a read asks for exists (404).

PACKED_PARENT = Rule(
    "packed-parent",
    "the object asked for holds children (at `at`, if given); one outside the caller's scope answers the same",
    "id",
    "holds no children",
)
KNOWN_BATCH = Rule(
    "known-batch",
    "the batch (GTIN and lot) is registered; one outside the caller's scope answers the same",
    "lot",
    "unknown",
)

# What an AggregationEvent captured through EPCIS must be to be recorded here (see domain.captured).

CAPTURED_AGGREGATION = Rule(
    "captured-aggregation",
    "an AggregationEvent captured through EPCIS is a packing (action ADD, bizStep packing) or an unpacking "
    "(action DELETE, bizStep unpacking) of serialised objects (SGTINs, SSCCs) into or out of the parent it names",
    "eventList[0].parentID",
    "an AggregationEvent adding children names the parent they are packed into: parentID",
)
PACKED_AS_CAPTURED = Rule(
    "packed-as-captured",
    "a packing or unpacking captured through EPCIS is one aggregation records",
    "eventList[0]",
    "the packing could not be recorded",
)
CAPTURER_SCOPE = Rule(
    "capturer-scope",
    "a packing or unpacking captured through EPCIS happens on a line, and names parents and children, within the "
    "capturing key's scope",
    "eventList[0].readPoint.id",
    "the line at this read point is not within the capturing key's scope",
)
