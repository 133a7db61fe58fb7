"""A remote endpoint for outbound tests: a real HTTP server on 127.0.0.1 (a free port), started
and stopped by the test, that keeps the rule real receivers keep and fails the ways they fail.

The rule: every request names an `Idempotency-Key` (refused with 400 otherwise), and a key
accepted once is never processed again: a repeat is answered 200 `{"repeat": true}`. What each
new request gets is scripted (`Answer`s, in arrival order, then the default): an answer after a
delay (longer than the sender waits: a timeout), a 5xx, a 429 with Retry-After, a refusal, or an
acceptance answered late or with an error (processed all the same: the sender must recognise
it on the repeat). It counts what it saw: every request, each key's acceptances, the most
requests in flight at once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn

from serialtrail_kit.testing.waiting import until

Message = dict[str, Any]
ACCEPTED = b'{"accepted": true}'


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = ACCEPTED
    delay: float = 0.0  # seconds before answering (the sender may have given up by then)
    processed: bool | None = None  # the request is processed (accepted) before the delay; default: a 2xx


@dataclass(frozen=True)
class Received:
    key: str | None
    body: Any  # the JSON sent
    at: float  # time.monotonic() on arrival
    raw: bytes = b""  # the body's bytes, as sent (what a signature covers)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-cased names


@dataclass
class RemoteEndpoint:
    script: deque[Answer]
    default: Answer
    url: str = ""
    received: list[Received] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)  # key -> times processed (the rule: at most 1)
    in_flight: int = 0
    max_in_flight: int = 0

    async def __call__(self, scope: Message, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await _body(receive)
        key = dict(scope["headers"]).get(b"idempotency-key")
        sent = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append(
            Received(key.decode() if key else None, orjson.loads(body) if body else None, time.monotonic(), body, sent)
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            answer = await self._answer(key.decode() if key else None)
        finally:
            self.in_flight -= 1
        headers = [
            (b"content-type", b"application/json"),
            *((k.encode(), v.encode()) for k, v in answer.headers.items()),
        ]
        with contextlib.suppress(OSError):  # the sender may be gone (it timed out)
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": answer.body})

    async def _answer(self, key: str | None) -> Answer:
        if key is None:
            return Answer(400, body=b'{"error": "an Idempotency-Key header is required"}')
        if self.accepted[key]:
            return Answer(200, body=b'{"accepted": true, "repeat": true}')
        answer = self.script.popleft() if self.script else self.default
        processed = answer.processed if answer.processed is not None else 200 <= answer.status < 300
        if processed:
            self.accepted[key] += 1  # before any delay: a late answer to a request already processed
        await asyncio.sleep(answer.delay)
        return answer

    def keys(self) -> list[str | None]:
        """The key of every request, in arrival order."""
        return [r.key for r in self.received]


async def _body(receive: Callable[[], Awaitable[Message]]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


@contextlib.asynccontextmanager
async def remote_endpoint(
    script: Iterable[Answer] = (), default: Answer | None = None
) -> AsyncIterator[RemoteEndpoint]:
    """The endpoint served for the block on a free loopback port (its `url`), stopped after."""
    endpoint = RemoteEndpoint(deque(script), default or Answer())
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(
        endpoint, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await until(lambda: server.started, 10)
    endpoint.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield endpoint
    finally:
        server.should_exit = True
        await task
        sock.close()
