"""EPCIS reporting's own settings (`SERIALTRAIL_EPCIS_REPORTING_…`)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict
from serialtrail_kit.outbound import OutboundSettings
from serialtrail_kit.service_settings import ServiceSettings

from epcis_reporting.domain.routing import OWNERS

PREFIX = "SERIALTRAIL_EPCIS_REPORTING_"


class EpcisSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True)

    max_document_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="the largest EPCIS document `POST /capture` accepts, in bytes (GS1-EPCIS-Capture-File-Size-Limit)",
    )
    max_document_events: int = Field(
        default=200_000,
        ge=1,
        le=10_000_000,
        description="the most events one captured document may hold (GS1-EPCIS-Capture-Limit)",
    )
    captures_at_once: int = Field(
        default=2,
        ge=1,
        le=64,
        description="documents read and recorded at once, one per key (each takes many times its size in memory "
        "while it is read); another waits for one to end",
    )
    capture_wait_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="how long a document waits for its turn before it is refused 503 with Retry-After",
    )
    route_to: tuple[str, ...] = Field(
        default=OWNERS,
        description="the services captured events are routed to, to record what they mean (a commissioning in "
        "serial_issuance, a packing or unpacking in aggregation, a decommissioning, destroying or sampling in "
        "line_exceptions); a capture job runs until each has decided. "
        "Empty: events are only kept for queries",
    )

    subscriptions: OutboundSettings = Field(
        default_factory=OutboundSettings,
        description="how query subscriptions' webhooks are called: limits and retries per subscriber host (JSON)",
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description="allow subscriptions to deliver to plain http and to this server's own networks (loopback, "
        "private, link-local): for a test bench, never where subscribers are not trusted",
    )
    notify_every_seconds: float = Field(
        default=1.0, gt=0, le=3600, description="how often subscriptions are looked at for what to tell"
    )

    @field_validator("route_to")
    @classmethod
    def _known_owners(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(OWNERS))
        if unknown:
            raise ValueError(f"no route to {unknown}: events are routed to {list(OWNERS)}")
        return value
