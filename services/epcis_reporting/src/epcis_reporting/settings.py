"""EPCIS reporting's own settings (`SERIALTRAIL_EPCIS_REPORTING_…`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from serialtrail_kit.service_settings import ServiceSettings

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
