from __future__ import annotations

from issuance_helpers import EXPIRY, GTIN, LOT, batch, commission, product, serials, site
from serial_issuance.domain import counter_bitmap
from serial_issuance.domain.generation import serials_of
from serial_issuance.domain.keys import SerialKeyring
from serial_issuance.domain.serial_format import SerialFormat
from serial_issuance.settings import SerialIssuanceSettings
from serialtrail_contracts.serials import SerialAlphabet
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import Harness


async def head(service: Harness) -> int:
    return await PostgresEventStore(service.composition.app_pool, "serial_issuance").head()


async def test_commissioning_is_all_or_nothing_with_a_reason_per_serial(service: Harness) -> None:
    await product(service.client)
    await batch(service.client)
    await site(service.client)
    issued = await serials(service.client, 10)
    before = await head(service)
    response = await commission(service.client, [*issued[:5], "ZZZZZZZZZZZZ", issued[0], "bad!"])
    assert response.status_code == 422
    reasons = {(e["field"], e["rule"]) for e in response.json()["errors"]}
    assert reasons == {
        ("serials[5]", "issued-for-gtin"),
        ("serials[6]", "duplicate"),
        ("serials[7]", "issued-for-gtin"),
    }
    assert await head(service) == before
    summary = (await service.client.get(f"/v1/batches/{GTIN}/{LOT}/serial-summary")).json()
    assert summary["commissioned"] == 0


async def test_a_serial_is_commissioned_once(service: Harness) -> None:
    await product(service.client)
    await batch(service.client)
    await site(service.client)
    issued = await serials(service.client, 10)
    assert (await commission(service.client, issued[:4])).status_code == 201
    again = await commission(service.client, issued[2:6])
    assert again.status_code == 409
    assert {e["field"] for e in again.json()["errors"]} == {"serials[0]", "serials[1]"}
    assert (await commission(service.client, issued[4:6])).status_code == 201  # untouched by the refusal


async def test_a_refusal_across_bitmap_chunks_names_only_what_was_taken_and_leaves_nothing(service: Harness) -> None:
    """Counters are claimed a chunk of CHUNK_BITS at a time, in one statement: a commissioning
    over two chunks, one free and one partly taken, is refused naming exactly the taken serials,
    and the free chunk keeps none of its bits (the unit rolls back)."""
    await product(service.client)
    await batch(service.client)
    await site(service.client)
    edge = counter_bitmap.CHUNK_BITS
    issued = await serials(service.client, edge + 10)  # counters 0 .. edge + 9, in order
    assert (await commission(service.client, issued[edge - 3 : edge - 1])).status_code == 201
    spanning = issued[edge - 5 : edge + 5]  # edge - 5 .. edge + 4: two chunks, two taken in the first
    refused = await commission(service.client, spanning)
    assert refused.status_code == 409, refused.text
    assert {e["field"] for e in refused.json()["errors"]} == {"serials[2]", "serials[3]"}
    untaken = [*issued[edge - 5 : edge - 3], issued[edge - 1], *issued[edge : edge + 5]]
    assert (await commission(service.client, untaken)).status_code == 201  # none of them was left claimed


async def test_commissioning_by_sgtin_epc(service: Harness) -> None:
    await product(service.client)
    await batch(service.client)
    await site(service.client, lines=("LINE-1", "LINE-2"))
    issued = await serials(service.client, 3)
    epcs = [f"urn:epc:id:sgtin:9506000.013435.{s}" for s in issued]
    line_2 = "urn:epc:id:sgln:9506000.00000.LINE-2"  # named by its read point, not its id
    body = {"epcs": epcs, "lot": LOT, "line_id": line_2, "event_time": moment(offset_hours=1)}
    response = await service.client.post("/v1/commissioning", json=body)
    assert response.status_code == 201, response.text
    answered = response.json()
    assert (answered["gtin"], answered["line_id"], answered["read_point"]) == (GTIN, "LINE-2", line_2)
    assert answered["biz_location"] == "urn:epc:id:sgln:9506000.00000.0"


async def test_imported_serials_are_screened_commissionable_and_never_generated(service: Harness) -> None:
    await product(service.client, serial_length=12, serial_alphabet="alphanumeric")
    await batch(service.client)
    await site(service.client)
    issued = await serials(service.client, 5)
    # A serial the pool would generate next (counter 5) and one already issued.
    own = service.own_settings["serial_issuance"]
    assert isinstance(own, SerialIssuanceSettings)
    keyring = SerialKeyring(own.key())
    fmt = SerialFormat(12, SerialAlphabet.alphanumeric)
    (future,) = serials_of(keyring.cipher(GTIN, fmt), fmt, [5])
    clash = await service.client.post(
        "/v1/serial-imports",
        json={"gtin": GTIN, "lot": LOT, "source": "CMO-A", "serials": ["CMO1", issued[1]]},
    )
    assert clash.status_code == 422
    assert clash.json()["errors"] == [
        {
            "field": "serials[1]",
            "rule": "unique-for-gtin",
            "message": f"{issued[1]} was already issued by a serial request",
        }
    ]
    ok = await service.client.post(
        "/v1/serial-imports", json={"gtin": GTIN, "lot": LOT, "source": "CMO-A", "serials": ["CMO1", future]}
    )
    assert ok.status_code == 201, ok.text
    twice = await service.client.post("/v1/serial-imports", json={"gtin": GTIN, "source": "CMO-B", "serials": ["CMO1"]})
    assert twice.status_code == 409
    more = await serials(service.client, 5)
    assert future not in more
    assert len(set(more) | set(issued)) == 10
    assert (await commission(service.client, ["CMO1", future, more[0]])).status_code == 201
    status = (await service.client.get(f"/v1/serials/{GTIN}/CMO1")).json()
    assert [h["event"] for h in status["history"]] == ["imported", "commissioned"]
    summary = (await service.client.get(f"/v1/batches/{GTIN}/{LOT}/serial-summary")).json()
    assert summary == {"gtin": GTIN, "lot": LOT, "issued": 10, "imported": 2, "commissioned": 3}


async def test_sscc_ranges_follow_on_and_carry_check_digits(service: Harness) -> None:
    body = {"company_prefix": "9506000", "extension_digit": 3, "quantity": 3}
    first = (await service.client.post("/v1/sscc-requests", json=body)).json()
    second = (await service.client.post("/v1/sscc-requests", json=body)).json()
    assert first["first"] == "395060000000000002"[:17] + first["first"][-1]
    listed = (await service.client.get(first["ssccs_url"])).text.splitlines()
    listed += (await service.client.get(second["ssccs_url"])).text.splitlines()
    assert len(set(listed)) == 6
    assert [int(s[10:17]) for s in listed] == list(range(6))
    assert listed[-1] == second["last"]


GS = "\x1d"


async def test_commissioning_from_what_the_scanners_read(service: Harness) -> None:
    """Raw DataMatrix (]d2, GS separators, AIs in any order), HRI and Digital Link, as lines send
    them; a label carrying another lot or expiry is a mix-up, refused naming the scan."""
    await product(service.client)
    await batch(service.client)
    await site(service.client)
    issued = await serials(service.client, 6)
    expiry = EXPIRY.replace("-", "")[2:]  # YYMMDD
    scans = [
        f"]d201{GTIN}17{expiry}10{LOT}{GS}21{issued[0]}",
        f"]d221{issued[1]}{GS}01{GTIN}10{LOT}",  # serial first
        f"(01){GTIN}(17){expiry}(10){LOT}(21){issued[2]}",
        f"https://id.example.com/01/{GTIN}/10/{LOT}/21/{issued[3]}",
    ]
    body = {"lot": LOT, "line_id": "LINE-1", "event_time": moment()}
    before = await head(service)
    mixed_up = await service.client.post(
        "/v1/commissioning", json={**body, "scans": [*scans, f"]d201{GTIN}10OTHERLOT{GS}21{issued[4]}"]}
    )
    assert mixed_up.status_code == 422, mixed_up.text
    assert [(e["field"], e["rule"]) for e in mixed_up.json()["errors"]] == [("scans[4]", "label-matches-batch")]
    ambiguous = await service.client.post(
        "/v1/commissioning", json={**body, "scans": [f"(01){GTIN}(21){issued[4]}(17)271231"]}
    )
    assert ambiguous.status_code == 422  # never read as serial "…(17)271231"
    assert await head(service) == before
    done = await service.client.post("/v1/commissioning", json={**body, "scans": scans})
    assert done.status_code == 201, done.text
    assert (done.json()["gtin"], done.json()["commissioned"]) == (GTIN, 4)
    status = (await service.client.get(f"/v1/serials/{GTIN}/{issued[1]}")).json()
    assert status["status"] == "commissioned"
