"""Grants: which trading partner may read the captured events about which batch. They stand in
for shipments until shipments exist (an object shipped to a partner will be its to read).

A partner is the party its GLN names; a partner's key or token names that GLN among its scope's
`sites` (the party it acts for). A grant is a stream of its own (`grant-<gln>-<gtin>-<lot>`):
granted, revoked, granted again."""

from __future__ import annotations

from collections.abc import Sequence

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.epcis import PartnerGranted, PartnerGrantRevoked
from serialtrail_kit.errors import NotFound, Rule

GRANTED = Rule(
    "granted",
    "a grant revoked is one in force for that partner and batch",
    "partner_gln",
    "partner 0614141000005 holds no grant for GTIN 09506000134352 lot L1",
)


def stream_id(partner_gln: str, gtin: str, lot: str) -> str:
    return f"grant-{partner_gln}-{gtin}-{lot}"


def in_force(history: Sequence[EventContract]) -> bool:
    last = next((e for e in reversed(history) if isinstance(e, PartnerGranted | PartnerGrantRevoked)), None)
    return isinstance(last, PartnerGranted)


def grant(history: Sequence[EventContract], proposed: PartnerGranted) -> list[EventContract]:
    """Granting what is in force already records nothing: the answer is the same grant."""
    return [] if in_force(history) else [proposed]


def revoke(history: Sequence[EventContract], proposed: PartnerGrantRevoked) -> list[EventContract]:
    if not in_force(history):
        message = f"partner {proposed.partner_gln} holds no grant for GTIN {proposed.gtin} lot {proposed.lot}"
        raise NotFound(message, [GRANTED.at("partner_gln", message)])
    return [proposed]
