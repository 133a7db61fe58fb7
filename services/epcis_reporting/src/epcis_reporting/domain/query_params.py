"""The standard query parameters this repository answers (EPCIS 2.0 §8.2.7.1), read into
`Filters` the same way whether they come as a URL's query string (`GET /events`: several values
separated by |) or as a named query's definition (JSON: a list of values, a time, a boolean)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from serialtrail_gs1.epcis_checks import canonical_epc, cbv_word
from serialtrail_kit.errors import InvalidInput, Rule

TIME_WITH_OFFSET = Rule(
    "time-with-offset",
    "a time parameter is an RFC 3339 date-time with its offset (Z or ±hh:mm)",
    "GE_eventTime",
    "'2026-11-30T09:00:00' has no offset",
)
SUPPORTED = Rule(
    "supported-parameter",
    "a named query uses the query parameters this repository answers (listed with GET /events), each with "
    "values of its type: a list of strings, a date-time, or (EXISTS_) a boolean",
    "query.EQ_quantity",
    "EQ_quantity is not a query parameter this repository answers",
)


@dataclass(frozen=True)
class Filters:
    """The standard query parameters this repository answers (EPCIS 2.0 §8.2.7.1)."""

    event_types: tuple[str, ...] = ()
    ge_event_time: datetime | None = None
    lt_event_time: datetime | None = None
    ge_record_time: datetime | None = None
    lt_record_time: datetime | None = None
    biz_steps: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    read_points: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    epcs: tuple[str, ...] = ()
    parent_ids: tuple[str, ...] = ()
    any_epcs: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    # Error declarations: None, the corrected view (events declared in error are left out, their
    # corrective events stand); False, every event as last declared; True, declarations only.
    declared: bool | None = None
    error_reasons: tuple[str, ...] = ()
    corrective_ids: tuple[str, ...] = ()
    lots: tuple[str, ...] = ()  # EQ_ILMD_cbvmda:lotNumber
    ge_declaration_time: datetime | None = None
    lt_declaration_time: datetime | None = None


Values = str | list[str] | bool
_LOT = "lotNumber"


def _words(kind: str) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    return lambda values: tuple(w for v in values if (w := cbv_word(v, kind)))


def _epcs(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(canonical_epc(v) for v in values)


def _as_is(values: tuple[str, ...]) -> tuple[str, ...]:
    return values


# Each list parameter: the Filters field it sets, and how its values are read.
LISTS: dict[str, tuple[str, Callable[[tuple[str, ...]], tuple[str, ...]]]] = {
    "eventType": ("event_types", _as_is),
    "EQ_bizStep": ("biz_steps", _words("BizStep")),
    "EQ_disposition": ("dispositions", _words("Disp")),
    "EQ_readPoint": ("read_points", _as_is),
    "EQ_bizLocation": ("biz_locations", _as_is),
    "MATCH_epc": ("epcs", _epcs),
    "MATCH_parentID": ("parent_ids", _epcs),
    "MATCH_anyEPC": ("any_epcs", _epcs),
    "EQ_eventID": ("event_ids", _as_is),
    "EQ_errorReason": ("error_reasons", _words("ER")),
    "EQ_correctiveEventID": ("corrective_ids", _as_is),
    f"EQ_ILMD_cbvmda:{_LOT}": ("lots", _as_is),
}
TIMES = {
    "GE_eventTime": "ge_event_time",
    "LT_eventTime": "lt_event_time",
    "GE_recordTime": "ge_record_time",
    "LT_recordTime": "lt_record_time",
    "GE_errorDeclarationTime": "ge_declaration_time",
    "LT_errorDeclarationTime": "lt_declaration_time",
}
BOOLEANS = {"EXISTS_errorDeclaration": "declared"}
PARAMETERS = (*LISTS, *TIMES, *BOOLEANS)


def filters_of(given: Mapping[str, Values | None], where: str, *, strict: bool = False) -> Filters:
    """`given` read into Filters; what cannot be read is refused naming `where`.<parameter>."""
    fields: dict[str, Any] = {}
    problems = []
    for name, value in given.items():
        at = f"{where}.{name}"
        if value is None:
            if strict:  # a definition says what it means; a URL leaves out what it does not ask
                problems.append(SUPPORTED.at(at, f"{name} has no value: leave it out"))
            continue
        if name in LISTS and (values := _strings(value)) is not None:
            field, read = LISTS[name]
            if (problem := _unanswerable(name, values)) is not None:
                problems.append(SUPPORTED.at(at, problem))
            else:
                fields[field] = read(values)
        elif name in TIMES and isinstance(value, str):
            fields[TIMES[name]] = moment(value, at)
        elif name in BOOLEANS and isinstance(value, bool):
            fields[BOOLEANS[name]] = value
        else:
            problems.append(SUPPORTED.at(at, _unsupported(name)))
    if problems:
        raise InvalidInput(f"{len(problems)} query parameter(s) this repository does not answer", problems)
    return Filters(**fields)


EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
_MATCHED = ("MATCH_epc", "MATCH_parentID", "MATCH_anyEPC")


def _unanswerable(name: str, values: tuple[str, ...]) -> str | None:
    """Why values of `name` cannot be answered as asked (None: they can): answered as if absent,
    or matching nothing, each would look like an answer."""
    if not values:
        return f"{name} has no value: leave it out, or give values separated by |"
    if name == "eventType" and (odd := [v for v in values if v not in EVENT_TYPES]):
        return f"{odd[0][:100]!r} is not an EPCIS event type ({', '.join(EVENT_TYPES)})"
    if name in _MATCHED and any(v.strip()[:14].lower() == "urn:epc:idpat:" for v in values):
        return "EPC patterns (urn:epc:idpat:…) are not matched here: name the EPCs (URN or Digital Link)"
    return None


def value_count(query: Mapping[str, Values]) -> int:
    """How many values a definition holds, each of a string of |-separated values counted."""
    return sum(1 if isinstance(v, bool) else len(_strings(v) or ()) for v in query.values())


def _strings(value: Values) -> tuple[str, ...] | None:
    """A list of strings, or one string of values separated by | (as a URL carries them)."""
    if isinstance(value, str):
        return tuple(v for v in value.split("|") if v)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _unsupported(name: str) -> str:
    if name in PARAMETERS:
        wanted = "a list of strings" if name in LISTS else "a date-time" if name in TIMES else "true or false"
        return f"{name} takes {wanted}"
    return f"{name[:80]} is not a query parameter this repository answers ({', '.join(PARAMETERS)})"


def moment(text: str, at: str) -> datetime:
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        found = None
    if found is None or found.tzinfo is None:
        message = f"{text[:40]!r} is not a date-time with its offset"
        raise InvalidInput(message, [TIME_WITH_OFFSET.at(at, message)])
    try:  # a time UTC cannot hold (year 1 east of Greenwich, year 9999 west of it) is no time to compare with
        found.astimezone(UTC)
    except OverflowError:
        message = f"{text[:40]!r} is outside the years 1 to 9999 in UTC"
        raise InvalidInput(message, [TIME_WITH_OFFSET.at(at, message)]) from None
    return found
