"""What each operation can refuse, declared where it is decided and shown in the OpenAPI document:
per status, the problem types and the rule names a client must handle, one example per rule.

Three sources meet on an operation:

- the kit's own checks, the same on every API operation (size, credentials, media type, JSON,
  the request schema, read models catching up, idempotency keys on POST);
- the resource the route touches (`Resource.refusals`): its unknown answer, its lookups;
- the route itself: `openapi_extra=refuses({Conflict: (RULE, …)})`.

The operation then carries `x-serialtrail-problems` (machine-readable) and one response per
status. `undocumented` says which part of an answer the document does not declare: the test
harness fails every test whose request gets such an answer, so a rule raised but not declared
cannot stay unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic_core.core_schema import ErrorType
from starlette.routing import compile_path

from serialtrail_kit.access.authenticate import AccessRefused, Forbidden, TooManyFailures
from serialtrail_kit.access.authz import Requirement, requirement_of
from serialtrail_kit.access.resources import Refusals
from serialtrail_kit.errors import ChangedConcurrently, Conflict, InvalidInput, MalformedJson, Unavailable
from serialtrail_kit.http import idempotency, strict_json
from serialtrail_kit.http.gate import (
    GUARDED_PREFIX,
    MEDIA_TYPE,
    PLAIN_PATH,
    WITH_BODY,
    BodyStalled,
    TooLarge,
    UnsupportedMedia,
)
from serialtrail_kit.http.problems import JSON, PROBLEM_BASE
from serialtrail_kit.http.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE

EXTRA = "x-serialtrail-refuses"  # what a route declares, folded into DOCUMENTED
DOCUMENTED = "x-serialtrail-problems"
SCHEMA_RULES = frozenset(get_args(ErrorType))  # pydantic's error types: the request schema's rules
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_SCHEMA_EXAMPLE = {"field": "body.quantity", "rule": "greater_than_equal", "message": "Input should be >= 1"}
_SCHEMA_NOTE = (
    "the request schema's own rules, named by their pydantic error type (`missing`, `string_type`, "
    "`greater_than_equal`, `enum`, `value_error` …; https://docs.pydantic.dev/latest/errors/validation_errors/)"
)


def refuses(refusals: Refusals) -> dict[str, Any]:
    """A route's own refusals, for its `openapi_extra`."""
    return {EXTRA: list(_entries(refusals))}


def _entries(refusals: Refusals) -> Iterator[dict[str, Any]]:
    for error, rules in refusals.items():
        yield {
            "status": error.status,
            "type": error.kind,
            "title": error.title,
            "example": error.example,
            "rules": [asdict(rule) for rule in rules],
        }


def kit_refusals(path: str, method: str, guarded: bool) -> Refusals:
    """What the gate and the handlers in front of every route refuse with (see `gate`)."""
    if not path.startswith(GUARDED_PREFIX):
        return {TooLarge: ()}
    found: dict[Any, tuple[Any, ...]] = {
        TooLarge: (),
        AccessRefused: (),
        TooManyFailures: (),
        InvalidInput: (strict_json.NO_NUL, PLAIN_PATH),
    }
    if guarded:
        found |= {Forbidden: (), Unavailable: ()}
    if method in WITH_BODY:
        found |= {UnsupportedMedia: (MEDIA_TYPE,), MalformedJson: (JSON,), ChangedConcurrently: (), BodyStalled: ()}
        found[InvalidInput] = (*strict_json.RULES, PLAIN_PATH)
    if method == "POST":
        found[InvalidInput] += (idempotency.KEY_FORMAT, idempotency.KEY_REUSE)
        found[Conflict] = (idempotency.ANSWER_PENDING, idempotency.IN_PROGRESS)
    return found


def document(app: FastAPI, schema: dict[str, Any]) -> None:
    """Every operation's problems, from the kit, its resource and the route, into the document."""
    for route in _routes(app):
        requirement = _requirement(route.route)
        for method in route.methods:
            operation = schema["paths"].get(route.path, {}).get(method.lower())
            if operation is None:
                continue
            entries = list(_entries(kit_refusals(route.path, method, requirement is not None)))
            if requirement is not None:
                entries += _entries(requirement.resource.refusals())
            entries += operation.pop(EXTRA, [])
            _render(operation, route.path, _merged(entries), _takes_input(operation))


def also_refuses(operation: Mapping[str, Any], path: str, refusals: Refusals) -> dict[str, Any]:
    """A copy of a documented operation that also declares `refusals` (what a proxy in front of
    it answers itself), beside what it declared already."""
    responses = dict(operation.get("responses", {}))
    documented = list(operation.get(DOCUMENTED, []))
    for entry in _entries(refusals):
        if any((d["status"], d["type"]) == (entry["status"], PROBLEM_BASE + entry["type"]) for d in documented):
            continue  # declared already (the service's own size limit, say)
        added = _response([entry], path, schema_rules=False)
        status = str(entry["status"])
        if status in responses:
            before = responses[status]
            examples = {**before["content"][PROBLEM_MEDIA_TYPE].get("examples", {}), **_examples_of(added)}
            added = {
                "description": f"{before['description']}\n\n{added['description']}",
                "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF, "examples": examples}},
            }
        responses[status] = added
        rules = [rule["name"] for rule in entry["rules"]]
        documented.append({"status": entry["status"], "type": PROBLEM_BASE + entry["type"], "rules": rules})
    return {**operation, "responses": responses, DOCUMENTED: documented}


def _examples_of(response: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = response["content"][PROBLEM_MEDIA_TYPE]["examples"]
    return found


def _requirement(route: APIRoute) -> Requirement | None:
    found = (requirement_of(d.call) for d in route.dependant.dependencies)
    return next((r for r in found if r is not None), None)


def _takes_input(operation: dict[str, Any]) -> bool:
    return bool(operation.get("parameters") or operation.get("requestBody"))


def _merged(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (status, type), rules in the order first declared, each once (one name may
    mean two things on two fields, e.g. `format` of a header and of a body field: both shown)."""
    merged: dict[tuple[int, str], dict[str, Any]] = {}
    for entry in entries:
        into = merged.setdefault((entry["status"], entry["type"]), {**entry, "rules": []})
        known = {(rule["name"], rule["meaning"]) for rule in into["rules"]}
        into["rules"] += [rule for rule in entry["rules"] if (rule["name"], rule["meaning"]) not in known]
    return sorted(merged.values(), key=lambda e: (e["status"], e["type"]))


def _render(operation: dict[str, Any], path: str, entries: list[dict[str, Any]], takes_input: bool) -> None:
    responses = operation.setdefault("responses", {})
    for status in [s for s in responses if not str(s).startswith("2")]:
        del responses[status]  # FastAPI's own 422 and any generic list: replaced by the precise one
    documented = []
    for status in sorted({e["status"] for e in entries}):
        group = [e for e in entries if e["status"] == status]
        schema_rules = takes_input and status == InvalidInput.status
        responses[str(status)] = _response(group, path, schema_rules)
        documented += [
            {
                "status": status,
                "type": PROBLEM_BASE + e["type"],
                "rules": list(dict.fromkeys(r["name"] for r in e["rules"])),
            }
            | ({"schema-rules": True} if schema_rules and e["type"] == InvalidInput.kind else {})
            for e in group
        ]
    operation[DOCUMENTED] = documented


def _response(group: list[dict[str, Any]], path: str, schema_rules: bool) -> dict[str, Any]:
    lines, examples = [], {}
    for entry in group:
        rules = "; ".join(f"`{r['name']}`: {r['meaning']}" for r in entry["rules"])
        if schema_rules and entry["type"] == InvalidInput.kind:
            rules = f"{rules}; and {_SCHEMA_NOTE}" if rules else _SCHEMA_NOTE
            examples["schema"] = _example(entry, path, "request schema", [_SCHEMA_EXAMPLE])
        lines.append(f"`{entry['type']}` ({entry['title']})" + (f". Rules: {rules}" if rules else ""))
        for rule in entry["rules"]:
            name = rule["name"] if rule["name"] not in examples else f"{rule['name']} ({rule['field']})"
            errors = [{"field": rule["field"], "rule": rule["name"], "message": rule["example"]}]
            examples[name] = _example(entry, path, rule["meaning"], errors, rule["example"])
        if not entry["rules"]:
            examples[entry["type"]] = _example(entry, path, entry["title"], [])
    content = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF, "examples": examples}}
    return {"description": "\n\n".join(lines), "content": content}


def _example(
    entry: dict[str, Any], path: str, summary: str, errors: list[dict[str, str]], detail: str | None = None
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "type": PROBLEM_BASE + entry["type"],
        "title": entry["title"],
        "status": entry["status"],
        "detail": detail or entry["example"],
        "instance": path,
        "request_id": "5f0c1d2e-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
    }
    return {"summary": summary, "value": value | ({"errors": errors} if errors else {})}


def undocumented(app: FastAPI, method: str, path: str, status: int, body: Mapping[str, Any]) -> list[str]:
    """What of a problem answer the operation's document does not declare (empty: all of it is).
    Answers outside any operation (an unknown path) and unexpected errors (500) are not checked."""
    route = next((r for r in _routes(app) if r.pattern.match(path) and method in r.methods), None)
    if route is None:
        return []
    operation = app.openapi()["paths"].get(route.path, {}).get(method.lower(), {})
    return undocumented_in(operation, f"{method} {route.path}", status, body)


def undocumented_in(operation: Mapping[str, Any], where: str, status: int, body: Mapping[str, Any]) -> list[str]:
    """`undocumented` against an operation of the document as served."""
    if status == 500:
        return []
    declared = [d for d in operation.get(DOCUMENTED, []) if d["status"] == status and d["type"] == body.get("type")]
    if not declared:
        return [f"{where} answered {status} {body.get('type')}, a problem type its OpenAPI operation does not declare"]
    rules = set(declared[0]["rules"]) | (SCHEMA_RULES if declared[0].get("schema-rules") else set())
    return [
        f"{where} answered {status} with rule {error.get('rule')!r} (field {error.get('field')!r}), "
        "which its OpenAPI operation does not declare: add it to the route's or its resource's refusals"
        for error in body.get("errors", [])
        if error.get("rule") not in rules
    ]


@dataclass(frozen=True)
class _Served:
    route: APIRoute
    path: str  # as in the document, with every router's prefix
    pattern: re.Pattern[str]
    methods: frozenset[str]


def served_methods(app: FastAPI, path: str) -> set[str]:
    """The methods the API serves on `path`, across every route that matches it (the routes are
    listed once per app: a flood of wrong methods costs a few regex matches each)."""
    routes = getattr(app.state, "served_routes", None)
    if routes is None:
        routes = app.state.served_routes = tuple(_routes(app))
    return {method for served in routes if served.pattern.match(path) for method in served.methods}


def _routes(app: FastAPI) -> Iterator[_Served]:
    """Every API route as served (routers included at any depth)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema and context.path:
            pattern, path, _ = compile_path(context.path)
            yield _Served(route, path, pattern, frozenset(context.methods or ()))
