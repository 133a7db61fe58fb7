"""Rows a projection adds in bulk (thousands of ids named by one event), copied in by COPY in its
text form: one line of text per row is cheaper to make in Python and to store in PostgreSQL
than a row of INSERT ... SELECT. COPY has no ON CONFLICT: it runs under a savepoint, and where a
row is there already the savepoint is rolled back and the projection's own INSERT ... ON
CONFLICT DO NOTHING adds the rows instead, so the tables come out the same either way (every
value reaches PostgreSQL as the same text in both)."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from serialtrail_kit.db import Connection

_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def text(value: str | None) -> str:
    """A value in COPY's text form: NULL is \\N; a backslash, tab or line break escaped."""
    if value is None:
        return _NULL
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def texts(values: list[str]) -> list[str]:
    """Many values in COPY's text form, checked in one pass where none needs escaping."""
    return values if not _SPECIAL.search("".join(values)) else [text(v) for v in values]


def grouped_lines(groups: Sequence[tuple[Sequence[str], Sequence[str | None]]]) -> str:
    """The lines of groups of rows, each group's rows differing only in their first column (the ids
    one event names, then the values the event's rows share). Whether any value needs escaping is
    checked in one pass over them all: where none does (as ever but for odd data) the lines are put
    together as they are, else value by value; the same text either way."""
    values = [v for first, rest in groups for v in (*first, *rest) if v is not None]
    plain = not _SPECIAL.search("".join(values))
    lines = []
    for first, rest in groups:
        if first:
            tail = "\t" + "\t".join(_NULL if v is None else v if plain else text(v) for v in rest) + "\n"
            lines.append(tail.join(first if plain else texts(list(first))) + tail)
    return "".join(lines)


async def copy_text(conn: Connection, schema: str, table: str, columns: Sequence[str], lines: str) -> None:
    await conn.copy_to_table(
        table, source=io.BytesIO(lines.encode()), columns=list(columns), schema_name=schema, format="text"
    )


async def copied_or_inserted(
    conn: Connection, copy: Callable[[], Awaitable[None]], insert: Callable[[], Awaitable[None]]
) -> None:
    """`copy` under a savepoint; if a row was there already, `insert` instead."""
    with contextlib.suppress(asyncpg.UniqueViolationError):
        async with conn.transaction():
            await copy()
        return
    await insert()
