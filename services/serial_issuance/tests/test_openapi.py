"""The OpenAPI document is complete: every operation is described, every body has an
example, every operation documents its problem responses."""

from __future__ import annotations

from typing import Any

from serialtrail_kit.testing.harness import Harness


async def test_openapi_is_complete(service: Harness) -> None:
    document: dict[str, Any] = (await service.client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "Problem" in schemas
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
    ]
    assert len(operations) >= 12
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("description") or operation.get("summary"), where
        assert "422" in operation["responses"], where
        assert "application/problem+json" in operation["responses"]["422"]["content"], where
        body = operation.get("requestBody")
        if body is not None:
            ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            assert schemas[ref].get("examples"), f"{where}: request body {ref} has no example"
