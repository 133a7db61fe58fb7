"""The gate every API request passes before a route sees it, cheapest check first:

1. a body larger than the limit is refused (413) — from its Content-Length before any of it
   is read, or as soon as the bytes read cross the limit;
2. credentials are checked from the headers alone: an anonymous or bad request never has its
   body read, let alone parsed; the principal is kept for the route's own check (`requires`);
   a NUL in the path or query is refused (422);
3. a body that is not JSON is refused (415); a JSON body is checked strictly (`strict_json`)
   and handed on to the route unchanged. A route that reads its own body (`bodies.streams`)
   gets it unread, held to the limit and the media types it declared;
4. a POST with an `Idempotency-Key` is answered once (`idempotency`).

Paths outside the API (health, docs) get the size limit only."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from fastapi import Request
from serialtrail_contracts.identity import Principal
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serialtrail_kit.access.authenticate import Authenticator
from serialtrail_kit.errors import DomainError, InvalidInput, Rule
from serialtrail_kit.http import idempotency, strict_json
from serialtrail_kit.http.bodies import StreamedBody
from serialtrail_kit.http.problems import problem_of
from serialtrail_kit.http.strict_json import NO_NUL

GUARDED_PREFIX = "/v1/"
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class TooLarge(DomainError):
    kind, status, title = "too-large", 413, "Request body too large"
    example = "the body is 20000000 bytes; at most 16777216 are accepted (SERIALTRAIL_MAX_REQUEST_BYTES)"


class BodyStalled(DomainError):
    kind, status, title = "request-timeout", 408, "Request body too slow"
    example = "no body data for 15s"


@dataclass(frozen=True)
class BodyPace:
    """How slowly a body may arrive: a client that stalls, or dribbles one for longer than a whole
    body takes, must not hold a connection (and a worker's attention) for long."""

    idle_seconds: float = 15.0
    whole_seconds: float = 120.0  # 16 MiB at ~140 KB/s


def paced(receive: Receive, pace: BodyPace) -> Receive:
    """`receive`, refusing a body that comes too slowly (408); once the body is complete, what the
    connection says next (its disconnect) is waited for as long as it takes."""
    deadline: float | None = None
    complete = False

    async def next_message() -> Message:
        nonlocal deadline, complete
        if complete:
            return await receive()
        now = asyncio.get_running_loop().time()
        deadline = now + pace.whole_seconds if deadline is None else deadline
        try:
            message = await asyncio.wait_for(receive(), max(0.0, min(pace.idle_seconds, deadline - now)))
        except TimeoutError as error:
            if asyncio.get_running_loop().time() >= deadline:
                raise BodyStalled(f"the body took more than {pace.whole_seconds:g}s") from error
            raise BodyStalled(f"no body data for {pace.idle_seconds:g}s") from error
        complete = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return next_message


class PacedBodies:
    """Every body comes at the pace `app.state.body_pace` allows (services and gateway alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            receive = paced(receive, scope["app"].state.body_pace)
        await self.app(scope, receive, send)


class UnsupportedMedia(DomainError):
    kind, status, title = "unsupported-media-type", 415, "The body is not JSON"
    example = "the body is text/plain; send it as application/json"


_CONTROL = re.compile(r"[\x01-\x1f\x7f]")
PLAIN_PATH = Rule(
    "no-control-character",
    "the path holds no control character",
    "path",
    "the path holds a control character (a line break, a tab …); no identifier has one",
)
MEDIA_TYPE = Rule(
    "media-type", "a body is sent as application/json (or a +json type)", "content-type", UnsupportedMedia.example
)


class AuthenticateFirst:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)  # no receive: nothing here reads the body by accident
        streamed: StreamedBody | None = scope["app"].state.streamed_routes.get((scope["method"], scope["path"]))
        limit: int = streamed.max_bytes if streamed else scope["app"].state.max_request_bytes
        if not str(scope["path"]).startswith(GUARDED_PREFIX):  # health, docs: only the size limit
            try:
                _check_declared_length(request, limit)
            except TooLarge as refusal:
                await problem_of(request, refusal)(scope, receive, send)
                return
            await self.app(scope, _limited(receive, limit), send)
            return
        key: str | None = None
        try:
            _check_declared_length(request, limit)
            principal = request.state.authenticated = await _authenticated(request)
            _refuse_nul(scope)
            refuse_control_characters(str(scope["path"]))
            _refuse_other_media(request, streamed)
            key = idempotency.key_of(request) if request.method == "POST" else None
            json_body = (
                streamed is None and request.method in WITH_BODY and "json" in request.headers.get("content-type", "")
            )
            if json_body or key is not None:
                body = await _read(receive, limit)
                if json_body:
                    strict_json.check(body)
                receive = _replay(body, receive)
            else:
                receive = _limited(receive, limit)
        except DomainError as refusal:  # AccessRefused among them, with its headers
            await problem_of(request, refusal)(scope, receive, send)
            return
        if key is None:
            await self.app(scope, receive, send)
            return
        await idempotency.answer_once(
            self.app,
            scope,
            receive,
            send,
            pool=scope["app"].state.runtime.app_pool,
            schema=scope["app"].state.log_of(request),
            principal_id=principal.id,
            key=key,
            print_=idempotency.fingerprint(request, body),
        )


async def _authenticated(request: Request) -> Principal:
    authenticator: Authenticator = request.scope["app"].state.authenticator
    return await authenticator.authenticate(request)


def _refuse_nul(scope: Scope) -> None:
    """A NUL in the path or query can name nothing (PostgreSQL text cannot hold it)."""
    query: bytes = scope.get("query_string", b"")
    for where, found in (("path", "\x00" in str(scope["path"])), ("query", b"%00" in query or b"\x00" in query)):
        if found:
            message = f"the {where} holds a NUL character"
            raise InvalidInput(message, [NO_NUL.at(where, message)])


def refuse_control_characters(path: str) -> None:
    """No identifier holds a line break or another control character; routes would not match
    such a path at all and answer a bare 404, as if the operation did not exist."""
    if _CONTROL.search(path):
        message = "the path holds a control character (a line break, a tab …); no identifier has one"
        raise InvalidInput(message, [PLAIN_PATH.at("path", message)])


def _refuse_other_media(request: Request, streamed: StreamedBody | None) -> None:
    """Every API body is JSON (or what a streamed route declared): another type is named as
    such (415), not read as a JSON string that fails the route's schema (which a client cannot
    tell from a wrong field)."""
    headers = request.headers
    if request.method not in WITH_BODY or not (
        "transfer-encoding" in headers or headers.get("content-length", "0") != "0"
    ):
        return
    media = headers.get("content-type", "").partition(";")[0].strip().lower()
    if streamed is not None:
        if streamed.accepts(media):
            return
        message = f"the body is {media or 'of no declared type'}; send it as one of {', '.join(streamed.media_types)}"
        raise UnsupportedMedia(message, [MEDIA_TYPE.at("content-type", message)])
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    message = f"the body is {media or 'of no declared type'}; send it as application/json"
    raise UnsupportedMedia(message, [MEDIA_TYPE.at("content-type", message)])


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared[:19]) > limit:
        raise TooLarge(f"the body is {declared} bytes; at most {limit} are accepted")


async def _read(receive: Receive, limit: int) -> bytes:
    chunks, total = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"the body is larger than {limit} bytes, the most accepted")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _limited(receive: Receive, limit: int) -> Receive:
    """For bodies the route reads itself: refused as soon as they cross the limit."""
    total = 0

    async def limited() -> Message:
        nonlocal total
        message = await receive()
        if message["type"] == "http.request":
            total += len(message.get("body", b""))
            if total > limit:
                raise TooLarge(f"the body is larger than {limit} bytes, the most accepted")
        return message

    return limited


def _replay(body: bytes, then: Receive) -> Receive:
    """The body as read, then whatever the connection says next (its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive
