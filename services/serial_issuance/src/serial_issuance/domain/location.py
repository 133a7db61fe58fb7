"""Sites (stream `site-<gln>`) and their lines (stream `line-<line id>`): the read points and
business locations every line event names. Registered once; the same data again is
answered, different data is a conflict."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from serialtrail_contracts.serials import Address, LineRegistered, SiteRegistered
from serialtrail_gs1.keys import require_gln
from serialtrail_gs1.locations import extension_problem, sgln_uri
from serialtrail_kit.errors import Conflict, InvalidInput

from serial_issuance.domain.rules import GLN_EXTENSION, LINE_ID, UNIQUE

L = TypeVar("L", SiteRegistered, LineRegistered)

# Line ids are what line systems send in every request and what scopes list: short, no
# spaces, and never containing ':' so a line id can never be mistaken for an SGLN URI.
_LINE_ID = re.compile(r"^[0-9A-Za-z._-]{1,64}$")
LINE_ID_RULE = "1 to 64 letters, digits, '.', '_' or '-'"


def site_stream(gln: str) -> str:
    return f"site-{gln}"


def line_stream(line_id: str) -> str:
    return f"line-{line_id}"


def line_id_problem(line_id: str) -> str | None:
    return None if _LINE_ID.match(line_id) else f"a line id is {LINE_ID_RULE}"


def site(
    gln: str, company_prefix_length: int, name: str, address: dict[str, str], cmo_id: str | None
) -> SiteRegistered:
    require_gln(gln, "gln")
    return SiteRegistered(
        gln=gln,
        company_prefix_length=company_prefix_length,
        name=name,
        address=Address(**address),
        cmo_id=cmo_id,
        biz_location=sgln_uri(gln, company_prefix_length),
    )


def line(at: SiteRegistered, line_id: str, name: str, extension: str | None) -> LineRegistered:
    """A line of site `at`; its read point is the site's GLN with `extension` (default: the line id)."""
    if (problem := line_id_problem(line_id)) is not None:
        raise InvalidInput(problem, [LINE_ID.at("line_id", problem)])
    if (problem := extension_problem(extension or line_id)) is not None:
        if extension is None:  # the line id stood in for the extension it was not given
            problem = (
                f"the line id {line_id!r} cannot serve as its read point's GLN extension: give `extension` ({problem})"
            )
        raise InvalidInput(problem, [GLN_EXTENSION.at("extension", problem)])
    extension = extension or line_id
    return LineRegistered(
        line_id=line_id,
        name=name,
        site_gln=at.gln,
        cmo_id=at.cmo_id,
        read_point=sgln_uri(at.gln, at.company_prefix_length, extension),
        biz_location=at.biz_location,
    )


def register(existing: Sequence[L], proposed: L) -> L:
    """What stands registered: `proposed`, or the same registered before."""
    if not existing or existing[-1] == proposed:
        return proposed
    earlier = existing[-1]
    what = (
        f"line {earlier.line_id} (line ids are unique across sites; it is at site {earlier.site_gln})"
        if isinstance(earlier, LineRegistered)
        else f"site {earlier.gln}"
    )
    field = "gln" if isinstance(proposed, SiteRegistered) else "line_id"
    raise Conflict(f"{what} is already registered with different data", [UNIQUE.at(field, "already registered")])
