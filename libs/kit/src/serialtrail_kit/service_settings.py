"""A service's own settings: a pydantic-settings class with its own prefix
(`SERIALTRAIL_<SERVICE>_…`), validated at start like the common settings.

Secrets (`SecretStr` fields) are checked the same way for every service: required and not
a placeholder in production. A secret field may name a file in the data directory
(`local_secret_file`) from which the embedded all-in-one reads it, generating it once on
first start, so that `make run` needs no configuration and never uses a default key."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Self, get_args

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changeme", "change-me", "secret", "placeholder", "dev", "test", "0" * 64}


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    @classmethod
    def for_tests(cls) -> Self:
        """Settings for the test harness (fresh secrets, never the environment's)."""
        return cls()

    @classmethod
    def env_name(cls, field: str) -> str:
        return (str(cls.model_config.get("env_prefix", "")) + field).upper()

    def secret_fields(self) -> dict[str, SecretStr | None]:
        return {
            name: getattr(self, name) for name, info in type(self).model_fields.items() if _is_secret(info.annotation)
        }

    def missing_secrets(self) -> list[str]:
        return [self.env_name(name) for name, value in self.secret_fields().items() if value is None]

    def production_problems(self) -> list[str]:
        """Each secret that is missing, a placeholder or too uniform to be random."""
        problems = []
        for name, value in self.secret_fields().items():
            raw = value.get_secret_value().lower() if value is not None else None
            if raw is None or raw in PLACEHOLDERS or len(set(raw)) < 8:
                problems.append(f"{self.env_name(name)} must be set to a real random secret in production")
        return problems

    def with_local_secrets(self, data_dir: Path) -> Self:
        """Fill each unset secret that names a `local_secret_file` from that file under
        `data_dir`, generating 256 random bits into it (mode 0600) the first time."""
        update: dict[str, Any] = {}
        for name, value in self.secret_fields().items():
            extra = type(self).model_fields[name].json_schema_extra
            file_name = extra.get("local_secret_file") if isinstance(extra, dict) else None
            if value is None and isinstance(file_name, str):
                update[name] = SecretStr(local_secret(data_dir / file_name))
        return self.model_copy(update=update) if update else self

    def public(self) -> dict[str, Any]:
        """The non-secret settings, and which secrets are set (for the configuration digest)."""
        values = self.model_dump(mode="json", exclude=set(self.secret_fields()))
        values.update({f"{name}_set": value is not None for name, value in self.secret_fields().items()})
        return values


class NoSettings(ServiceSettings):
    """For a service that has no settings of its own."""


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def local_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def digest(*parts: dict[str, Any]) -> str:
    blob = json.dumps(parts, sort_keys=True).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()[:16]
