"""Line exceptions' knowledge of commissioning: copied in when nothing is there yet, inserted with
ON CONFLICT DO NOTHING otherwise; the same rows either way."""

from __future__ import annotations

from line_exceptions_helpers import GTIN, LOT, commissioned, line, master_data, publish
from serialtrail_kit.testing.harness import Harness


async def test_a_serial_commissioned_again_keeps_its_first_commissioning(exceptions: Harness) -> None:
    await publish(exceptions, *master_data(), commissioned(["K00000000001", "K00000000002"]))
    await publish(exceptions, line("LINE-2"))
    async with exceptions.composition.admin_pool.acquire() as conn:
        first = await conn.fetch("SELECT * FROM line_exceptions_rm.commissioned ORDER BY serial")
    # one of them there already, and one twice in an event: the copy gives way to the insert
    await publish(exceptions, commissioned(["K00000000002", "K00000000003", "K00000000003"], line_id="LINE-2"))
    async with exceptions.composition.admin_pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM line_exceptions_rm.commissioned ORDER BY serial")
    assert [r["serial"] for r in rows] == ["K00000000001", "K00000000002", "K00000000003"]
    assert rows[:2] == first  # the first commissioning's line and time stay
    assert {(r["gtin"], r["lot"]) for r in rows} == {(GTIN, LOT)}
    assert rows[2]["line_id"] == "LINE-2"
