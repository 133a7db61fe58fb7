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
from itertools import chain

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


def grouped_lines(groups: Sequence[tuple[Sequence[str], Sequence[str | None]]]) -> str:
    """The lines of groups of rows, each group's rows differing only in their first column (the ids
    one event names, then the values the event's rows share). The lines are put together as they
    are, then checked by counting: a value holding a tab, a line break or a backslash adds one to
    the text's count of it beyond what each row's separators and NULLs (`\\N`) account for. Where
    a count is off (as never but for odd data), value by value; the same text either way."""
    if not groups:
        return ""
    firsts, rests = zip(*groups, strict=True)
    if all(len(first) == 1 for first in firsts):
        lines, rows, tabs, nulls = _row_lines(firsts, rests)
    else:
        lines, rows, tabs, nulls = _group_lines(groups)
    counted = lines.count("\n") == rows and lines.count("\t") == tabs and lines.count("\\") == nulls
    return lines if counted and "\r" not in lines else _escaped_lines(groups)


def _row_lines(firsts: Sequence[Sequence[str]], rests: Sequence[Sequence[str | None]]) -> tuple[str, int, int, int]:
    """One row per group (as many events name one id each): column by column, no Python loop per
    row. The text, its rows, the tabs between their values and their NULLs (a group of another
    width than the first is refused by `zip`)."""
    columns = list(zip(*rests, strict=True))
    nulls = sum(column.count(None) for column in columns)
    texts = [column if None not in column else [_NULL if v is None else v for v in column] for column in columns]
    rows = zip(chain.from_iterable(firsts), *texts, strict=True)
    return "\n".join(map("\t".join, rows)) + "\n", len(firsts), len(firsts) * len(columns), nulls


def _group_lines(groups: Sequence[tuple[Sequence[str], Sequence[str | None]]]) -> tuple[str, int, int, int]:
    """Each group's shared tail joined between its ids; counted as `_row_lines` counts, group by group."""
    lines: list[str] = []
    rows = tabs = nulls = 0
    for first, rest in groups:
        if first:
            tail = "\t" + "\t".join([_NULL if v is None else v for v in rest]) + "\n"
            lines.append(tail.join(first) + tail)
            rows += len(first)
            tabs += len(first) * len(rest)
            nulls += len(first) * rest.count(None)
    return "".join(lines), rows, tabs, nulls


def _escaped_lines(groups: Sequence[tuple[Sequence[str], Sequence[str | None]]]) -> str:
    lines = []
    for first, rest in groups:
        if first:
            tail = "\t" + "\t".join(text(v) for v in rest) + "\n"
            lines.append(tail.join(text(v) for v in first) + tail)
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
