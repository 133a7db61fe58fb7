"""What a benchmark's server holds in memory: its resident set (VmRSS) and its peak (VmHWM), read
from /proc, the peak started over between two figures (Linux: 5 to clear_refs), and a sampler for
processes that restart under a benchmark (the peak of a killed process is lost with it)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

SAMPLE = 0.05  # seconds between two RSS samples


def status_mb(pid: int | None, line: str) -> float | None:
    """VmRSS or VmHWM of a process, in MB (None once it is gone)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as status:
            for found in status:
                if found.startswith(line):
                    return int(found.split()[1]) / 1024
    except OSError:
        return None
    return None


def reset_peak(pid: int | None) -> bool:
    """Start the process's VmHWM over; False where it cannot be (then it is the peak since its start)."""
    if pid is None:
        return False
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Sampler:
    """The largest VmRSS of each named process, sampled on a thread every `SAMPLE` s; the processes
    are asked for their pid at each sample (a restarted one is followed)."""

    def __init__(self, pids: dict[str, Callable[[], int | None]]) -> None:
        self.pids = pids
        self.peaks: dict[str, float] = dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE):
            for name, pid in self.pids.items():
                rss = status_mb(pid(), "VmRSS:")
                if rss is not None and rss > self.peaks[name]:
                    self.peaks[name] = rss

    @contextlib.contextmanager
    def running(self) -> Iterator[Sampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
