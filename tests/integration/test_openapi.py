"""The combined OpenAPI document is complete: every operation of every service is described,
every body has an example that its own schema accepts, every operation documents its
problem responses."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from serialtrail.services import SERVICES
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
        assert "422" in operation["responses"], where
        assert "application/problem+json" in operation["responses"]["422"]["content"], where
        body = operation.get("requestBody")
        if body is not None:
            schema = body["content"]["application/json"]["schema"]
            ref = next(s["$ref"] for s in [schema, *schema.get("anyOf", [])] if "$ref" in s).rsplit("/", 1)[-1]
            examples = schemas[ref].get("examples")
            assert examples, f"{where}: request body {ref} has no example"
            for example in examples:
                jsonschema.validate(example, {**schemas[ref], "components": document["components"]})


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
