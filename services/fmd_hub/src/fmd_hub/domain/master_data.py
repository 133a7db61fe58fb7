"""A product's master data for the hub, versioned: a change is a new version, an identical
submission is no change, and the markets are those of the product that use the hub."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from serialtrail_contracts.fmd import MarketCode, MasterDataVersioned, Party
from serialtrail_kit.errors import Violation

from fmd_hub.domain.markets import HUB_MARKETS
from fmd_hub.domain.rules import EU_MARKET


@dataclass(frozen=True)
class MasterData:
    """What an owner submits for a product; the version is the service's to give."""

    gtin: str
    name: str
    common_name: str
    pharmaceutical_form: str
    strength: str
    pack_type: str
    pack_size: int
    markets: tuple[MarketCode, ...]
    mah: Party
    wholesalers: tuple[Party, ...] = ()

    def as_version(self, version: int) -> MasterDataVersioned:
        return MasterDataVersioned(
            gtin=self.gtin,
            version=version,
            name=self.name,
            common_name=self.common_name,
            pharmaceutical_form=self.pharmaceutical_form,
            strength=self.strength,
            pack_type=self.pack_type,
            pack_size=self.pack_size,
            markets=self.markets,
            mah=self.mah,
            wholesalers=self.wholesalers,
        )


def stream_id(gtin: str) -> str:
    return f"fmd-product-{gtin}"


def market_violations(markets: Iterable[MarketCode], target_markets: Iterable[str]) -> list[Violation]:
    """Each market must use the hub, be one the product was registered for, and come once."""
    targets, seen, found = set(target_markets), set(), []
    for index, entry in enumerate(markets):
        field = f"markets[{index}].market"
        if entry.market not in HUB_MARKETS:
            found.append(EU_MARKET.at(field, f"{entry.market!r} does not use the European Hub"))
        elif entry.market not in targets:
            message = f"{entry.market!r} is not one of the product's target markets ({', '.join(sorted(targets))})"
            found.append(EU_MARKET.at(field, message))
        elif entry.market in seen:
            found.append(EU_MARKET.at(field, f"{entry.market!r} is named twice"))
        seen.add(entry.market)
    return found


def next_version(submitted: MasterData, latest: MasterDataVersioned | None) -> MasterDataVersioned | None:
    """The new version, or None when the submission is the latest version again."""
    if latest is None:
        return submitted.as_version(1)
    if submitted.as_version(latest.version) == latest:
        return None
    return submitted.as_version(latest.version + 1)
