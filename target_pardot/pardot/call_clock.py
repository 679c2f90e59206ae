"""How long a run waited on Pardot: the sum of every call's time, and the time with at
least one call in flight. The run summary uses both to say when more slots would have
made the run faster (see target_pardot.run.verdicts.slow_run_hint)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CallClock:
    """Thread-safe: every sending thread starts and ends its calls here."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._now = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._busy_since = 0.0
        self.call_seconds = 0.0
        self.busy_seconds = 0.0

    def start(self) -> float:
        now = self._now()
        with self._lock:
            if self._in_flight == 0:
                self._busy_since = now
            self._in_flight += 1
        return now

    def end(self, started: float) -> None:
        now = self._now()
        with self._lock:
            self.call_seconds += now - started
            self._in_flight -= 1
            if self._in_flight == 0:
                self.busy_seconds += now - self._busy_since
