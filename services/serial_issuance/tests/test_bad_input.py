"""Bad input: a precise problem+json naming the field and the rule, and nothing recorded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from issuance_helpers import GLN, GTIN, LOT, batch, product, site
from serialtrail_contracts.serials import BatchRegistered
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import SYSTEM, Harness

UNKNOWN_GTIN = "09506000134369"
PRODUCT = {
    "gtin": GTIN,
    "company_prefix_length": 7,
    "name": "P",
    "serial_length": 12,
    "serial_alphabet": "numeric",
}
NOW = "<now>"  # replaced by the time the request is sent: event times must be near the server's clock
COMMISSION = {"gtin": GTIN, "lot": LOT, "line_id": "LINE-1", "event_time": NOW}

CASES: list[tuple[str, str, Any, int, str, str]] = [
    # (id, path, body, status, field, rule)
    ("malformed-json", "/v1/products", b'{"gtin": ', 400, "body", "json"),
    ("gtin-check-digit", "/v1/products", {**PRODUCT, "gtin": "09506000134353"}, 422, "gtin", "gtin"),
    ("gtin-length", "/v1/products", {**PRODUCT, "gtin": "950600013435"}, 422, "gtin", "gtin"),
    (
        "missing-name",
        "/v1/products",
        {k: v for k, v in PRODUCT.items() if k != "name"},
        422,
        "body.name",
        "missing",
    ),
    (
        "serial-too-long",
        "/v1/products",
        {**PRODUCT, "serial_length": 21},
        422,
        "body.serial_length",
        "less_than_equal",
    ),
    (
        "serial-too-short",
        "/v1/products",
        {**PRODUCT, "serial_length": 5},
        422,
        "serial_length",
        "serial-randomisation",
    ),
    ("unknown-field", "/v1/products", {**PRODUCT, "colour": "red"}, 422, "body.colour", "extra_forbidden"),
    ("ndc-not-in-gtin", "/v1/products", {**PRODUCT, "ndc": "1234567890"}, 422, "ndc", "ndc-in-gtin"),
    (
        "batch-unknown-product",
        "/v1/batches",
        {"gtin": UNKNOWN_GTIN, "lot": "X", "expiry": "2030-01-01", "site_gln": GLN},
        422,
        "gtin",
        "registered-product",
    ),
    (
        "batch-bad-gln",
        "/v1/batches",
        {"gtin": GTIN, "lot": "X", "expiry": "2030-01-01", "site_gln": "9506000000005"},
        422,
        "site_gln",
        "gln",
    ),
    (
        "batch-cmo-with-tab",  # no key's scope could name it: the CMO could never reach its own batch
        "/v1/batches",
        {"gtin": GTIN, "lot": "X", "expiry": "2030-01-01", "site_gln": GLN, "cmo_id": "ACME\tPHARMA"},
        422,
        "body.cmo_id",
        "string_pattern_mismatch",
    ),
    (
        "batch-cmo-empty",
        "/v1/batches",
        {"gtin": GTIN, "lot": "X", "expiry": "2030-01-01", "site_gln": GLN, "cmo_id": ""},
        422,
        "body.cmo_id",
        "string_pattern_mismatch",
    ),
    (
        "site-cmo-with-space",
        "/v1/sites",
        {
            "gln": "9506000000015",
            "company_prefix_length": 7,
            "name": "N",
            "address": {"street": "S", "city": "C", "postal_code": "1", "country": "DE"},
            "cmo_id": "ACME PHARMA",
        },
        422,
        "body.cmo_id",
        "string_pattern_mismatch",
    ),
    (
        "batch-bad-expiry",
        "/v1/batches",
        {"gtin": GTIN, "lot": "X", "expiry": "2030-02-30", "site_gln": GLN},
        422,
        "body.expiry",
        "date_from_datetime_parsing",
    ),
    (
        "quantity-zero",
        "/v1/serial-requests",
        {"gtin": GTIN, "quantity": 0},
        422,
        "body.quantity",
        "greater_than_equal",
    ),
    (
        "quantity-over-limit",
        "/v1/serial-requests",
        {"gtin": GTIN, "quantity": 1_000_001},
        422,
        "body.quantity",
        "less_than_equal",
    ),
    (
        "request-unknown-product",
        "/v1/serial-requests",
        {"gtin": UNKNOWN_GTIN, "quantity": 5},
        422,
        "gtin",
        "registered-product",
    ),
    (
        "request-unknown-lot",
        "/v1/serial-requests",
        {"gtin": GTIN, "lot": "NOPE", "quantity": 5},
        422,
        "lot",
        "registered-batch",
    ),
    (
        "bad-output-form",
        "/v1/serial-requests",
        {"gtin": GTIN, "quantity": 5, "output_form": "pdf"},
        422,
        "body.output_form",
        "enum",
    ),
    (
        "commission-unknown-lot",
        "/v1/commissioning",
        {**COMMISSION, "lot": "NOPE", "serials": ["123"]},
        422,
        "lot",
        "registered-batch",
    ),
    (
        "commission-foreign-serial",
        "/v1/commissioning",
        {**COMMISSION, "serials": ["000000000000"]},
        422,
        "serials[0]",
        "issued-for-gtin",
    ),
    (
        "commission-duplicate",
        "/v1/commissioning",
        {**COMMISSION, "serials": ["A1", "A1"]},
        422,
        "serials[1]",
        "duplicate",
    ),
    (
        "commission-expiry-mismatch",
        "/v1/commissioning",
        {**COMMISSION, "serials": ["1"], "expiry": "2031-01-01"},
        422,
        "expiry",
        "matches-batch",
    ),
    ("commission-neither", "/v1/commissioning", {**COMMISSION}, 422, "serials", "one-of"),
    (
        "commission-bad-epc",
        "/v1/commissioning",
        {**COMMISSION, "gtin": None, "epcs": ["urn:epc:id:sscc:1.2"]},
        422,
        "epcs[0]",
        "sgtin-uri",
    ),
    (
        "import-charset",
        "/v1/serial-imports",
        {"gtin": GTIN, "source": "CMO", "serials": ["OK1", "bad serial"]},
        422,
        "serials[1]",
        "gs1-ai-21",
    ),
    (
        "import-eu-alphanumeric",
        "/v1/serial-imports",
        {"gtin": GTIN, "source": "CMO", "serials": ["A-1"]},
        422,
        "serials[0]",
        "eu-fmd-alphanumeric",
    ),
    (
        "sscc-prefix",
        "/v1/sscc-requests",
        {"company_prefix": "12345", "extension_digit": 0, "quantity": 1},
        422,
        "body.company_prefix",
        "string_pattern_mismatch",
    ),
    (
        "sscc-extension",
        "/v1/sscc-requests",
        {"company_prefix": "9506000", "extension_digit": 10, "quantity": 1},
        422,
        "body.extension_digit",
        "less_than_equal",
    ),
    # Found by fuzzing (third attacker review): lax validation took `true` for 1 and a number for a time.
    (
        "sscc-extension-boolean",
        "/v1/sscc-requests",
        {"company_prefix": "9506000", "extension_digit": False, "quantity": 1},
        422,
        "body.extension_digit",
        "int_type",
    ),
    (
        "request-quantity-boolean",
        "/v1/serial-requests",
        {"gtin": GTIN, "quantity": True},
        422,
        "body.quantity",
        "int_type",
    ),
    (
        "request-quantity-float",
        "/v1/serial-requests",
        {"gtin": GTIN, "quantity": 7.0},
        422,
        "body.quantity",
        "int_type",
    ),
    (
        "commission-time-as-number",
        "/v1/commissioning",
        {**COMMISSION, "event_time": 0},
        422,
        "body.event_time",
        "value_error",
    ),
    (
        "commission-time-without-offset",
        "/v1/commissioning",
        {**COMMISSION, "event_time": "2026-11-22T08:00:00"},
        422,
        "body.event_time",
        "timezone_aware",
    ),
]


@pytest.fixture
async def prepared(service: Harness) -> Harness:
    await product(service.client, serial_alphabet="numeric", target_markets=["DE"])
    await batch(service.client)
    await site(service.client)
    return service


@pytest.mark.parametrize(("path", "body", "status", "field", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_precisely_and_records_nothing(
    prepared: Harness, path: str, body: Any, status: int, field: str, rule: str
) -> None:
    store = PostgresEventStore(prepared.composition.app_pool, "serial_issuance")
    before = await store.head()
    if isinstance(body, bytes):
        response = await prepared.client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        response = await prepared.client.post(path, json=_sent_now(body))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://serialtrail.dev/problems/")
    assert {"field": field, "rule": rule} in [{"field": e["field"], "rule": e["rule"]} for e in problem["errors"]], (
        problem
    )
    assert await store.head() == before


async def test_unknown_things_are_404_problems(prepared: Harness) -> None:
    for path in (
        f"/v1/products/{UNKNOWN_GTIN}",
        f"/v1/batches/{GTIN}/NOPE",
        f"/v1/batches/{UNKNOWN_GTIN}/{LOT}/serial-summary",
        f"/v1/serials/{GTIN}/NOPE",
        f"/v1/serials/{UNKNOWN_GTIN}/NOPE",
        "/v1/serial-requests/6f1c1b1e-0000-4000-8000-000000000000/serials",
        "/v1/sscc-requests/6f1c1b1e-0000-4000-8000-000000000000/ssccs",
    ):
        response = await prepared.client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    malformed = await prepared.client.get("/v1/serials/123/NOPE")
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "gtin"


def _sent_now(body: Any) -> Any:
    if isinstance(body, dict) and body.get("event_time") == NOW:
        return {**body, "event_time": moment()}
    return body


async def test_commissioning_times_must_be_plausible(prepared: Harness) -> None:
    """A line clock set to the future, commissioning back-dated before its batch was registered,
    and commissioning after the batch's expiry, are refused naming the rule; nothing is recorded.
    A batch that has expired by now was registered long ago: it is recorded as one was then."""
    old = BatchRegistered(gtin=GTIN, lot="OLD-1", expiry=date(2026, 1, 31), site_gln="9506000000008")
    store = PostgresEventStore(prepared.composition.app_pool, "serial_issuance")
    await store.append([append_of("batch-09506000134352-OLD-1", 0, [old])], SYSTEM)
    before = await store.head()
    cases = [
        ({**COMMISSION, "serials": ["123"], "event_time": "2099-01-01T00:00:00Z"}, "not-in-future"),
        ({**COMMISSION, "serials": ["123"], "event_time": "2000-01-01T00:00:00+01:00"}, "after-batch-registered"),
        ({**COMMISSION, "serials": ["123"], "event_time": moment(minutes=-10)}, "after-batch-registered"),
        ({**COMMISSION, "serials": ["123"], "lot": "OLD-1", "event_time": moment(offset_hours=1)}, "before-expiry"),
    ]
    for body, rule in cases:
        answer = await prepared.client.post("/v1/commissioning", json=body)
        assert answer.status_code == 422, answer.text
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("event_time", rule)]
    assert await store.head() == before
    within_skew = {**COMMISSION, "serials": ["123"], "event_time": moment(minutes=-4)}  # a line clock 4 min slow
    answer = await prepared.client.post("/v1/commissioning", json=within_skew)
    assert [e["rule"] for e in answer.json()["errors"]] == ["issued-for-gtin"]  # past the time rules


async def test_batch_expiries_must_be_plausible(prepared: Harness) -> None:
    """After the batch's manufacture (its registration), within the longest shelf life; typed
    years like 0001 and 9999 are refused naming the rule."""
    store = PostgresEventStore(prepared.composition.app_pool, "serial_issuance")
    before = await store.head()
    today = datetime.now(UTC).date()
    for expiry, rule in (
        ("0001-01-01", "after-manufacture"),
        (today.isoformat(), "after-manufacture"),
        ("9999-12-31", "within-shelf-life"),
        ((today + timedelta(days=3651)).isoformat(), "within-shelf-life"),
    ):
        body = {"gtin": GTIN, "lot": f"X{expiry[:4]}", "expiry": expiry, "site_gln": "9506000000008"}
        answer = await prepared.client.post("/v1/batches", json=body)
        assert answer.status_code == 422, answer.text
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("expiry", rule)]
    assert await store.head() == before
    ten_years = {"gtin": GTIN, "lot": "LONG-1", "expiry": (today + timedelta(days=3650)).isoformat(), "site_gln": GLN}
    assert (await prepared.client.post("/v1/batches", json=ten_years)).status_code == 201
