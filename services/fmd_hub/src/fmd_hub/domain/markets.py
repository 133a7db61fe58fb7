"""The markets whose national systems are connected to the European Hub: the EU and EEA
countries under Delegated Regulation 2016/161, and Northern Ireland (XI)."""

from __future__ import annotations

EU = frozenset({"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE"}) | frozenset(
    {"IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
)
EEA = frozenset({"IS", "LI", "NO"})
HUB_MARKETS = EU | EEA | {"XI"}  # XI: Northern Ireland
