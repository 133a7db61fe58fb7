"""The HTTP face: routing, the bearer token, idempotency keys, injected faults, counting.

Routing reads the raw path and decodes each segment on its own, so that a batch id holding a
slash travels as %2F (a router working on the decoded path would split it into two segments).
Database work runs on one worker thread (hub.py), which keeps the event loop free to answer
/health and to hold delayed answers while a 250,000-pack chunk is written."""

from __future__ import annotations

import asyncio
import hmac
import re
import sys
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from eu_hub_simulator import catalogue, market, states, uploads
from eu_hub_simulator.faults import Faults, Injected
from eu_hub_simulator.hub import Hub, Outcome
from eu_hub_simulator.models import ClockOffset, FaultScript, parse
from eu_hub_simulator.rules import Refused

MAX_BODY = 16 * 1024 * 1024  # a full 250,000-serial chunk is under 7 MiB
_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True)
class Call:
    params: dict[str, str]
    body: bytes
    query: Mapping[str, str]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    work: Callable[[Hub, Call], Any] | None = None  # run on the store's thread; None: answered by the app
    parts: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.template.strip("/").split("/")))

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.parts):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(self.parts, segments, strict=True):
            if part.startswith("{"):
                if not segment:
                    return None
                params[part[1:-1]] = unquote(segment)
            elif part != segment:
                return None
        return params


def _routes() -> list[Route]:
    p = "product_code"
    return [
        Route("PUT", "/v1/products/{product_code}", lambda h, c: catalogue.put_product(h.store, c.params[p], c.body)),
        Route(
            "POST",
            "/v1/batches/{product_code}/{batch_id}/packs",
            lambda h, c: uploads.add_chunk(h.store, c.params[p], c.params["batch_id"], c.body),
        ),
        Route(
            "GET",
            "/v1/batches/{product_code}/{batch_id}",
            lambda h, c: uploads.get_batch(h.store, c.params[p], c.params["batch_id"]),
        ),
        Route(
            "POST",
            "/v1/batches/{product_code}/{batch_id}/state",
            lambda h, c: states.change_batch(h.store, c.params[p], c.params["batch_id"], c.body),
        ),
        Route(
            "POST",
            "/v1/packs/{product_code}/{serial}/state",
            lambda h, c: states.change_pack(h.store, h.clock, c.params[p], c.params["serial"], c.body),
        ),
        Route(
            "GET",
            "/v1/alerts",
            lambda h, c: market.alerts_page(h.store, c.query.get("after"), c.query.get("limit")),
        ),
        Route("POST", "/_sim/verify", lambda h, c: market.verify(h.store, h.clock, c.body)),
        Route(
            "GET",
            "/_sim/packs/{product_code}/{serial}",
            lambda h, c: states.pack_details(h.store, h.clock, c.params[p], c.params["serial"]),
        ),
        Route("POST", "/_sim/faults"),
        Route("DELETE", "/_sim/faults"),
        Route("POST", "/_sim/clock"),
        Route("GET", "/_sim/stats"),
        Route("GET", "/health"),
    ]


def json_response(status: int, data: object, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def outcome_response(outcome: Outcome) -> Response:
    headers = {"Idempotent-Replay": "true"} if outcome.replay else None
    return Response(outcome.body, outcome.status, headers, media_type="application/json")


def refused_response(refused: Refused, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(refused.status, refused.body(), headers)


def injected_response(injected: Injected) -> Response:
    headers = {"Retry-After": injected.retry_after} if injected.retry_after is not None else None
    processed = "processed" if injected.process else "not processed"
    body = {"code": "NMVS_SIM_FAULT", "message": f"injected answer {injected.status}; the request was {processed}"}
    return json_response(injected.status, body, headers)


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, "NMVS_FE_REQ_03", f"the body is larger than {MAX_BODY} bytes")
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > MAX_BODY:
            raise Refused(413, "NMVS_FE_REQ_03", f"the body is larger than {MAX_BODY} bytes")
        parts.append(part)
    return b"".join(parts)


class HubApp:
    def __init__(self, hub: Hub, token: str) -> None:
        self.hub = hub
        self.token = f"Bearer {token}".encode()
        self.routes = _routes()
        self.faults = Faults()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-store")
        self.requests: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    def close(self) -> None:
        self.executor.submit(self.hub.close).result()
        self.executor.shutdown()

    async def on_store(self, work: Callable[[], Outcome]) -> Outcome:
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            response = await self.answer(request)
        except Refused as refused:
            response = refused_response(refused)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            response = json_response(500, {"code": "NMVS_SIM_500", "message": "the simulator failed; see its log"})
        await response(scope, receive, send)

    def route(self, request: Request) -> tuple[Route, dict[str, str]]:
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        segments = raw.decode("latin-1").strip("/").split("/")
        allowed = False
        for route in self.routes:
            params = route.match(segments)
            if params is not None:
                if route.method == request.method:
                    return route, params
                allowed = True
        if allowed:
            raise Refused(405, "NMVS_FE_ROUTE_02", f"{request.method} is not allowed here")
        raise Refused(404, "NMVS_FE_ROUTE_01", f"no such resource: {request.url.path}")

    def authorised(self, request: Request) -> None:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, self.token):
            raise Refused(401, "NMVS_FE_AUTH_01", "a valid bearer token is required")

    async def answer(self, request: Request) -> Response:
        route, params = self.route(request)
        self.requests[route.template] += 1
        if route.template == "/health":
            return json_response(200, {"status": "ok"})
        try:
            self.authorised(request)
        except Refused as refused:
            return refused_response(refused, {"WWW-Authenticate": "Bearer"})
        if route.template.startswith("/_sim/"):
            return await self.simulation(request, route, params)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self.wire(request, route, params)
        finally:
            self.in_flight -= 1

    async def wire(self, request: Request, route: Route, params: dict[str, str]) -> Response:
        """A /v1 request: keyed if it writes, perhaps answered by a script instead of (or after) the hub."""
        key = request.headers.get("idempotency-key")
        keyed = request.method in ("PUT", "POST")
        if keyed and (key is None or not _KEY_PATTERN.fullmatch(key)):
            raise Refused(
                400, "NMVS_FE_IDEMPOTENCY_01", "an Idempotency-Key header (1 to 255 visible characters) is required"
            )
        body = await read_body(request)
        injected = self.faults.take(request.url.path)
        if injected is not None and not injected.process:
            await asyncio.sleep(injected.delay)
            return injected_response(injected)
        assert route.work is not None
        call, hub, work = Call(params, body, request.query_params), self.hub, route.work
        if keyed:
            assert key is not None
            raw_path = (request.scope.get("raw_path") or b"").decode("latin-1") or request.url.path
            outcome = await self.on_store(
                lambda: hub.keyed(key, request.method, raw_path, body, lambda: work(hub, call))
            )
        else:
            outcome = await self.on_store(lambda: hub.unkeyed(lambda: work(hub, call)))
        if injected is None:
            return outcome_response(outcome)
        # Processed: the answer is late (a timeout, when longer than the sender waits), or lost
        # behind an injected status; the stored answer is what a repeat with the key gets.
        await asyncio.sleep(injected.delay)
        return outcome_response(outcome) if injected.status < 300 else injected_response(injected)

    async def simulation(self, request: Request, route: Route, params: dict[str, str]) -> Response:
        body = await read_body(request)
        if route.work is not None:
            call, hub, work = Call(params, body, request.query_params), self.hub, route.work
            return outcome_response(await self.on_store(lambda: hub.unkeyed(lambda: work(hub, call))))
        handlers: dict[tuple[str, str], Callable[[bytes], Awaitable[dict[str, Any]]]] = {
            ("POST", "/_sim/faults"): self.add_faults,
            ("DELETE", "/_sim/faults"): self.clear_faults,
            ("POST", "/_sim/clock"): self.set_clock,
            ("GET", "/_sim/stats"): self.stats,
        }
        return json_response(200, await handlers[route.method, route.template](body))

    async def add_faults(self, body: bytes) -> dict[str, Any]:
        script = parse(FaultScript, body)
        try:
            pending = self.faults.add(script)
        except re.error as error:
            raise Refused(422, "NMVS_FE_REQ_02", f"invalid field path: {error}") from None
        return {"pending": pending}

    async def clear_faults(self, body: bytes) -> dict[str, Any]:
        self.faults.clear()
        return {"pending": 0}

    async def set_clock(self, body: bytes) -> dict[str, Any]:
        self.hub.clock.offset_seconds = parse(ClockOffset, body).offset_seconds
        return {"offset_seconds": self.hub.clock.offset_seconds, "now": self.hub.clock.iso()}

    async def stats(self, body: bytes) -> dict[str, Any]:
        processed, packs = await asyncio.get_running_loop().run_in_executor(self.executor, self.hub.counts)
        return {
            "requests": dict(self.requests),
            "processed_keys": processed,
            "max_in_flight": self.max_in_flight,
            "packs": packs,
        }
