"""What a test scripts and the simulator does not persist: injected answers and the clock's offset.
Both are gone after a restart, as a test expects of a freshly started remote system."""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime

from eu_hub_simulator.models import FaultAnswer, FaultScript

EVERY_V1_PATH = r"^/v1/"


class Clock:
    """The hub's time: the real clock shifted by an offset, so that a test can step ten days ahead
    (the undo window) or past an expiry without waiting."""

    def __init__(self) -> None:
        self.offset_seconds = 0.0

    def now(self) -> float:
        return time.time() + self.offset_seconds

    def today(self) -> date:
        return datetime.fromtimestamp(self.now(), UTC).date()

    def iso(self, at: float | None = None) -> str:
        moment = datetime.fromtimestamp(self.now() if at is None else at, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Injected:
    """One scripted answer for one request."""

    status: int
    delay: float
    retry_after: str | None
    process: bool  # whether the request is really handled (and stored) before this answer is sent

    @classmethod
    def of(cls, answer: FaultAnswer) -> Injected:
        process = answer.status < 300 if answer.process is None else answer.process
        return cls(answer.status, answer.delay, answer.retry_after, process)


class Faults:
    """Scripts of answers, each for the paths its regex finds; a request takes the next answer of
    the oldest script that matches it and still has one."""

    def __init__(self) -> None:
        self.scripts: list[tuple[re.Pattern[str], deque[Injected]]] = []

    def add(self, script: FaultScript) -> int:
        pattern = re.compile(script.path or EVERY_V1_PATH)  # re.error is the caller's to answer
        self.scripts.append((pattern, deque(Injected.of(a) for a in script.answers)))
        return self.pending()

    def clear(self) -> None:
        self.scripts.clear()

    def pending(self) -> int:
        return sum(len(answers) for _, answers in self.scripts)

    def take(self, path: str) -> Injected | None:
        for pattern, answers in self.scripts:
            if answers and pattern.search(path):
                answer = answers.popleft()
                self.scripts = [(p, a) for p, a in self.scripts if a]
                return answer
        return None
