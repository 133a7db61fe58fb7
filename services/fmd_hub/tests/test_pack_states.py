"""Pack states at the hub follow what line exceptions records: a pack taken out before upload has
its state sent after its chunk is acknowledged, one taken out or put back after upload has the
change sent, one change at a time per pack; a recall or withdrawal is signed, irreversible, and
stops uploads and undos."""

from __future__ import annotations

from typing import Any

from eu_hub_simulator.testing import RunningSimulator as Simulator
from fmd_hub_helpers import (
    GTIN,
    commissioned,
    decommissioned,
    log_of,
    publish,
    serials,
    staged,
    undone,
)
from serialtrail_contracts.exceptions import DecommissionReason
from serialtrail_contracts.fmd import BatchStateRequested, PackStateChanged, PackStateRefused
from serialtrail_kit.testing.harness import Harness
from serialtrail_kit.testing.waiting import until
from test_uploads import BATCH, acknowledged_master_data, hub_batch, settled, status_of


async def uploaded(fmd: Harness, units: list[str]) -> None:
    await acknowledged_master_data(fmd)
    assert (await fmd.client.post(f"{BATCH}/uploads")).status_code == 202
    await settled(fmd)


async def hub_state(hub: Simulator, serial: str) -> str:
    found: dict[str, Any] = await hub.pack(GTIN, serial)
    return str(found["state"])


async def reaches(hub: Simulator, serial: str, state: str) -> None:
    async def there() -> bool:
        return await hub_state(hub, serial) == state

    await until(there, timeout=60)


async def test_states_follow_the_upload_and_changes_after_it_go_in_order(
    fmd_and_hub: tuple[Harness, Simulator],
) -> None:
    fmd, hub = fmd_and_hub
    units = serials(12)
    await staged(fmd, units)
    await publish(fmd, decommissioned([units[0]], DecommissionReason.sample), producer="line_exceptions")
    await uploaded(fmd, units)
    await reaches(hub, units[0], "Sample")  # uploaded Active, then its state

    damaged = decommissioned([units[1], units[2]], DecommissionReason.damaged)
    await publish(fmd, damaged, producer="line_exceptions")
    await publish(fmd, undone([units[1]], damaged.exception_id), producer="line_exceptions")

    async def locked_then_back() -> bool:  # in that order, or the undo is refused
        history = [h["state"] for h in (await hub.pack(GTIN, units[1]))["history"]]
        return history[-2:] == ["Locked", "Active"]

    await until(locked_then_back, timeout=60)
    await reaches(hub, units[2], "Locked")

    async def all_answered() -> bool:
        return bool((await status_of(fmd))["pack_states"]["pending"] == 0)

    await until(all_answered, timeout=30)
    assert (await status_of(fmd))["pack_states"] == {"pending": 0, "changed": 4, "refused": 0, "not_sent": 0}
    assert await log_of(fmd, PackStateRefused.EVENT_TYPE) == []
    assert len(await log_of(fmd, PackStateChanged.EVENT_TYPE)) == 4


async def test_a_change_waits_for_its_packs_chunk(fmd_and_hub: tuple[Harness, Simulator]) -> None:
    fmd, hub = fmd_and_hub
    units = serials(5)
    await staged(fmd, units)
    await acknowledged_master_data(fmd)
    await hub.faults({"status": 503}, {"status": 503}, {"status": 503}, path="/packs$")
    assert (await fmd.client.post(f"{BATCH}/uploads")).status_code == 202
    # Taken out while its chunk is still being sent: the hub would not know the pack yet.
    await publish(fmd, decommissioned([units[3]], DecommissionReason.stolen), producer="line_exceptions")
    await settled(fmd)
    await reaches(hub, units[3], "Stolen")
    assert await log_of(fmd, PackStateRefused.EVENT_TYPE) == []


def recall(fmd: Harness, state: str = "Recalled") -> dict[str, Any]:
    credential = fmd.client.headers["Authorization"].removeprefix("Bearer ")
    return {"state": state, "reason": "recall RC-1", "signature": {"meaning": "approved", "credential": credential}}


async def test_a_recall_is_signed_irreversible_and_stops_uploads_and_undos(
    fmd_and_hub: tuple[Harness, Simulator],
) -> None:
    fmd, hub = fmd_and_hub
    units = serials(4)
    await staged(fmd, units)
    never = await fmd.client.post(f"{BATCH}/hub-state", json=recall(fmd))
    assert (never.status_code, never.json()["errors"][0]["rule"]) == (409, "batch-uploaded"), never.text
    damaged = decommissioned([units[1]], DecommissionReason.damaged)
    await publish(fmd, damaged, producer="line_exceptions")
    await uploaded(fmd, units)

    unsigned = await fmd.client.post(f"{BATCH}/hub-state", json={"state": "Recalled", "reason": "x"})
    assert unsigned.status_code == 422, unsigned.text
    first = await fmd.client.post(f"{BATCH}/hub-state", json=recall(fmd))
    assert (first.status_code, first.json()["changed"]) == (201, True), first.text
    assert first.json()["signature_id"]
    again = await fmd.client.post(f"{BATCH}/hub-state", json=recall(fmd))
    assert (again.status_code, again.json()["changed"]) == (200, False), again.text
    other = await fmd.client.post(f"{BATCH}/hub-state", json=recall(fmd, "Withdrawn"))
    assert (other.status_code, other.json()["errors"][0]["rule"]) == (409, "batch-state-final"), other.text
    assert len(await log_of(fmd, BatchStateRequested.EVENT_TYPE)) == 1

    async def recalled_at_hub() -> bool:
        return bool((await hub_batch(hub))["state"] == "Recalled")

    await until(recalled_at_hub, timeout=60)
    await publish(fmd, commissioned(serials(2, prefix="N")))
    more = await fmd.client.post(f"{BATCH}/uploads")
    assert (more.status_code, more.json()["errors"][0]["rule"]) == (409, "batch-not-recalled"), more.text

    await publish(fmd, undone([units[1]], damaged.exception_id), producer="line_exceptions")
    status = await status_of(fmd)
    assert status["pack_states"]["not_sent"] == 1
    assert status["hub_state"] == "Recalled (acknowledged)"
    assert await hub_state(hub, units[1]) == "Locked"
