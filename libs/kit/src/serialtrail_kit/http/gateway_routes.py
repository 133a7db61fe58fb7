"""Which upstream answers a request: read from the upstreams' own OpenAPI documents, so no path
is listed by hand. A template's literal parts must match exactly; a parameter matches one path
segment, or (when no route matches that way) the last one several, since ids such as GS1
Digital Link URIs hold slashes (only the last: two parameters that may each span slashes
would make matching a long path cost quadratic time, or worse). A parameter whose schema lists
its values (`enum`) matches only those, which is how a path every upstream serves for its own
records (`/v1/audit-trail/{service}`) finds its owner, and a value none lists goes to any of
them, which answers it as it would (unknown, naming the rule) rather than the gateway with a
bare 404. The most specific template wins: the one with the most literal characters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from serialtrail_kit.http.bodies import MAX_BODY_EXTENSION

_PARAMETER = re.compile(r"\{([^}]+)\}")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True)
class Route:
    upstream: str
    method: str
    template: str
    strict: re.Pattern[str]
    loose: re.Pattern[str]
    open: re.Pattern[str]  # enum parameters too match any one segment
    literal: int
    max_body: int | None = None  # a route reading its own body (documents): its own limit


def _pattern(template: str, values: Mapping[str, list[str]], last_segment: str) -> re.Pattern[str]:
    parts, last = [], 0
    found = list(_PARAMETER.finditer(template))
    for index, match in enumerate(found):
        parts.append(re.escape(template[last : match.start()]))
        name = match.group(1)
        allowed = values.get(name)
        segment = last_segment if index == len(found) - 1 else "[^/]+"
        parts.append(f"(?:{'|'.join(re.escape(v) for v in allowed)})" if allowed else segment)
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts) + r"\Z")


def _enums(operation: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for parameter in [*item.get("parameters", ()), *operation.get("parameters", ())]:
        if parameter.get("in") == "path" and isinstance(enum := parameter.get("schema", {}).get("enum"), list):
            found[parameter["name"]] = [str(v) for v in enum]
    return found


def routes_of(upstream: str, document: Mapping[str, Any]) -> list[Route]:
    routes = []
    for template, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            values = _enums(operation, item)
            routes.append(
                Route(
                    upstream=upstream,
                    method=method.upper(),
                    template=template,
                    strict=_pattern(template, values, "[^/]+"),
                    loose=_pattern(template, values, ".+"),
                    open=_pattern(template, {}, "[^/]+"),
                    literal=len(_PARAMETER.sub("", template)),
                    max_body=operation.get(MAX_BODY_EXTENSION),
                )
            )
    return routes


@dataclass(frozen=True)
class Match:
    upstream: str | None  # None: the path is known, not with this method
    allowed: tuple[str, ...] = ()
    max_body: int | None = None


class RouteTable:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: -r.literal)

    def find(self, method: str, path: str) -> Match | None:
        """The upstream for `method` on `path`; a Match without an upstream when the path is
        served with other methods only (405); None when no upstream serves the path (404)."""
        for kind in ("strict", "loose", "open"):
            matching = [r for r in self.routes if getattr(r, kind).match(path)]
            if not matching:
                continue
            for route in matching:
                if route.method == method:
                    return Match(route.upstream, max_body=route.max_body)
            return Match(None, tuple(sorted({r.method for r in matching})))
        return None
