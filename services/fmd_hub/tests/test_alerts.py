"""The hub's alerts: fetched as the hub raises them (none twice, none lost across fetches),
linked to the serial or batch they name, and worked: investigated (linked to a deviation line
exceptions opened for the product), closed with a reason."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from eu_hub_simulator.testing import RunningSimulator as Simulator
from fmd_hub_helpers import GTIN, LOT, SERVICE, log_of, publish, serials, staged
from serialtrail_contracts.deviations import DeviationOpened
from serialtrail_contracts.fmd import AlertReceived
from serialtrail_contracts.identity import Role, Scope
from serialtrail_kit.testing.harness import Harness
from serialtrail_kit.testing.waiting import until
from test_pack_states import uploaded

SCAN = {"product_code": GTIN, "batch_id": LOT, "expiry": "290630", "market": "DE", "location": "PHARMACY-1"}


async def listed(fmd: Harness, count: int, **filters: str) -> list[dict[str, Any]]:
    async def enough() -> bool:
        answer = await fmd.client.get("/v1/fmd/alerts", params=filters)
        assert answer.status_code == 200, answer.text
        return len(answer.json()["alerts"]) >= count

    await until(enough, timeout=30)
    found: list[dict[str, Any]] = (await fmd.client.get("/v1/fmd/alerts", params=filters)).json()["alerts"]
    return found


async def test_alerts_are_fetched_once_linked_and_worked(fmd_and_hub: tuple[Harness, Simulator]) -> None:
    fmd, hub = fmd_and_hub
    units = serials(3)
    await staged(fmd, units)
    await uploaded(fmd, units)
    unknown_pack = await hub.verify(**SCAN, serial="NEVER1")
    mismatch = await hub.verify(**(SCAN | {"batch_id": "OTHER"}), serial=units[0])
    assert (unknown_pack["result"], mismatch["result"]) == ("ALERT", "ALERT")

    found = await listed(fmd, 2)
    assert [(a["code"], a["serial"], a["lot"], a["batch_lot"], a["state"]) for a in found] == [
        ("NMVS_NC_PCK_01", "NEVER1", LOT, LOT, "new"),
        ("NMVS_FE_LOT_03", units[0], "OTHER", LOT, "new"),  # a pack of this batch, scanned as another lot
    ]
    await asyncio.sleep(1.0)  # several more fetches: nothing fetched twice
    assert len(await log_of(fmd, AlertReceived.EVENT_TYPE)) == 2
    await hub.verify(**SCAN, serial="NEVER2")
    assert len(await listed(fmd, 3)) == 3
    assert len(await log_of(fmd, AlertReceived.EVENT_TYPE)) == 3

    in_review = (await fmd.client.get(f"/v1/fmd/batches/{GTIN}/{LOT}")).json()["open_alerts"]
    # Those of this batch: scanned as its lot, or one of its packs scanned with another lot.
    assert [a["code"] for a in in_review] == ["NMVS_NC_PCK_01", "NMVS_FE_LOT_03", "NMVS_NC_PCK_01"]
    assert [a["alert_id"] for a in await listed(fmd, 3, lot=LOT)] == [a["alert_id"] for a in in_review]
    alert = f"/v1/fmd/alerts/{found[0]['alert_id']}"
    unknown = await fmd.client.post(f"{alert}/investigation", json={"note": "n", "deviation_id": str(uuid.uuid4())})
    assert (unknown.status_code, unknown.json()["errors"][0]["rule"]) == (422, "known-deviation"), unknown.text
    deviation = DeviationOpened(deviation_id=uuid.uuid4(), gtin=GTIN, lot=LOT, title="t", description="d")
    await publish(fmd, deviation, producer="line_exceptions")
    await fmd.runner(SERVICE, "deviations_known").caught_up(timeout=30)
    body = {"note": "checking the reject bin", "deviation_id": str(deviation.deviation_id)}
    investigated = await fmd.client.post(f"{alert}/investigation", json=body)
    assert (investigated.status_code, investigated.json()["state"]) == (200, "under-investigation"), investigated.text
    again = await fmd.client.post(f"{alert}/investigation", json=body)
    assert (again.status_code, again.json()["errors"][0]["rule"]) == (409, "alert-state"), again.text
    closed = await fmd.client.post(f"{alert}/close", json={"reason": "scanned twice: no falsification"})
    assert closed.status_code == 200, closed.text
    shown = (await fmd.client.get(alert)).json()
    assert (shown["state"], shown["deviation_id"], shown["closed_reason"]) == (
        "closed",
        str(deviation.deviation_id),
        "scanned twice: no falsification",
    )
    assert [a["alert_id"] for a in await listed(fmd, 1, state="closed")] == [found[0]["alert_id"]]
    assert (await fmd.client.get("/v1/fmd/alerts/no-such-alert")).status_code == 404


async def test_an_alert_of_any_form_is_kept_and_a_page_of_nonsense_is_waited_out(
    fmd_and_hub: tuple[Harness, Simulator],
) -> None:
    fmd, hub = fmd_and_hub
    await staged(fmd, serials(2))
    await uploaded(fmd, serials(2))
    await hub.faults({"status": 200, "process": False}, path="/v1/alerts$")  # a 200 holding no alerts
    await hub.verify(**SCAN, serial="NUL\u0000X")  # a pharmacy's scan: text PostgreSQL cannot hold
    await hub.verify(**SCAN, serial="NEVER3")
    found = await listed(fmd, 2)
    assert [a["serial"] for a in found] == ["NUL\ufffdX", "NEVER3"]


async def test_what_no_gtin_names_is_only_for_principals_nothing_narrows(
    fmd_and_hub: tuple[Harness, Simulator],
) -> None:
    fmd, hub = fmd_and_hub
    await staged(fmd, serials(2))
    await uploaded(fmd, serials(2))
    await hub.verify(**(SCAN | {"product_code": "X9506000134352"}), serial="S1")  # no GTIN
    await hub.verify(**SCAN, serial="NEVER4")  # this batch's (site 9506000000008)
    everything = await listed(fmd, 2)
    foreign, own = everything[0]["alert_id"], everything[1]["alert_id"]
    narrowed = {
        "by product": Scope(gtins=frozenset({GTIN})),
        "by site": Scope(sites=frozenset({"9506000000008"})),
        "by company": Scope(company_prefixes=frozenset({"9506000"})),
    }
    for how, scope in narrowed.items():
        async with fmd.client_with(await fmd.token(Role.qa, scope)) as client:
            seen = [a["alert_id"] for a in (await client.get("/v1/fmd/alerts")).json()["alerts"]]
            assert seen == [own], how
            assert (await client.get(f"/v1/fmd/alerts/{foreign}")).status_code == 404, how
            closing = await client.post(f"/v1/fmd/alerts/{foreign}/close", json={"reason": "x"})
            assert closing.status_code == 404, how
    elsewhere = Scope(sites=frozenset({"9506000000015"}))  # a batch made at another site is not this key's
    async with fmd.client_with(await fmd.token(Role.qa, elsewhere)) as client:
        assert (await client.get(f"/v1/fmd/batches/{GTIN}/{LOT}")).status_code == 404
        assert (await client.get("/v1/fmd/alerts")).json()["alerts"] == []
