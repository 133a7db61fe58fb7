"""The EU FMD hub service's own settings (`SERIALTRAIL_FMD_HUB_…`)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from serialtrail_kit.outbound import OutboundSettings
from serialtrail_kit.service_settings import ServiceSettings

from fmd_hub.domain.uploads import HUB_CHUNK_LIMIT

PREFIX = "SERIALTRAIL_FMD_HUB_"
# A chunk of 250,000 serials is a few megabytes each way (about a second against the simulator): two in
# flight, 30 s each at most; a sender killed mid-call holds its job until the lease ends (40 s).
HUB_POLICY = {"concurrency": 2, "timeout_seconds": 30, "lease_seconds": 40}
TOKEN_FILE = "fmd-hub-token"  # noqa: S105 - a file name, not a secret; where the embedded all-in-one keeps the token it shares with its simulator


class FmdHubSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True)

    hub_url: str = Field(
        default="http://127.0.0.1:8470",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="the European Hub's base URL (the embedded all-in-one starts a hub simulator here)",
    )
    hub_token: SecretStr | None = Field(
        default=None,
        description="the bearer token the hub knows this manufacturer by",
        json_schema_extra={"local_secret_file": TOKEN_FILE},
    )
    chunk_size: int = Field(
        default=HUB_CHUNK_LIMIT,
        ge=1,
        le=HUB_CHUNK_LIMIT,
        description="serials per upload message to the hub (the hub takes at most 250,000)",
    )
    hub: OutboundSettings = Field(
        default_factory=lambda: OutboundSettings.model_validate({"default": HUB_POLICY}),
        description="how the hub is called: limits and retries (JSON)",
    )

    alerts_every_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="how often the hub is asked for the alerts raised since the last time"
    )
    simulator: bool = Field(
        default=False,
        description="run the EU hub simulator on hub_url beside the service (development only: `make run` turns it "
        "on; refused in production)",
    )
    simulator_data: Path = Field(
        default=Path(".serialtrail/eu-hub-simulator.sqlite"), description="where the simulator keeps what it was sent"
    )

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.simulator:
            problems.append(f"{self.env_name('simulator')} must be off in production")
        if not self.hub_url.startswith("https://"):  # the token goes with every call
            problems.append(f"{self.env_name('hub_url')} must be set to the hub's https URL in production")
        return problems

    @classmethod
    def for_tests(cls) -> Self:
        return cls(hub_token=SecretStr(secrets.token_hex(16)))
