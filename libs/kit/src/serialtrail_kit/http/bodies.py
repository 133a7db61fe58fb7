"""Routes that read their own body as it arrives, rather than have the gate read it whole.

Every other API body is JSON of at most `SERIALTRAIL_MAX_REQUEST_BYTES`, read and checked by
the gate before the route runs. A route that takes documents (tens of megabytes, in more than
one media type) declares what it takes with `@streams(...)`; the gate then holds it to that
limit and those media types, and hands it the body unread: the route parses it chunk by chunk,
so the bytes and what they became are never in memory together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "__streamed_body__"
MAX_BODY_EXTENSION = "x-serialtrail-max-body-bytes"  # on the operation: the gateway's limit for it


@dataclass(frozen=True)
class StreamedBody:
    max_bytes: int
    media_types: tuple[str, ...]  # exact types; `+json` / `+xml` suffixes of them are accepted too

    def accepts(self, media: str) -> bool:
        return any(media == kind or _suffixed(media, kind) for kind in self.media_types)


def _suffixed(media: str, kind: str) -> bool:
    """`application/ld+json` is JSON when `application/json` is accepted (RFC 6839 suffixes)."""
    main, _, sub = kind.partition("/")
    return media.startswith(f"{main}/") and media.endswith(f"+{sub}")


def streams(max_bytes: int, *media_types: str) -> Callable[[F], F]:
    """Declares that the endpoint reads its own body (`request.stream()`), of these media types
    and at most `max_bytes`."""

    def declared(endpoint: F) -> F:
        setattr(endpoint, _ATTRIBUTE, StreamedBody(max_bytes, media_types))
        return endpoint

    return declared


def streamed_routes(app: FastAPI) -> dict[tuple[str, str], StreamedBody]:
    """(method, path) → what the route takes, for the routes that declared it."""
    found: dict[tuple[str, str], StreamedBody] = {}
    for context in iter_route_contexts(app.routes):  # routers included at any depth, as served
        route = context.original_route
        policy = getattr(getattr(route, "endpoint", None), _ATTRIBUTE, None)
        if isinstance(route, APIRoute) and isinstance(policy, StreamedBody):
            for method in context.methods or ():
                found[(method, str(context.path_format))] = policy
    return found
