"""A test transport that fails any request answered with a problem its OpenAPI operation does
not declare (`refusals.undocumented`): every test doubles as a check of the document."""

from __future__ import annotations

import httpx
import orjson
from fastapi import FastAPI

from serialtrail_kit.http.problems import MEDIA_TYPE
from serialtrail_kit.http.refusals import undocumented


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
