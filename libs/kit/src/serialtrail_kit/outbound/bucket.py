"""A token bucket: a destination may start `rate` requests per second on average and `burst`
at once after a quiet spell. Pure: the claim loads it from its row, refills it to the
database's clock, takes what it starts and stores it back, under the outbound's claim lock."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: int  # the most it holds
    tokens: float
    at: datetime  # when `tokens` was true

    @classmethod
    def full(cls, rate: float, burst: int, at: datetime) -> TokenBucket:
        return cls(rate, burst, float(burst), at)

    def refilled(self, now: datetime) -> TokenBucket:
        elapsed = max(0.0, (now - self.at).total_seconds())
        return replace(self, tokens=min(float(self.burst), self.tokens + elapsed * self.rate), at=now)

    @property
    def available(self) -> int:
        # A hair under a whole token (float arithmetic) still counts as one.
        return min(self.burst, math.floor(self.tokens + 1e-9))

    def take(self, count: int) -> TokenBucket:
        if count > self.available:
            raise ValueError(f"{count} tokens asked, {self.available} available")
        return replace(self, tokens=self.tokens - count)

    def seconds_to_next(self) -> float:
        """Until one whole token is there (0 when it is now)."""
        return max(0.0, (1.0 - self.tokens) / self.rate)
