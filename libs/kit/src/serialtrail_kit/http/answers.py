"""Answers documented, not validated: a route that renders its answer itself (orjson, JSON that
PostgreSQL built) still names the model its answer follows, for the OpenAPI document only.

The models are closed (`extra="forbid"`, i.e. `additionalProperties: false`), so a test that
checks real answers against the document (`testing.documented.answer_problems`) fails on a field
an answer gains without being described."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


def ok(model: type[BaseModel], description: str) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: its 200 answer documented by `model`, rendered as the route renders it."""
    return {200: {"model": model, "description": description}}
