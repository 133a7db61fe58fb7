"""Base of every contract model: frozen, keyword-only, no unknown fields, an explicit
stable type name and version (never a Python import path)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class EventContract(Contract):
    EVENT_TYPE: ClassVar[str]
    EVENT_VERSION: ClassVar[int]

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def event_types(*models: type[EventContract]) -> dict[tuple[str, int], type[EventContract]]:
    registry: dict[tuple[str, int], type[EventContract]] = {}
    for model in models:
        key = (model.EVENT_TYPE, model.EVENT_VERSION)
        if key in registry:
            raise ValueError(f"duplicate contract {key}")
        registry[key] = model
    return registry
