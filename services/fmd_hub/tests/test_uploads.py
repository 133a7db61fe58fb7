"""A batch's pack data uploaded to the hub (its simulator, a process of its own): in chunks,
each acknowledged, the hub's count reconciled with what was planned; rejects left out, other
packs taken out uploaded with their state to follow; nothing sent twice counted twice."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from eu_hub_simulator.testing import RunningSimulator as Simulator
from fmd_hub_helpers import GTIN, LOT, commissioned, decommissioned, log_of, master_data, publish, serials, staged
from serialtrail_contracts.exceptions import DecommissionReason
from serialtrail_contracts.fmd import ChunkAcknowledged, PacksPlanned, UploadPlanned, UploadReconciled
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import SYSTEM, Harness
from serialtrail_kit.testing.waiting import until

BATCH = f"/v1/fmd/batches/{GTIN}/{LOT}"


async def acknowledged_master_data(fmd: Harness) -> None:
    url = f"/v1/fmd/products/{GTIN}/master-data"
    assert (await fmd.client.post(url, json=master_data())).status_code == 201

    async def in_force() -> bool:
        return bool((await fmd.client.get(url)).json()["in_force"] == 1)

    await until(in_force, timeout=30)


async def status_of(fmd: Harness) -> dict[str, Any]:
    answer = await fmd.client.get(BATCH)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def settled(fmd: Harness, status: str = "reconciled") -> dict[str, Any]:
    async def reached() -> bool:
        return bool((await status_of(fmd))["status"] == status)

    await until(reached, timeout=60)
    return await status_of(fmd)


async def hub_batch(hub: Simulator) -> dict[str, Any]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {hub.token}"}) as client:
        answer = await client.get(f"{hub.url}/v1/batches/{GTIN}/{LOT}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_a_batch_is_uploaded_in_chunks_acknowledged_and_reconciled(
    fmd_and_hub: tuple[Harness, Simulator],
) -> None:
    fmd, hub = fmd_and_hub
    units = serials(25)
    await staged(fmd, units)
    await publish(fmd, decommissioned([units[3]], DecommissionReason.misprint), producer="line_exceptions")
    await publish(fmd, decommissioned([units[4]], DecommissionReason.sample), producer="line_exceptions")
    await acknowledged_master_data(fmd)

    answer = await fmd.client.post(f"{BATCH}/uploads")
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert (accepted["packs"], accepted["chunks"]) == (24, 3)
    assert (accepted["left_out"], accepted["states_after_upload"]) == ({"Destroyed": 1}, {"Sample": 1})

    status = await settled(fmd)
    upload = status["uploads"][0]
    assert (status["packs_planned"], status["packs_acknowledged"]) == (24, 24)
    chunks = [(c["chunk"], c["packs"], c["acknowledged"]) for c in upload["chunks"]]
    assert chunks == [(0, 10, 10), (1, 10, 10), (2, 4, 4)]
    assert (upload["reconciliation"]["hub_packs"], upload["reconciliation"]["matched"]) == (24, True)
    at_hub = await hub_batch(hub)
    assert (at_hub["packs"], at_hub["expiry"]) == (24, "290630")
    sent = [s for e in await log_of(fmd, PacksPlanned.EVENT_TYPE) for s in e.payload["serials"]]
    assert sorted(sent) == sorted(set(units) - {units[3]})
    assert len(await log_of(fmd, UploadReconciled.EVENT_TYPE)) == 1


async def test_a_second_upload_sends_only_what_is_new(fmd_and_hub: tuple[Harness, Simulator]) -> None:
    fmd, hub = fmd_and_hub
    await staged(fmd, serials(5))
    await acknowledged_master_data(fmd)
    assert (await fmd.client.post(f"{BATCH}/uploads")).status_code == 202
    await settled(fmd)
    nothing = await fmd.client.post(f"{BATCH}/uploads")
    assert (nothing.status_code, nothing.json()["errors"][0]["rule"]) == (409, "something-to-upload"), nothing.text

    await publish(fmd, commissioned(serials(3, prefix="T")))
    more = await fmd.client.post(f"{BATCH}/uploads")
    assert (more.status_code, more.json()["packs"]) == (202, 3), more.text

    async def both_reconciled() -> bool:
        uploads = (await status_of(fmd))["uploads"]
        return len(uploads) == 2 and all(u["status"] == "reconciled" for u in uploads)

    await until(both_reconciled, timeout=60)
    assert (await hub_batch(hub))["packs"] == 8
    second = (await status_of(fmd))["uploads"][1]
    assert (second["uploaded_before"], second["reconciliation"]["planned"]) == (5, 8)


async def test_nothing_is_planned_before_the_hub_acknowledged_the_master_data(
    fmd_and_hub: tuple[Harness, Simulator],
) -> None:
    fmd, _ = fmd_and_hub
    await staged(fmd, serials(3))
    answer = await fmd.client.post(f"{BATCH}/uploads")
    assert (answer.status_code, answer.json()["errors"][0]["rule"]) == (409, "master-data-acknowledged"), answer.text
    assert await log_of(fmd, UploadPlanned.EVENT_TYPE) == []


async def test_what_the_hub_would_refuse_is_refused_before_anything_is_sent(
    fmd_and_hub: tuple[Harness, Simulator],
) -> None:
    fmd, hub = fmd_and_hub
    await staged(fmd, ["GOOD1", "BAD-1", "BAD_2"])
    await acknowledged_master_data(fmd)
    answer = await fmd.client.post(f"{BATCH}/uploads")
    error = answer.json()["errors"][0]
    assert (answer.status_code, error["field"], error["rule"]) == (422, "serials", "hub-serial"), answer.text
    assert "'BAD-1'" in error["message"]
    assert "'BAD_2'" in error["message"]
    assert await log_of(fmd, UploadPlanned.EVENT_TYPE) == []
    stats = await hub.stats()
    assert not any("/packs" in path for path in stats["requests"]), stats


async def test_an_outage_is_waited_out_and_nothing_is_counted_twice(fmd_and_hub: tuple[Harness, Simulator]) -> None:
    fmd, hub = fmd_and_hub
    await staged(fmd, serials(30))
    await acknowledged_master_data(fmd)
    # A 503, a chunk accepted but answered 500, one answered too late, a 429: each chunk is sent
    # again with its idempotency key and the hub counts it once.
    await hub.faults(
        {"status": 503},
        {"status": 200, "process": False},  # a 2xx that says nothing of what it took: not an acknowledgement
        {"status": 500, "process": True},
        {"status": 200, "delay": 3.0, "process": True},
        {"status": 429, "retry_after": "0"},
        path="/packs$",
    )
    assert (await fmd.client.post(f"{BATCH}/uploads")).status_code == 202
    status = await settled(fmd)
    assert status["uploads"][0]["reconciliation"]["hub_packs"] == 30
    assert (await hub_batch(hub))["packs"] == 30
    acknowledged = await log_of(fmd, ChunkAcknowledged.EVENT_TYPE)
    assert sorted(e.payload["chunk"] for e in acknowledged) == [0, 1, 2]
    assert max(e.payload["attempts"] for e in acknowledged) > 1
    processed = (await hub.stats())["processed_keys"]
    assert sorted(processed.values()).count(1) == len(processed), processed  # none processed twice


@pytest.mark.parametrize("fmd_and_hub", ["embedded"], indirect=True)  # a log read directly: its head is known
async def test_a_reject_recorded_just_before_the_upload_is_left_out(fmd_and_hub: tuple[Harness, Simulator]) -> None:
    fmd, _ = fmd_and_hub
    units = serials(5)
    await staged(fmd, units)
    await acknowledged_master_data(fmd)
    rejected = decommissioned([units[2]], DecommissionReason.misprint)
    line_exceptions = PostgresEventStore(fmd.composition.app_pool, "line_exceptions")
    await line_exceptions.append([append_of(f"test-{rejected.exception_id}", 0, [rejected])], SYSTEM)  # no wait
    answer = await fmd.client.post(f"{BATCH}/uploads")
    assert answer.status_code == 202, answer.text
    assert (answer.json()["packs"], answer.json()["left_out"]) == (4, {"Destroyed": 1})
