"""The OpenAPI document checked against real answers: a test transport that fails any request
answered with a problem its operation does not declare (`refusals.undocumented`), so every test
doubles as a check of the document; and `answer_problems`, for the answers a read documents."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from jsonschema import Draft202012Validator

from serialtrail_kit.http.problems import MEDIA_TYPE
from serialtrail_kit.http.refusals import undocumented

FORMATS = Draft202012Validator.FORMAT_CHECKER


class UndocumentedProblem(AssertionError):
    pass


class DocumentedProblemsOnly(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, app: FastAPI) -> None:
        self.inner, self.app = inner, app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if response.headers.get("content-type", "").startswith(MEDIA_TYPE):
            body = orjson.loads(await response.aread())
            found = undocumented(self.app, request.method, request.url.path, response.status_code, body)
            if found:
                raise UndocumentedProblem("; ".join(found))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def answer_problems(document: Mapping[str, Any], method: str, documented: str, answer: Any) -> list[str]:
    """How a 2xx JSON answer departs from the schema its operation documents in `document` (the
    served /openapi.json): each schema violation, and each documented object left open (not
    `additionalProperties: false`, so a field the answer gained would pass unnoticed). Empty:
    the document says exactly what the answer is."""
    operation = document["paths"][documented][method.lower()]
    content = operation["responses"].get("200", operation["responses"].get("201", {})).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if not schema or "$ref" not in schema:
        return [f"{method} {documented} documents no answer"]
    components = document["components"]
    found = [
        f"{method} {documented}: {described.get('title')} is open (not additionalProperties: false)"
        for described in _objects_below(schema, components["schemas"], set())
        if described.get("additionalProperties") is not False
    ]
    validator = Draft202012Validator({**schema, "components": components}, format_checker=FORMATS)
    found += [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(answer)]
    return found


def _objects_below(schema: Any, components: Mapping[str, Any], seen: set[str]) -> Iterator[Mapping[str, Any]]:
    """Every object schema `schema` reaches, through its $refs."""
    if isinstance(schema, list):
        for item in schema:
            yield from _objects_below(item, components, seen)
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        seen.add(ref)
        yield from _objects_below(components[ref.rsplit("/", 1)[-1]], components, seen)
    if "properties" in schema:
        yield schema
    for value in schema.values():
        yield from _objects_below(value, components, seen)
