"""Which GS1 Application Identifiers must come together and which must not (GS1 General
Specifications §4.14, "mandatory associations" and "invalid pairs"), for the AIs found on
pharmaceutical packs, cases and pallets. An AI outside this table is accepted with no
association checked if GS1's AI table (as `biip` ships it) knows it, and refused if not.

Each requirement is a list of alternatives; an alternative is one AI or several joined by
`+` that must all be present."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from serialtrail_kit.errors import Rule

from serialtrail_gs1.rules import AI_EXCLUDES, AI_REQUIRES

_TRADE_ITEM = ("01", "02", "03", "8006", "8026")

REQUIRES: dict[str, tuple[str, ...]] = {
    "02": ("37",),
    "10": _TRADE_ITEM,
    "11": _TRADE_ITEM,
    "13": _TRADE_ITEM,
    "15": _TRADE_ITEM,
    "16": _TRADE_ITEM,
    "17": (*_TRADE_ITEM, "255"),
    "20": _TRADE_ITEM,
    "21": ("01", "03", "8006"),
    "22": ("01",),
    "235": ("01",),
    "240": _TRADE_ITEM,
    "241": _TRADE_ITEM,
    "250": ("01+21", "03+21", "8006+21"),
    "30": ("01", "02"),
    "37": ("00+02", "00+8026"),
    "710": ("01",),  # national healthcare reimbursement numbers: DE (PZN), FR (CIP), ES (CN),
    "711": ("01",),  # BR (DRN), PT (AIM), US (NDC, AI 715)
    "712": ("01",),
    "713": ("01",),
    "714": ("01",),
    "715": ("01",),
}

EXCLUDES: dict[str, tuple[str, ...]] = {
    "01": ("255", "37"),
    "02": ("01", "03"),
    "03": ("01", "02", "37", "235"),
    "21": ("235",),
    "255": ("01", "02", "415", "8006", "8020", "8026"),
}


@dataclass(frozen=True)
class RuleBroken:
    ai: str
    rule: Rule  # AI_REQUIRES | AI_EXCLUDES
    message: str


def broken_rule(ais: Iterable[str]) -> RuleBroken | None:
    """The first association rule the AIs of one scan break, or None."""
    present = set(ais)
    for ai in sorted(present):
        for other in EXCLUDES.get(ai, ()):
            if other in present:
                return RuleBroken(ai, AI_EXCLUDES, f"AI ({ai}) must not appear with AI ({other})")
        alternatives = REQUIRES.get(ai)
        if alternatives and not any(set(a.split("+")) <= present for a in alternatives):
            named = " or ".join("+".join(f"({p})" for p in a.split("+")) for a in alternatives)
            return RuleBroken(ai, AI_REQUIRES, f"AI ({ai}) requires {named}")
    return None
