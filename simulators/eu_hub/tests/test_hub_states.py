"""Pack states: decommissioning, its undo (ten days on the simulator's clock, from the same
location), scans in the markets and the alerts they raise, paged by cursor."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from eu_hub_helpers import (
    DAY,
    LATER,
    LOCATION,
    change,
    get_batch,
    gtin,
    key,
    new_batch,
    refused,
    set_batch,
    yymmdd,
)
from eu_hub_simulator.testing import RunningSimulator

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


async def test_a_pack_is_decommissioned_once(client: httpx.AsyncClient, hub: RunningSimulator) -> None:
    code, batch, packs = await new_batch(client)
    answer = await change(client, code, packs[0], "Supplied", batch)
    assert answer.json() == {"product_code": code, "serial": packs[0], "state": "Supplied", "previous_state": "Active"}
    refused(await change(client, code, packs[0], "Supplied", batch), 409, "NMVS_NC_PCK_19")
    refused(await change(client, code, packs[0], "Destroyed", batch), 409, "NMVS_NC_PCK_22")
    refused(await change(client, code, packs[1], "Active", batch), 422, "NMVS_FE_REQ_02")  # Active only by undo
    counts = (await get_batch(client, code, batch)).json()["by_state"]
    assert (counts["Active"], counts["Supplied"], counts["Destroyed"]) == (4, 1, 0)
    history = (await hub.pack(code, packs[0]))["history"]
    assert [(h["previous_state"], h["state"], h["location"]) for h in history] == [("Active", "Supplied", LOCATION)]


@pytest.mark.parametrize("state", ["Supplied", "Exported", "Checked-out", "Stolen", "Sample", "Free sample", "Locked"])
async def test_every_decommissioned_state_can_be_reached_from_active(client: httpx.AsyncClient, state: str) -> None:
    code, batch, packs = await new_batch(client, n=1)
    assert (await change(client, code, packs[0], state, batch)).json()["state"] == state


async def test_a_change_names_a_known_pack_of_its_batch(client: httpx.AsyncClient) -> None:
    code, batch, packs = await new_batch(client)
    refused(await change(client, gtin(), packs[0], "Supplied", batch), 404, "NMVS_NC_PC_02")
    refused(await change(client, code, "NOSUCHPACK", "Supplied", batch), 404, "NMVS_NC_PCK_01")
    refused(await change(client, code, packs[0], "Supplied", "OTHER"), 422, "NMVS_FE_LOT_03")
    refused(await change(client, code, packs[0], "Supplied", batch, expiry="301231"), 422, "NMVS_FE_LOT_03")
    refused(await change(client, code, packs[0], "Supplied", batch, location=""), 422, "NMVS_FE_REQ_02")
    assert (await get_batch(client, code, batch)).json()["by_state"]["Active"] == 5


async def test_a_pack_of_an_expired_batch_cannot_change(client: httpx.AsyncClient, clock: RunningSimulator) -> None:
    code, batch, packs = await new_batch(client, expiry=yymmdd(2))
    await clock.clock(4 * DAY)
    refused(await change(client, code, packs[0], "Supplied", batch, expiry=yymmdd(2)), 409, "NMVS_NC_PCK_06")
    await clock.clock(0)
    assert (await change(client, code, packs[0], "Supplied", batch, expiry=yymmdd(2))).status_code == 200


async def test_an_undo_returns_the_pack_to_active(client: httpx.AsyncClient, hub: RunningSimulator) -> None:
    code, batch, packs = await new_batch(client)
    assert (await change(client, code, packs[0], "Exported", batch)).status_code == 200
    answer = await change(client, code, packs[0], "Active", batch, undo=True)
    assert answer.json() == {"product_code": code, "serial": packs[0], "state": "Active", "previous_state": "Exported"}
    refused(await change(client, code, packs[0], "Active", batch, undo=True), 409, "NMVS_NC_PCK_07")  # already Active
    # It is Active again: it can be supplied, and the history holds all three steps.
    assert (await change(client, code, packs[0], "Supplied", batch)).status_code == 200
    history = (await hub.pack(code, packs[0]))["history"]
    assert [(h["state"], h["undo"]) for h in history] == [("Exported", False), ("Active", True), ("Supplied", False)]
    assert all(ISO_UTC.fullmatch(h["at"]) for h in history)


@pytest.mark.parametrize("state", ["Stolen", "Destroyed"])
async def test_stolen_and_destroyed_are_for_good(client: httpx.AsyncClient, state: str) -> None:
    code, batch, packs = await new_batch(client, n=1)
    assert (await change(client, code, packs[0], state, batch)).status_code == 200
    refused(await change(client, code, packs[0], "Active", batch, undo=True), 409, "NMVS_NC_PCK_07")


async def test_an_undo_says_active(client: httpx.AsyncClient) -> None:
    code, batch, packs = await new_batch(client, n=1)
    assert (await change(client, code, packs[0], "Locked", batch)).status_code == 200
    refused(await change(client, code, packs[0], "Supplied", batch, undo=True), 422, "NMVS_FE_REQ_02")


async def test_an_undo_comes_from_where_the_change_was_made(client: httpx.AsyncClient) -> None:
    code, batch, packs = await new_batch(client, n=1)
    assert (await change(client, code, packs[0], "Sample", batch, location="SITE-A")).status_code == 200
    refused(await change(client, code, packs[0], "Active", batch, location="SITE-B", undo=True), 409, "NMVS_NC_PCK_09")
    assert (await change(client, code, packs[0], "Active", batch, location="SITE-A", undo=True)).status_code == 200


async def test_an_undo_is_possible_for_ten_days(client: httpx.AsyncClient, clock: RunningSimulator) -> None:
    code, batch, packs = await new_batch(client, n=2)
    for serial in packs:
        assert (await change(client, code, serial, "Checked-out", batch)).status_code == 200
    await clock.clock(10 * DAY - 60)
    assert (await change(client, code, packs[0], "Active", batch, undo=True)).status_code == 200
    await clock.clock(10 * DAY + 60)
    refused(await change(client, code, packs[1], "Active", batch, undo=True), 409, "NMVS_NC_PCK_08")


async def test_no_undo_in_a_recalled_or_expired_batch(client: httpx.AsyncClient, clock: RunningSimulator) -> None:
    code, batch, packs = await new_batch(client, n=1)
    assert (await change(client, code, packs[0], "Supplied", batch)).status_code == 200
    assert (await set_batch(client, code, batch, "Recalled")).status_code == 200
    refused(await change(client, code, packs[0], "Active", batch, undo=True), 409, "NMVS_FE_LOT_04")
    soon = yymmdd(1)
    code, batch, packs = await new_batch(client, n=1, expiry=soon)
    assert (await change(client, code, packs[0], "Supplied", batch, expiry=soon)).status_code == 200
    await clock.clock(3 * DAY)  # within the ten days, but past the expiry
    refused(await change(client, code, packs[0], "Active", batch, expiry=soon, undo=True), 409, "NMVS_NC_PCK_06")


# --- scans in the markets, and alerts -----------------------------------------------------------


def scan(code: str, serial: str, batch: str, **changes: Any) -> dict[str, Any]:
    return {
        "product_code": code,
        "serial": serial,
        "batch_id": batch,
        "expiry": LATER,
        "market": "DE",
        "location": "PHARMACY-DE-1",
        "decommission": None,
        **changes,
    }


async def test_a_scan_of_a_good_pack_is_ok_and_may_supply_it(client: httpx.AsyncClient, hub: RunningSimulator) -> None:
    code, batch, packs = await new_batch(client)
    assert await hub.verify(**scan(code, packs[0], batch)) == {
        "result": "OK",
        "state": "Active",
        "alert": None,
        "batch_state": "Active",
    }
    supplied = await hub.verify(**scan(code, packs[0], batch, decommission="Supplied"))
    assert (supplied["result"], supplied["state"]) == ("OK", "Supplied")
    pack = await hub.pack(code, packs[0])
    assert pack["state"] == "Supplied"
    assert pack["history"][-1]["location"] == "PHARMACY-DE-1"
    assert pack["history"][-1]["source"] == "verify"
    # The pharmacy may undo its own supply, from the same place, through the wire API's rules.
    answer = await change(client, code, packs[0], "Active", batch, location="PHARMACY-DE-1", undo=True)
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("wrong", "alert_code"),
    [
        ({"product_code": "UNKNOWN"}, "NMVS_NC_PC_02"),
        ({"serial": "UNKNOWNPACK"}, "NMVS_NC_PCK_01"),
        ({"market": "FR"}, "NMVS_NC_PCK_01"),  # the pack was not uploaded for France
        ({"batch_id": "OTHER"}, "NMVS_FE_LOT_03"),
        ({"expiry": "300101"}, "NMVS_FE_LOT_12"),
    ],
)
async def test_a_scan_that_does_not_match_the_hub_raises_an_alert(
    client: httpx.AsyncClient, hub: RunningSimulator, wrong: dict[str, str], alert_code: str
) -> None:
    code, batch, packs = await new_batch(client, n=1)
    answer = await hub.verify(**{**scan(code, packs[0], batch), **wrong})
    assert answer["result"] == "ALERT"
    assert answer["alert"]["code"] == alert_code
    assert answer["alert"]["serial"] == wrong.get("serial", packs[0])
    assert (await hub.pack(code, packs[0]))["state"] == "Active"  # and it changed nothing


async def test_decommissioning_twice_raises_an_alert(client: httpx.AsyncClient, hub: RunningSimulator) -> None:
    code, batch, packs = await new_batch(client, n=1)
    assert (await hub.verify(**scan(code, packs[0], batch, decommission="Supplied")))["result"] == "OK"
    again = await hub.verify(**scan(code, packs[0], batch, decommission="Supplied"))
    assert (again["result"], again["alert"]["code"], again["state"]) == ("ALERT", "NMVS_NC_PCK_19", "Supplied")
    other = await hub.verify(**scan(code, packs[0], batch, decommission="Destroyed"))
    assert (other["result"], other["alert"]["code"]) == ("ALERT", "NMVS_NC_PCK_22")
    assert (await hub.verify(**scan(code, packs[0], batch)))["result"] == "OK"  # a plain scan: its state


async def test_a_pack_of_a_recalled_batch_is_not_supplied(client: httpx.AsyncClient, hub: RunningSimulator) -> None:
    code, batch, packs = await new_batch(client, n=1)
    assert (await set_batch(client, code, batch, "Recalled")).status_code == 200
    answer = await hub.verify(**scan(code, packs[0], batch, decommission="Supplied"))
    assert (answer["result"], answer["code"], answer["alert"]) == ("REFUSED", "NMVS_FE_LOT_04", None)
    assert (await hub.pack(code, packs[0]))["state"] == "Active"


async def test_a_scan_names_an_fmd_market(client: httpx.AsyncClient) -> None:
    answer = await client.post("/_sim/verify", json=scan(gtin(), "A1", "B1", market="US"))
    refused(answer, 422, "NMVS_FE_REQ_02")


async def all_alerts_after(client: httpx.AsyncClient, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Every alert after `after`, page by page, and the cursor to poll from next."""
    found: list[dict[str, Any]] = []
    while True:
        page = (await client.get("/v1/alerts", params={"after": after} if after else {})).json()
        found += page["alerts"]
        if page["next"] is None:
            return found, after
        after = page["next"]


async def test_alerts_are_paged_oldest_first_by_cursor(client: httpx.AsyncClient, hub: RunningSimulator) -> None:
    _, start = await all_alerts_after(client, None)  # the end of what earlier tests raised
    code, batch, packs = await new_batch(client, n=5)
    for serial in packs:
        await hub.verify(**scan(code, serial, batch, expiry="300101", location=f"LOC-{serial}"))
    pages = []
    after = start
    while True:
        page = (await client.get("/v1/alerts", params={"limit": 2, **({"after": after} if after else {})})).json()
        if not page["alerts"]:
            assert page["next"] is None
            break
        pages.append(page["alerts"])
        after = page["next"]
    assert [len(p) for p in pages] == [2, 2, 1]
    alerts = [a for p in pages for a in p]
    assert [a["serial"] for a in alerts] == packs
    assert len({a["alert_id"] for a in alerts}) == 5
    first = alerts[0]
    assert first["code"] == "NMVS_FE_LOT_12"
    assert (first["product_code"], first["batch_id"], first["market"]) == (code, batch, "DE")
    assert first["location"] == f"LOC-{packs[0]}"
    assert ISO_UTC.fullmatch(first["raised_at"])
    # The same cursor reads the same page again: nothing is consumed by reading.
    again = (await client.get("/v1/alerts", params={"limit": 2, **({"after": start} if start else {})})).json()
    assert again["alerts"] == pages[0]


@pytest.mark.parametrize(
    "params",
    [{"after": "abc"}, {"after": "-1"}, {"after": "999999999"}, {"limit": "0"}, {"limit": "501"}, {"limit": "x"}],
)
async def test_a_bad_cursor_or_limit_is_refused(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    assert (await client.get("/v1/alerts", params=params)).status_code == 422


async def test_a_cursor_needs_no_key_but_a_write_does(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/alerts", params={"limit": 500})).status_code == 200
    body = {"batch_id": "B", "expiry": LATER, "state": "Supplied", "location": "X", "undo": False}
    refused(await client.post(f"/v1/packs/{gtin()}/{key()}/state", json=body), 400, "NMVS_FE_IDEMPOTENCY_01")
