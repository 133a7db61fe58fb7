"""The hub service's knowledge of commissioning: copied in when nothing is there yet, inserted with
ON CONFLICT DO NOTHING otherwise; the same rows either way, the first commissioning kept."""

from __future__ import annotations

from fmd_hub_helpers import GTIN, LOT, batch, commissioned, product, publish
from serialtrail_kit.testing.harness import Harness


async def _rows(fmd: Harness) -> list[tuple[str, str, str]]:
    async with fmd.composition.admin_pool.acquire() as conn:
        found = await conn.fetch("SELECT gtin, serial, lot FROM fmd_hub_rm.commissioned ORDER BY serial")
    return [(r["gtin"], r["serial"], r["lot"]) for r in found]


async def test_a_serial_commissioned_again_keeps_its_first_batch(fmd: Harness) -> None:
    await publish(fmd, product(), batch(), batch(lot="L2026B"), commissioned(["K1", "K2"]))
    assert await _rows(fmd) == [(GTIN, "K1", LOT), (GTIN, "K2", LOT)]
    # One there already, one twice in an event: the copy gives way to the insert, in log order.
    await publish(fmd, commissioned(["K2", "K3", "K3"], lot="L2026B"), commissioned(["K3", "K4"]))
    assert await _rows(fmd) == [(GTIN, "K1", LOT), (GTIN, "K2", LOT), (GTIN, "K3", "L2026B"), (GTIN, "K4", LOT)]
