"""COPY lines of groups of rows: whichever way a batch is put together (a row per group, many rows
per group, or value by value where a value needs escaping), the text is every value in COPY's text
form, row by row in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from serialtrail_kit.readers.copying import grouped_lines, text

# Values as odd as a field can hold: the characters COPY's text form escapes, and `\N`, its NULL.
_VALUE = st.text(alphabet=st.sampled_from(["a", "7", "\t", "\n", "\r", "\\", "N", "é"]), max_size=4)
_WIDTH = 3


def _expected(groups: list[tuple[list[str], tuple[str | None, ...]]]) -> str:
    return "".join("\t".join(text(v) for v in (first, *rest)) + "\n" for ids, rest in groups for first in ids)


def _groups(ids: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[tuple[list[str], tuple[str | None, ...]]]]:
    rest = st.tuples(*[st.none() | _VALUE] * _WIDTH)
    return st.lists(st.tuples(ids, rest), max_size=6)


@given(_groups(st.lists(_VALUE, min_size=1, max_size=1)))
def test_one_row_per_group_is_each_value_as_text(groups: list[tuple[list[str], tuple[str | None, ...]]]) -> None:
    assert grouped_lines(groups) == _expected(groups)


@given(_groups(st.lists(_VALUE, max_size=4)))
def test_many_rows_per_group_are_each_value_as_text(groups: list[tuple[list[str], tuple[str | None, ...]]]) -> None:
    assert grouped_lines(groups) == _expected(groups)


def test_a_value_that_looks_like_null_is_not_read_as_null() -> None:
    """`\\N` as a value (not a NULL) keeps the backslash count off, so it is escaped: `\\\\N`."""
    lines = grouped_lines([(["\\N"], ("a", None, "b"))])
    assert lines == "\\\\N\ta\t\\N\tb\n"
    assert grouped_lines([(["x", "y"], ("\\N", None, "b"))]) == "x\t\\\\N\t\\N\tb\ny\t\\\\N\t\\N\tb\n"


def test_groups_of_unequal_width_are_counted_each_by_its_own() -> None:
    """A tab in a value of a wider group must not pass for the separator a narrower group lacks."""
    groups = [(["a", "b"], ("u", "v")), (["c", "d"], ("w\tz",))]  # 8 tabs, as 4 rows of the first width
    assert grouped_lines(groups) == "a\tu\tv\nb\tu\tv\nc\tw\\tz\nd\tw\\tz\n"
