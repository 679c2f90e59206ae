"""Progress lines on long runs: one log line every `progress_interval_seconds`.

A daemon thread reads the run's counters and logs, on the target's logger (stderr, never
stdout, which carries only STATE):

    progress: 12000 rows received, 11950 sent, 2 rejected; 1190.5 rows/s sent in the last
    10 s; 260 API calls (API v4); daily API calls left: unknown; daily API calls used: 5260
    of 25000

A thread rather than a hook in record processing, so that a run waiting on Pardot (long
retries, slow replies) still reports that it is alive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from target_pardot.pardot.quota import describe_usage
from target_pardot.run.stats import RunStats

logger = logging.getLogger("target-pardot")


class ProgressReporter:
    """Logs one progress line per interval until stopped. An interval of 0 turns it off."""

    def __init__(
        self,
        stats: RunStats,
        interval: float,
        *,
        calls_left: Callable[[], int | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = stats
        self.interval = interval
        # Pardot does not tell a client how much of its daily quota is left; only a
        # budget configured for the run could say, so without one it is "unknown".
        self.calls_left = calls_left
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_time = clock()
        self._last_sent = 0

    def start(self) -> ProgressReporter:
        if self.interval > 0 and self._thread is None:
            self._last_time = self.clock()
            self._thread = threading.Thread(
                target=self._loop, name="target-pardot-progress", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            logger.info("%s", self.line())

    def line(self) -> str:
        """The progress line for now; also moves the rate window on."""
        summary = self.stats.snapshot(outcome="running")
        now = self.clock()
        sent = int(summary["rows_sent"])
        window = max(now - self._last_time, 1e-9)
        rate = (sent - self._last_sent) / window
        self._last_time, self._last_sent = now, sent
        left = self.calls_left()
        return (
            f"progress: {summary['rows_received']} rows received, {sent} sent, "
            f"{summary['rows_rejected']} rejected; {rate:.1f} rows/s sent in the last "
            f"{window:.3g} s; {summary['api_calls']} API calls (API {summary['api_version']}); "
            f"daily API calls left: {'unknown' if left is None else left}; "
            f"{describe_usage(self.stats.quota.latest)}"
        )
