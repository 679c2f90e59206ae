"""The progress line: what it says, how often, and that it can be turned off."""

from __future__ import annotations

import logging
import threading
import time

from target_pardot.run.progress import ProgressReporter
from target_pardot.run.stats import RunStats


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_line_counts_rows_calls_and_the_rate_over_the_last_interval():
    stats, clock = RunStats(), FakeClock()
    reporter = ProgressReporter(stats, 10, clock=clock)
    stats.add("rows_received", 600)
    stats.add("rows_sent", 500)
    stats.reject("missing_key")
    for _ in range(11):
        stats.call("prospect/batchUpsert")
    clock.now += 10
    assert reporter.line() == (
        "progress: 600 rows received, 500 sent, 1 rejected; 50.0 rows/s sent in the last "
        "10 s; 11 API calls (API v4); daily API calls left: unknown; daily API calls used: "
        "unknown"
    )
    stats.add("rows_sent", 40)
    clock.now += 20
    # The rate covers the rows sent since the previous line only.
    assert "540 sent, 1 rejected; 2.0 rows/s sent in the last 20 s;" in reporter.line()
    clock.now += 10
    assert "0.0 rows/s sent in the last 10 s" in reporter.line()


def test_line_shows_the_calls_left_when_a_budget_is_known():
    reporter = ProgressReporter(RunStats(), 10, calls_left=lambda: 24_740)
    assert reporter.line().endswith(
        "daily API calls left: 24740; daily API calls used: unknown"
    )


def test_thread_logs_every_interval_until_stopped(caplog):
    caplog.set_level(logging.INFO, logger="target-pardot")
    stats = RunStats()
    stats.add("rows_received", 3)
    reporter = ProgressReporter(stats, 0.02).start()
    time.sleep(0.3)
    reporter.stop()
    lines = [r for r in caplog.records if r.getMessage().startswith("progress: ")]
    assert len(lines) >= 3
    assert all(r.threadName == "target-pardot-progress" for r in lines)
    count = len(lines)
    time.sleep(0.1)
    assert len([r for r in caplog.records if r.getMessage().startswith("progress: ")]) == count
    assert not any(t.name == "target-pardot-progress" for t in threading.enumerate())


def test_interval_zero_turns_it_off(caplog):
    caplog.set_level(logging.INFO, logger="target-pardot")
    reporter = ProgressReporter(RunStats(), 0).start()
    time.sleep(0.05)
    reporter.stop()
    assert not [r for r in caplog.records if r.getMessage().startswith("progress: ")]
    assert not any(t.name == "target-pardot-progress" for t in threading.enumerate())
