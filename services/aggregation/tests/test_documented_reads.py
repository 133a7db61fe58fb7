"""The hierarchy's reads answer what the OpenAPI document says they answer: a tree with
confirmed, pending, held and decommissioned (error) nodes, read now and as it was, the
ancestors of a unit, and a batch's report with truncated lists each validate against the
schema their operation documents, whose objects are all closed, so a field an answer gains,
loses or retypes fails here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from aggregation_helpers import GTIN, LOT, T0, commissioned, decommission, master_data, pack, publish, sscc_uri, unit
from serialtrail_contracts.exceptions import HoldPlaced
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.documented import answer_problems
from serialtrail_kit.testing.harness import SYSTEM, Harness

SERIALS = [f"D{i:011d}" for i in range(6)]  # the last two left loose
NEVER_COMMISSIONED = "D99999999999"


async def test_every_hierarchy_read_answers_exactly_what_its_operation_documents(aggregation: Harness) -> None:
    client = aggregation.client
    await publish(aggregation, *master_data(), commissioned(SERIALS))
    case, pallet = sscc_uri(41), sscc_uri(42)
    await pack(client, case, [unit(s) for s in [*SERIALS[:4], NEVER_COMMISSIONED]])
    await pack(client, pallet, [case], level="pallet")
    assert (await client.post(f"/v1/close/{pallet}", json={})).status_code == 200
    await decommission(aggregation, [SERIALS[0]], reason="damaged")
    held = HoldPlaced(
        hold_id=uuid.uuid4(),
        gtin=GTIN,
        lot=LOT,
        whole_batch=False,
        serials=(SERIALS[1],),
        reason="printer fault",
        event_time=datetime.fromisoformat(T0),
    )
    await PostgresEventStore(aggregation.composition.app_pool, "line_exceptions").append(
        [append_of(f"test-{held.hold_id}", 0, [held])], SYSTEM
    )
    for reader in ("holds", "hierarchy"):
        await aggregation.runner("aggregation", reader).caught_up(timeout=30)
    document = (await client.get("/openapi.json")).json()

    reads: list[tuple[str, str, dict[str, str | int]]] = [
        ("/v1/hierarchy/{object_id}", f"/v1/hierarchy/{pallet}", {}),
        ("/v1/hierarchy/{object_id}", f"/v1/hierarchy/{pallet}", {"at": T0}),
        ("/v1/ancestors/{object_id}", f"/v1/ancestors/{unit(SERIALS[2])}", {}),
        ("/v1/batches/{gtin}/{lot}/aggregation-report", f"/v1/batches/{GTIN}/{LOT}/aggregation-report", {"limit": 1}),
    ]
    answers: dict[tuple[str, bool], Any] = {}
    for documented, path, query in reads:
        answer = await client.get(path, params=query)
        assert answer.status_code == 200, answer.text
        problems = answer_problems(document, "GET", documented, answer.json())
        assert not problems, (path, query, problems)
        answers[documented, bool(query)] = answer.json()

    # Not vacuous: the answers validated hold every status, the held flag and truncated lists.
    tree = answers["/v1/hierarchy/{object_id}", False]
    statuses = {c["id"]: (c["status"], c.get("held", False)) for c in tree["children"][0]["children"]}
    assert statuses[unit(SERIALS[0])][0] == "error"
    assert statuses[unit(SERIALS[1])] == ("confirmed", True)
    assert statuses[unit(NEVER_COMMISSIONED)][0] == "pending"
    assert tree["counts"] == {"objects": 6, "pending": 1, "errors": 1, "held": 1}
    assert "closed" not in answers["/v1/hierarchy/{object_id}", True]  # as it was: closing keeps no history
    assert answers["/v1/batches/{gtin}/{lot}/aggregation-report", True]["not_aggregated"]["truncated"] is True
