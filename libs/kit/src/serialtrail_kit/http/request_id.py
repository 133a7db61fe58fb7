"""One id per request: the caller's `X-Request-Id` when it is a sane token, else a new one. It
is the correlation id of every record the request makes, appears in every problem body and
every log line about the request, and is returned in the `X-Request-Id` response header."""

from __future__ import annotations

import re
import uuid

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id(connection: HTTPConnection) -> str:
    """The request's id (set by `RequestIds`; made from the headers if it did not run)."""
    found = connection.scope.get("state", {}).get("request_id")
    return str(found) if found else _chosen(connection.headers.get(HEADER))


def _chosen(given: str | None) -> str:
    return given if given is not None and _SANE.match(given) else str(uuid.uuid4())


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chosen = _chosen(HTTPConnection(scope).headers.get(HEADER))
        scope.setdefault("state", {})["request_id"] = chosen

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER.encode(), chosen.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)
