"""The hub's side of a request, run on the one thread that owns the database: the idempotency
check, the work and the record of its answer in one transaction, so that a crash leaves either all
three or none, and a request with a key is never processed twice."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from eu_hub_simulator.faults import Clock
from eu_hub_simulator.rules import Refused
from eu_hub_simulator.store import Store, Stored

Work = Callable[[], Any]  # the operation, closed over its request, run on the store's thread


@dataclass(frozen=True)
class Outcome:
    status: int
    body: bytes
    replay: bool = False


def refusal(refused: Refused) -> Outcome:
    return Outcome(refused.status, orjson.dumps(refused.body()))


class Hub:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.store = Store(path)
        self.clock = clock
        self.processed: Counter[str] = Counter()  # since this process started: a replay adds nothing

    def close(self) -> None:
        self.store.close()

    def keyed(self, key: str, method: str, path: str, body: bytes, work: Work) -> Outcome:
        digest = hashlib.sha256(f"{method} {path}\n".encode() + body).digest()
        with self.store.transaction():
            stored = self.store.stored_answer(key)
            if stored is not None:
                if stored.digest != digest:
                    return refusal(
                        Refused(422, "NMVS_FE_IDEMPOTENCY_02", "the idempotency key was used for another request")
                    )
                return Outcome(stored.status, stored.answer, replay=True)
            outcome = self._attempt(work)
            # Refusals are answers too: the same request with the same key gets the same refusal.
            self.store.store_answer(key, Stored(digest, outcome.status, outcome.body))
        self.processed[key] += 1
        return outcome

    def unkeyed(self, work: Work) -> Outcome:
        with self.store.transaction():
            return self._attempt(work)

    def _attempt(self, work: Work) -> Outcome:
        try:
            with self.store.savepoint():
                return Outcome(200, orjson.dumps(work()))
        except Refused as refused:
            return refusal(refused)

    def counts(self) -> tuple[dict[str, int], int]:
        """What /_sim/stats reports from this side: times each key was processed, packs held."""
        return dict(self.processed), self.store.total_packs()
