"""GS1 keys as path parameters, with the patterns the OpenAPI document states: the document is
as strict as the server, so a client (or a fuzzer) knows what is accepted before sending it.
The check digit is not a pattern: the server names it when it is wrong."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from serialtrail_contracts.identity import Target
from serialtrail_kit.access.resources import Refusals, TargetOf
from serialtrail_kit.errors import InvalidInput

from serialtrail_gs1.keys import require_gtin
from serialtrail_gs1.rules import GTIN

# GS1 General Specifications figure 7.11-1 (the 82 characters of AI 10 and AI 21), without "/"
# which cannot appear in one path segment.
_CSET82_SEGMENT = r"[!\"%&'()*+,\-.0-9:;<=>?A-Z_a-z]"

GtinPath = Annotated[str, Path(pattern=r"^[0-9]{14}$", description="GTIN-14 (14 digits, GS1 check digit)")]
LotPath = Annotated[
    str, Path(pattern=f"^{_CSET82_SEGMENT}{{1,20}}$", description="batch/lot (AI 10): 1 to 20 characters")
]
SerialPath = Annotated[
    str, Path(pattern=f"^{_CSET82_SEGMENT}{{1,20}}$", description="serial number (AI 21): 1 to 20 characters")
]
GlnPath = Annotated[str, Path(pattern=r"^[0-9]{13}$", description="GLN (13 digits, GS1 check digit)")]


def gtin_in_path(name: str = "gtin") -> TargetOf:
    """The product a path names, its check digit checked first: a mistyped GTIN is answered as
    such (422, rule `gtin`), never as an unknown batch or serial of some other GTIN."""

    async def target(request: Request) -> Target:
        gtin = str(request.path_params[name])
        require_gtin(gtin, name)  # before the lookups: a 13-digit GTIN too is named, not an unknown batch
        return Target(gtins=frozenset({gtin}))

    return target


GTIN_IN_PATH: Refusals = {InvalidInput: (GTIN,)}  # what `gtin_in_path` refuses, for a Resource's `refuses`
