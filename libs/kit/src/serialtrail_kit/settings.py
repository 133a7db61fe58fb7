"""The settings every service shares (environment, database, HTTP, Kafka, tracing, OIDC),
typed and validated at start. A service's own settings are its `ServiceSettings` class;
a digest of both (secrets left out) goes into every event's metadata."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class TraceExporter(StrEnum):
    none = "none"
    console = "console"
    otlp = "otlp"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERIALTRAIL_", extra="ignore", frozen=True)

    environment: Environment = Environment.development
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SERIALTRAIL_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL the services connect to; unset = embedded server under data_dir",
    )
    app_database_url: str | None = Field(
        default=None,
        description="how the application connects: a login role that is a member of serialtrail_app and nothing "
        "more (cannot disable the log's triggers or rewrite it); unset = a role provisioned with a generated "
        "password on the embedded database, or (external database) DATABASE_URL narrowed by SET ROLE",
    )
    data_dir: Path = Path(".serialtrail")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    trusted_proxies: str = Field(
        default="",
        description="addresses (comma-separated, or *) whose X-Forwarded-For names the client: the gateway's in "
        "distributed mode; unset = none, the peer's own address is the client's",
    )
    gateway_upstreams: str = Field(
        default="",
        description="`serialtrail gateway`: each service's base URL as <service>=http://<host>:<port>, "
        "comma-separated (every service exactly once)",
    )
    max_request_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="largest request body accepted; larger ones get 413 before the body is read",
    )
    checkpoint_dir: Path | None = Field(
        default=None,
        description="where signed checkpoints of every log's head are written (outside the database); "
        "unset = <data_dir>/checkpoints",
    )
    checkpoint_key_file: Path | None = Field(
        default=None,
        description="Ed25519 key that signs checkpoints (PEM, 0600; created with <file>.pub on first start); "
        "never held by the database; unset = <data_dir>/checkpoint-key",
    )
    checkpoint_every_events: int = Field(default=10_000, ge=1, description="a checkpoint at least this often")
    checkpoint_every_seconds: float = Field(
        default=60.0, gt=0, description="and at least this often, when the log moved"
    )
    refusal_window_seconds: float = Field(
        default=60.0, gt=0, description="refusals from one address beyond the burst are summarised per window"
    )
    refusal_burst: int = Field(default=5, ge=1, description="refusals per address and window recorded one by one")
    projection_poll_interval: float = Field(default=1.0, gt=0)
    read_your_writes_timeout: float = Field(default=10.0, gt=0, description="how long a read waits for its read model")
    max_clock_skew_seconds: float = Field(
        default=300.0, ge=0, description="how far ahead of the server's clock a sender's time may be (clocks differ)"
    )
    oidc_jwks_url: str | None = Field(default=None, description="JWKS of the identity provider; unset = API keys only")
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_role_claim: str = "serialtrail_role"
    oidc_scope_claim: str = "serialtrail_scope"
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SERIALTRAIL_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
        description="Kafka brokers (distributed mode): relays publish each log to its topic and other services' "
        "events are read from their topics; unset = embedded mode, logs read directly",
    )
    otel_exporter: TraceExporter = Field(
        default=TraceExporter.none, description="where traces go: none, console, or otlp (OTLP over HTTP)"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces"
    )
    kafka_topic_prefix: str = Field(default="", description="prefix of every topic and consumer group name")
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000, description="consumer group session timeout")
    kafka_fetch_max_wait_ms: int = Field(default=500, ge=10, description="longest a fetch waits for new messages")

    def kafka_consumer_settings(self) -> dict[str, int]:
        return {
            "session_timeout_ms": self.kafka_session_timeout_ms,
            "heartbeat_interval_ms": max(100, self.kafka_session_timeout_ms // 6),
            "rebalance_timeout_ms": self.kafka_session_timeout_ms,
            "fetch_max_wait_ms": self.kafka_fetch_max_wait_ms,
        }

    @model_validator(mode="after")
    def _oidc_all_or_nothing(self) -> Settings:
        given = [self.oidc_jwks_url, self.oidc_issuer, self.oidc_audience]
        if any(given) and not all(given):
            raise ValueError("OIDC needs all of SERIALTRAIL_OIDC_JWKS_URL, _ISSUER and _AUDIENCE")
        return self

    def production_problems(self) -> list[str]:
        """What a service may not run without in production (the gateway needs none of it)."""
        if self.environment is not Environment.production:
            return []
        problems = []
        if self.database_url is None:
            problems.append("DATABASE_URL must be set in production (no embedded database)")
        if self.app_database_url is None:
            problems.append(
                "SERIALTRAIL_APP_DATABASE_URL must be set in production: the application must not hold the "
                "database's admin credentials (a login role that is a member of serialtrail_app)"
            )
        return problems

    @property
    def checkpoints_at(self) -> Path:
        return self.checkpoint_dir or self.data_dir / "checkpoints"

    @property
    def checkpoint_key_at(self) -> Path:
        return self.checkpoint_key_file or self.data_dir / "checkpoint-key"

    def public(self) -> dict[str, Any]:
        """The non-secret settings (for the configuration digest recorded with every event)."""
        return self.model_dump(mode="json", exclude={"database_url", "app_database_url"})
