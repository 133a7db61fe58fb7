"""The gateway in front of a real upstream server: what it matched is what the upstream gets
(byte for byte), bodies are limited before they travel, the client cannot name its address."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from serialtrail_kit.http.bodies import MAX_BODY_EXTENSION
from serialtrail_kit.http.gate import BodyPace
from serialtrail_kit.http.gateway import Limits, create_gateway
from serialtrail_kit.http.gateway_routes import Match, RouteTable, routes_of
from serialtrail_kit.http.serving import server_config
from serialtrail_kit.testing.harness import make_settings
from serialtrail_kit.testing.waiting import until


def _echo() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/echo/{rest:path}")
    async def echo_get(rest: str, request: Request) -> dict[str, Any]:
        return await echo(request)

    @app.post("/v1/echo/{rest:path}")
    async def echo_post(rest: str, request: Request) -> dict[str, Any]:
        return await echo(request)

    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.scope["query_string"].decode(),
            "headers": {k: v for k, v in request.headers.items()},
            "body": len(body),
        }

    return app


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(server_config(app, make_settings(), log_level="warning"))  # as the commands serve
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await until(lambda: server.started, 10)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def gateway() -> AsyncIterator[str]:
    async with served(_echo()) as upstream:
        limits = Limits(max_body_bytes=1000, pace=BodyPace(idle_seconds=1, whole_seconds=3))
        app = create_gateway({"echo": upstream}, "test", limits=limits)
        async with served(app) as base:
            yield base


async def raw(base: str, request: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


async def test_the_upstream_gets_the_target_the_gateway_matched(gateway: str) -> None:
    for target in ("/v1/echo/A%2541?x=%2F", "/v1/echo/a%2F..%2F..%2Fpack", "/v1/echo/x/../../../openapi.json"):
        answer = await raw(gateway, f"GET {target} HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n".encode())
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), answer
        echoed = httpx.Response(200, content=body).json()
        path, _, query = target.partition("?")
        assert (echoed["raw_path"], echoed["query"]) == (path, query)
        assert echoed["headers"]["host"] == "example.org"  # links and redirects name the gateway
        assert head.lower().count(b"\r\ndate:") == 1
        assert head.lower().count(b"\r\nserver:") == 1


async def test_the_client_cannot_name_its_address(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        echoed = (await client.get("/v1/echo/x", headers={"X-Forwarded-For": "203.0.113.7"})).json()
    assert echoed["headers"]["x-forwarded-for"] == "127.0.0.1"


async def test_a_body_over_the_limit_is_refused_before_it_travels(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        declared = await client.post("/v1/echo/x", content=b"x" * 1001)
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"y" * 100

        streamed = await client.post("/v1/echo/x", content=chunks())
        assert streamed.status_code == 413
        fits = await client.post("/v1/echo/x", content=b"z" * 1000)
        assert fits.json()["body"] == 1000


async def test_a_stalled_body_is_let_go(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:

        async def stalls() -> AsyncIterator[bytes]:
            yield b"{"
            await asyncio.sleep(3)
            yield b"}"

        answer = await client.post("/v1/echo/x", content=stalls())
    assert answer.status_code == 408


async def test_a_method_no_route_has_is_405_with_allow(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        head = await client.head("/v1/echo/x")
        missing = await client.get("/docs-assets/nothing.js")
    assert head.status_code == 405
    assert "GET" in head.headers["allow"]
    assert missing.headers["content-type"] == "application/problem+json"


async def test_a_control_character_in_the_path_is_refused_as_the_services_refuse_it(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        answer = await client.get("/v1/echo/0950600013%0A4352")
    assert answer.status_code == 422
    assert [e["rule"] for e in answer.json()["errors"]] == ["no-control-character"]


async def test_a_service_that_does_not_answer_is_a_502_problem() -> None:
    lost = socket.create_server(("127.0.0.1", 0))
    port = lost.getsockname()[1]
    lost.close()  # nothing listens there any more
    app = create_gateway({"echo": f"http://127.0.0.1:{port}"}, "test")
    app.state.upstreams.documents["echo"] = _echo().openapi()  # as if it had answered once, then died
    app.state.upstreams.table = RouteTable(routes_of("echo", app.state.upstreams.documents["echo"]))
    async with served(app) as base, httpx.AsyncClient(base_url=base) as client:
        answer = await client.get("/v1/echo/x")
    assert answer.status_code == 502
    assert answer.json()["type"].endswith("/upstream-unavailable")
    assert "echo service did not answer" in answer.json()["detail"]


async def test_a_body_dribbled_for_longer_than_a_whole_body_takes_is_let_go(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=20) as client:

        async def dribbles() -> AsyncIterator[bytes]:
            for _ in range(12):  # a byte every half second: never idle for 1 s, 6 s in all
                yield b" "
                await asyncio.sleep(0.5)

        answer = await client.post("/v1/echo/x", content=dribbles())
    assert answer.status_code == 408
    assert "took more than 3s" in answer.json()["detail"]


async def test_paths_and_headers_no_url_can_carry_are_answered_not_500(gateway: str) -> None:
    """The attacker review's finds: a NUL in the path and a Latin-1 header byte gave 500s (the
    gateway rebuilt a URL from the decoded path; httpx encodes headers as ASCII); a path of
    50,000 slashes was matched by backtracking patterns for 45 s."""
    async with httpx.AsyncClient(base_url=gateway) as client:
        nul = await client.get("/v1/echo/X%00")
        long = await client.get("/v1/echo/" + "/" * 50_000 + "x")
    assert (nul.status_code, [e["rule"] for e in nul.json()["errors"]]) == (422, ["no-nul"])
    assert (long.status_code, long.json()["type"].rsplit("/", 1)[1]) == (414, "uri-too-long")
    answer = await raw(gateway, b"GET /v1/echo/x HTTP/1.1\r\nHost: t\r\nX-Foo: caf\xe9\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert "caf\u00e9" in answer.decode("latin-1") or "café" in answer.decode("utf-8", "replace"), answer[-300:]


def test_only_the_last_parameter_may_span_slashes() -> None:
    """One `.+` per pattern at most, the others held to a segment: matching stays linear."""
    document: dict[str, Any] = {"paths": {"/v1/batches/{gtin}/{lot}/report": {"get": {}}, "/v1/tree/{id}": {"get": {}}}}
    (report,) = [r for r in routes_of("a", document) if "report" in r.template]
    assert report.loose.pattern == r"/v1/batches/[^/]+/.+/report\Z"
    assert all(r.loose.pattern.count(".+") == 1 for r in routes_of("a", document))


def test_a_route_reading_its_own_body_is_held_to_its_own_limit_at_the_gateway() -> None:
    """A document route (`bodies.streams`) names its limit in its operation; the gateway in front of
    it forwards a body that large, and holds every other route to the common limit."""
    document: dict[str, Any] = {
        "paths": {
            "/v1/documents": {"post": {MAX_BODY_EXTENSION: 64 * 1024 * 1024}},
            "/v1/commands": {"post": {}},
        }
    }
    table = RouteTable(routes_of("a", document))
    assert table.find("POST", "/v1/documents") == Match("a", max_body=64 * 1024 * 1024)
    assert table.find("POST", "/v1/commands") == Match("a")
