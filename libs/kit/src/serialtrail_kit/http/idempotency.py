"""`Idempotency-Key` (IETF httpapi draft "The Idempotency-Key HTTP Header Field") on every POST.

The key is claimed, the request's events are recorded and its answer is stored in one
transaction (`writes.ambient`), and the answer is sent only after that transaction commits:
a request whose answer was lost (the client timed out, the server was killed after the
commit) is retried with the same key and gets the original answer, never a second effect.

- same key, same request (method, path, query, body): the stored answer, replayed;
- same key, another request: 422 (rule `idempotency-key-reuse`);
- same key while the first is still being answered: 409 (rule `request-in-progress`) with
  `Retry-After`, at once, as the draft says (waiting would hold a connection per duplicate,
  and a burst of them could starve the first of the connections it needs to finish);
- a 5xx answer is not stored (nothing was recorded: the retry runs again).
Keys are per principal and kept at least `KEEP` (the table is pruned of older ones)."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serialtrail_kit.db import Connection, Pool, ident
from serialtrail_kit.errors import Conflict, InvalidInput, Rule
from serialtrail_kit.http.problems import problem_of
from serialtrail_kit.writes import ambient

HEADER = "idempotency-key"
KEEP = timedelta(hours=48)
_SANE = re.compile(r"^[!-~]{1,255}$")
FIELD = "header.Idempotency-Key"
KEY_FORMAT = Rule(
    "idempotency-key-format",
    "an Idempotency-Key is 1 to 255 printable characters",
    FIELD,
    "an Idempotency-Key is 1 to 255 printable characters",
)
KEY_REUSE = Rule(
    "idempotency-key-reuse",
    "an Idempotency-Key names one request (method, path, query, body)",
    FIELD,
    "the Idempotency-Key 'k-1' was used for another request",
)
ANSWER_PENDING = Rule(
    "answer-pending",
    "the first request with this key was recorded but its answer is not stored",
    FIELD,
    "the request with Idempotency-Key 'k-1' was recorded, but its answer is not stored yet",
)
IN_PROGRESS = Rule(
    "request-in-progress",
    "the first request with this key is still being answered (with Retry-After)",
    FIELD,
    "a request with Idempotency-Key 'k-1' is still being answered; retry it shortly",
)
# Headers of the original answer that belong to that one response, not to the answer.
NOT_REPLAYED = frozenset({"content-length", "date", "server", "x-request-id", "connection", "transfer-encoding"})


def key_of(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip().strip('"')  # the draft sends it as a quoted string
    if not _SANE.match(key):
        message = "an Idempotency-Key is 1 to 255 printable characters"
        raise InvalidInput(message, [KEY_FORMAT.at(FIELD, message)])
    return key


def fingerprint(request: Request, body: bytes) -> bytes:
    """The request, as far as its meaning goes: a JSON body sent again with its keys in another
    order or other whitespace is the same request."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode(), _meaning(body)):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.digest()


def _meaning(body: bytes) -> bytes:
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        return body  # not JSON: the bytes are the request


@dataclass
class _Buffered:
    """The answer, held until the transaction that stores it has committed."""

    messages: list[Message] = field(default_factory=list)

    async def send(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.messages if m["type"] == "http.response.start"))

    def headers(self) -> dict[str, str]:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        found = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        return {k: v for k, v in found.items() if k not in NOT_REPLAYED}

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


async def answer_once(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    pool: Pool,
    schema: str,
    principal_id: str,
    key: str,
    print_: bytes,
) -> None:
    table = f"{ident(schema)}.idempotency"
    buffered = _Buffered()
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        holder = ambient.Ambient(conn, transaction)
        token = ambient.CURRENT.set(holder)
        try:
            try:
                stored = await _claim(conn, table, principal_id, key, print_)
            except InProgress:
                await transaction.rollback()
                await _in_progress(key, scope, receive, send)
                return
            if stored is not None:
                await transaction.rollback()
                await _replay(stored, print_, key, scope, receive, send)
                return
            await app(scope, receive, buffered.send)
            await _store(conn, holder, table, principal_id, key, buffered)
        except BaseException:
            if not holder.committed:
                await transaction.rollback()
            raise
        finally:
            ambient.CURRENT.reset(token)
    for message in buffered.messages:
        await send(message)


@dataclass(frozen=True)
class _Stored:
    fingerprint: bytes
    status: int | None  # None: recorded, answer not stored yet
    headers: dict[str, str]
    body: bytes


class InProgress(Exception):
    """Another request with this key holds it and has not answered yet."""


async def _claim(conn: Connection, table: str, principal_id: str, key: str, print_: bytes) -> _Stored | None:
    """None: the key is ours now. Otherwise the row another request made with it. A request
    still in flight with the key holds a transaction lock on it: InProgress, without waiting."""
    lock = int.from_bytes(hashlib.sha256(f"{table}\0{principal_id}\0{key}".encode()).digest()[:8], "big", signed=True)
    if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", lock):
        raise InProgress
    if random.random() < 0.01:  # noqa: S311 - pruning now and then, not security
        await conn.execute(f"DELETE FROM {table} WHERE created_at < now() - $1::interval", KEEP)
    claimed = await conn.fetchval(
        f"INSERT INTO {table} (principal_id, key, fingerprint) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING RETURNING true",
        principal_id,
        key,
        print_,
    )
    if claimed:
        return None
    row = await conn.fetchrow(
        f"SELECT fingerprint, status, headers, body FROM {table} WHERE principal_id = $1 AND key = $2",
        principal_id,
        key,
    )
    if row is None:
        return None
    headers = orjson.loads(row["headers"]) if row["headers"] else {}
    return _Stored(bytes(row["fingerprint"]), row["status"], headers, bytes(row["body"] or b""))


async def _store(
    conn: Connection, holder: ambient.Ambient, table: str, principal_id: str, key: str, buffered: _Buffered
) -> None:
    if buffered.status >= 500:  # nothing was recorded (the unit rolled back): let a retry run again
        if not holder.committed:
            await holder.transaction.rollback()
        return
    values = (buffered.status, orjson.dumps(buffered.headers()).decode(), buffered.body(), principal_id, key)
    sql = f"UPDATE {table} SET status = $1, headers = $2::jsonb, body = $3 WHERE principal_id = $4 AND key = $5"
    if holder.committed:  # the request committed early to read its own writes: the answer on its own
        async with conn.transaction():
            await conn.execute(sql, *values)
        return
    await conn.execute(sql, *values)
    await holder.transaction.commit()
    holder.committed = True


async def _replay(stored: _Stored, print_: bytes, key: str, scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope)
    if stored.fingerprint != print_:
        message = f"the Idempotency-Key {key!r} was used for another request"
        violation = KEY_REUSE.at(FIELD, message)
        error: InvalidInput | Conflict = InvalidInput(message, [violation])
    elif stored.status is None:
        message = f"the request with Idempotency-Key {key!r} was recorded, but its answer is not stored yet"
        error = Conflict(message, [ANSWER_PENDING.at(FIELD, message)])
    else:
        headers = {**stored.headers, "idempotent-replayed": "true"}
        start = [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": stored.status, "headers": start})
        await send({"type": "http.response.body", "body": stored.body})
        return
    await problem_of(request, error)(scope, receive, send)


async def _in_progress(key: str, scope: Scope, receive: Receive, send: Send) -> None:
    message = f"a request with Idempotency-Key {key!r} is still being answered; retry it shortly"
    error = Conflict(message, [IN_PROGRESS.at(FIELD, message)])
    response = problem_of(Request(scope), error)
    response.headers["Retry-After"] = "1"
    await response(scope, receive, send)
