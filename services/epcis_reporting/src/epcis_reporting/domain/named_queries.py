"""Named queries (EPCIS 2.0 REST binding `/queries`): a view on the repository by name. A named
query is its creator's: each principal names its own (stream `query-<principal>-<name>`), so a
name another has taken is neither refused nor revealed, and another's query answers as unknown."""

from __future__ import annotations

import re
from collections.abc import Sequence

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.epcis import QueryDefined, QueryDeleted
from serialtrail_kit.errors import Conflict, InvalidInput, NotFound, Rule

QUERY_NAME = Rule(
    "query-name",
    "a query name is 1 to 64 letters, digits, '-', '_', '.' or '~' (it is a path segment)",
    "name",
    "'my query' holds a space",
)
UNIQUE_NAME = Rule(
    "query-name-unique",
    "a name names one of the caller's queries at a time (delete it to define it again)",
    "name",
    "the query 'daily-shipping' exists",
)
DEFINED = Rule("query-defined", "the named query exists (and is the caller's)", "queryName", "no query 'daily'")
NAME_PATTERN = r"^[A-Za-z0-9_.~-]{1,64}$"
_NAME = re.compile(NAME_PATTERN)


def require_name(name: str, field: str = "name") -> str:
    if not _NAME.match(name):
        message = f"{name[:70]!r} is not a query name: 1 to 64 letters, digits, '-', '_', '.' or '~'"
        raise InvalidInput(message, [QUERY_NAME.at(field, message)])
    return name


def stream_id(principal_id: str, name: str) -> str:
    return f"query-{principal_id}-{name}"


def defined(history: Sequence[EventContract]) -> bool:
    last = next((e for e in reversed(history) if isinstance(e, QueryDefined | QueryDeleted)), None)
    return isinstance(last, QueryDefined)


def define(history: Sequence[EventContract], proposed: QueryDefined) -> list[EventContract]:
    if defined(history):
        message = f"the query {proposed.name!r} exists: delete it first to define it again"
        raise Conflict(message, [UNIQUE_NAME.at("name", message)])
    return [proposed]


def delete(history: Sequence[EventContract], proposed: QueryDeleted) -> list[EventContract]:
    if not defined(history):
        raise unknown(proposed.name)
    return [proposed]


def unknown(name: str) -> NotFound:
    message = f"no query {name!r}"
    return NotFound(message, [DEFINED.at("queryName", message)])
