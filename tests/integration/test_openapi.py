"""The combined OpenAPI document is complete: every operation of every service is described,
every body has an example that its own schema accepts, every operation documents its
problem responses: per status the problem types and rule names, one valid example per rule."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from serialtrail.services import SERVICES
from serialtrail_kit.http.problems import MEDIA_TYPE, PROBLEM_BASE
from serialtrail_kit.http.refusals import DOCUMENTED
from serialtrail_kit.testing.documented import UndocumentedProblem
from serialtrail_kit.testing.harness import serve


async def test_openapi_is_complete(database_dsn: str) -> None:
    async with serve(database_dsn, SERVICES) as harness:
        document: dict[str, Any] = (await harness.client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "Problem" in schemas
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
    ]
    assert len(operations) >= 19
    assert set(document["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation["security"] == [{"bearer": []}, {"apiKey": []}], where  # /docs' Authorize applies
        assert operation.get("description") or operation.get("summary"), where
        _problems_documented(where, operation, {**schemas["Problem"], "components": document["components"]})
        body = operation.get("requestBody")
        if body is not None and "application/json" not in body["content"]:  # a document a route reads itself
            assert all("example" in content for content in body["content"].values()), f"{where}: no example"
        elif body is not None:
            schema = body["content"]["application/json"]["schema"]
            ref = next(s["$ref"] for s in [schema, *schema.get("anyOf", [])] if "$ref" in s).rsplit("/", 1)[-1]
            examples = schemas[ref].get("examples")
            assert examples, f"{where}: request body {ref} has no example"
            for example in examples:
                jsonschema.validate(example, {**schemas[ref], "components": document["components"]})


def _problems_documented(where: str, operation: dict[str, Any], problem_schema: dict[str, Any]) -> None:
    """Each status a problem can come with: its types and rules declared, each rule with an
    example that the Problem schema accepts and that names exactly that rule."""
    declared = operation[DOCUMENTED]
    assert {d["status"] for d in declared} >= {401, 403, 413, 422, 429}, where
    for status in {d["status"] for d in declared}:
        response = operation["responses"][str(status)]
        examples = response["content"][MEDIA_TYPE]["examples"]
        here = [d for d in declared if d["status"] == status]
        named = {rule for d in here for rule in d["rules"]}
        shown = set()
        for example in examples.values():
            value = example["value"]
            jsonschema.validate(value, problem_schema)
            assert (value["status"], value["type"]) in {(status, d["type"]) for d in here}, (where, value)
            shown |= {error["rule"] for error in value.get("errors", [])}
            assert value.get("errors") or "errors" not in value["detail"], (where, value)  # says what comes
        assert named <= shown, f"{where} {status}: rules without an example: {named - shown}"
        assert all(rule in response["description"] for rule in named), (where, status)
        assert all(d["type"].startswith(PROBLEM_BASE) for d in here), where


async def test_an_answer_its_operation_does_not_declare_fails_the_test(database_dsn: str) -> None:
    """The harness checks every problem answer against the document: planted, by taking a
    rule out of the served document, the same request that passed fails the test."""
    async with serve(database_dsn, SERVICES) as harness:
        bad = {"name": "k", "role": "line", "scope": {"lines": []}}  # a line key's scope names no company prefix
        refused = await harness.client.post("/v1/api-keys", json=bad)
        assert refused.status_code == 422, refused.text
        (rule,) = {e["rule"] for e in refused.json()["errors"]}
        operation = harness.composition.app.openapi()["paths"]["/v1/api-keys"]["post"]
        entry = next(d for d in operation[DOCUMENTED] if d["status"] == 422)
        entry["rules"].remove(rule)
        with pytest.raises(UndocumentedProblem, match=rule):
            await harness.client.post("/v1/api-keys", json=bad)
        entry["type"] = PROBLEM_BASE + "something-else"
        with pytest.raises(UndocumentedProblem, match="problem type"):
            await harness.client.post("/v1/api-keys", json=bad)


async def test_docs_and_redoc_work_offline(database_dsn: str) -> None:
    """Every script, style and icon the pages load is served by the app itself (no CDN)."""
    async with serve(database_dsn, SERVICES) as harness:
        for page in ("/docs", "/redoc"):
            answer = await harness.client.get(page)
            html = answer.text
            assert "img-src 'self' data:" in answer.headers["content-security-policy"], page  # nothing from a CDN
            assets = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert assets, page
            assert "openapi.json" in html, page
            for asset in assets:
                assert asset.startswith("/docs-assets/"), f"{page} loads {asset} from elsewhere"
                answer = await harness.client.get(asset)
                assert answer.status_code == 200, asset
                assert len(answer.content) > 1000, asset
