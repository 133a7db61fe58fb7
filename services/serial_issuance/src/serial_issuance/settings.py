"""Serial issuance's own settings (`SERIALTRAIL_SERIAL_ISSUANCE_…`)."""

from __future__ import annotations

import secrets
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict
from serialtrail_kit.service_settings import ServiceSettings

PREFIX = "SERIALTRAIL_SERIAL_ISSUANCE_"


class SerialIssuanceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True, populate_by_name=True)

    serial_key: SecretStr | None = Field(
        default=None,
        # The shorter name was documented first and is still accepted.
        validation_alias=AliasChoices(PREFIX + "SERIAL_KEY", "SERIALTRAIL_SERIAL_KEY"),
        description="64 hex characters: the master key serials are derived from (FF3-1); "
        "`serialtrail run` generates one in the data directory on first start",
        json_schema_extra={"local_secret_file": "serial-key"},
    )
    digital_link_base: str = Field(
        default="https://id.gs1.org",
        validation_alias=AliasChoices(PREFIX + "DIGITAL_LINK_BASE", "SERIALTRAIL_DIGITAL_LINK_BASE"),
        description="resolver base of the GS1 Digital Link URIs serials are rendered in",
    )

    max_shelf_life_days: int = Field(
        default=3650,
        ge=1,
        le=36_500,
        description="a batch whose expiry lies further from its registration than this is refused as implausible",
    )

    @field_validator("serial_key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            raw = value.get_secret_value()
            if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
                raise ValueError("serial_key must be 64 hexadecimal characters (256 bits)")
        return value

    @classmethod
    def for_tests(cls) -> Self:
        return cls.model_validate({"serial_key": secrets.token_hex(32)})

    def key(self) -> bytes:
        if self.serial_key is None:
            raise ValueError(f"serial issuance needs {PREFIX}SERIAL_KEY (64 hex characters)")
        return bytes.fromhex(self.serial_key.get_secret_value())
