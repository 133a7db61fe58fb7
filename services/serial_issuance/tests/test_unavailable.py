"""When the read model lags or something unforeseen breaks, callers still get problems."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from issuance_helpers import GTIN, product
from serial_issuance import bootstrap
from serialtrail_kit.testing.harness import Harness, make_settings, serve


@pytest.fixture
async def impatient(database_dsn: str) -> AsyncIterator[Harness]:
    # The tests stop the read model, so no wait could let it catch up: the timeout only
    # bounds how long a request waits before it answers 503, whatever the machine's speed.
    settings = make_settings(read_your_writes_timeout=0.1)
    async with serve(database_dsn, [bootstrap.SERVICE], settings) as harness:
        yield harness


async def test_a_stalled_read_model_is_a_503_with_retry_after(impatient: Harness) -> None:
    await product(impatient.client)
    await impatient.composition.runtime.stop()  # the projection stops following the log
    created = await impatient.client.post("/v1/serial-requests", json={"gtin": GTIN, "quantity": 3})
    assert created.status_code == 201
    response = await impatient.client.get(created.json()["serials_url"])
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    assert "catching up" in response.json()["detail"]


async def test_an_unexpected_error_is_a_500_problem_without_internals(impatient: Harness) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    app = impatient.composition.app
    app.add_api_route("/boom", boom)
    # As under uvicorn: the app answers, then re-raises for the server's log; don't re-raise here.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://serialtrail.test") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text
