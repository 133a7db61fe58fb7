"""How hard an outbound may press each destination and how it waits after a failure: typed,
validated when the service's settings are read, so a bad limit stops the start, not the
hundredth delivery.

A service puts an `OutboundSettings` field in its own settings class; it is read from the
environment as JSON, e.g. `SERIALTRAIL_<SERVICE>_<FIELD>='{"default": {"max_attempts": 5},
"destinations": {"partner-a": {"rate_per_second": 2}}}'`."""

from __future__ import annotations

import random
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DestinationPolicy(BaseModel):
    """The limits and the retry schedule of one destination."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(default=4, ge=1, description="requests in flight at once, across every dispatcher")
    rate_per_second: float = Field(default=10.0, gt=0, description="requests started per second, on average")
    burst: int = Field(default=10, ge=1, description="requests that may start at once after a quiet spell")
    max_attempts: int = Field(default=8, ge=1, description="attempts before the job goes dead")
    backoff_base_seconds: float = Field(default=1.0, gt=0, description="the first retry waits up to this")
    backoff_cap_seconds: float = Field(default=600.0, gt=0, description="no retry waits longer (Retry-After aside)")
    max_retry_after_seconds: float = Field(
        default=3600.0, gt=0, description="the longest Retry-After honoured (a remote asking more gets this)"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="the whole exchange, connect to last byte")
    lease_seconds: float = Field(
        default=60.0, gt=0, description="after this without an outcome, the job is due again (its sender stopped)"
    )

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_cap_seconds must be at least backoff_base_seconds")
        if self.lease_seconds <= self.timeout_seconds:
            # A lease that ends while the attempt may still be answered would send the job twice at once.
            raise ValueError("lease_seconds must be longer than timeout_seconds")
        return self

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): "full jitter", a uniform draw
        up to the exponential bound, so that jobs failing together do not come back together;
        never sooner than the remote asked (`retry_after`, itself bounded)."""
        bound = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** min(attempt - 1, 62))
        jittered = random.uniform(0, bound)  # noqa: S311 - spreading retries, not a secret
        if retry_after is None:
            return jittered
        return max(jittered, min(retry_after, self.max_retry_after_seconds))

    @property
    def guard_seconds(self) -> float:
        """How long the dispatcher lets `send` run: past its timeout, but ending before the lease does."""
        return self.timeout_seconds + (self.lease_seconds - self.timeout_seconds) / 2


class OutboundSettings(BaseModel):
    """One outbound's limits: a default policy, and the destinations that differ from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: DestinationPolicy = DestinationPolicy()
    destinations: dict[str, DestinationPolicy] = Field(default_factory=dict)
    poll_interval_seconds: float = Field(
        default=2.0, gt=0, description="the longest a dispatcher sleeps without a notification (a fallback)"
    )
    max_in_flight: int = Field(default=64, ge=1, description="requests one dispatcher has in flight, all destinations")

    def of(self, destination: str) -> DestinationPolicy:
        return self.destinations.get(destination, self.default)
