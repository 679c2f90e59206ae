"""The account's day ends mid-run: the daily usage Pardot reports drops, and progress lines
and the run summary show the new figure, not the highest one seen before."""

from __future__ import annotations

import re
import threading

from tests.helpers import base_config, stream_of


def test_progress_and_summary_follow_the_usage_after_the_day_resets(emu, run, monkeypatch):
    emu.configure(daily_limit=25_000, others_daily_calls=20_000, latency_ms=40)
    dispatch = emu.app.dispatch
    batches = 0
    lock = threading.Lock()

    def new_day_after_ten_batches(req):
        nonlocal batches
        if "/do/batch" in req.path:
            with lock:
                batches += 1
                if batches == 10:
                    emu.new_day()  # midnight in the account's time zone
        return dispatch(req)

    monkeypatch.setattr(emu.app, "dispatch", new_day_after_ten_batches)
    records = [{"email": f"d{i}@example.com"} for i in range(1_000)]  # 20 batch calls
    result = run(base_config(emu, parallel_tasks=1, progress_interval_seconds=0.05,
                             upsert_by_email=False),  # the 20 batch calls counted here
                 stream_of("prospects", records, final_state={"at": 1}))  # fmt: skip
    assert result.exit_code == 0, result.stderr[-3000:]
    used_after_reset = emu.counters()["daily_calls_used"]
    assert 0 < used_after_reset <= 12
    summary = result.summary
    assert int(summary["daily_api_calls_used_at_start"].split()[0]) > 20_000
    assert summary["daily_api_calls_used_at_end"] == f"{used_after_reset} of 25000"
    progress = [int(m.group(1)) for m in re.finditer(
        r"progress: .*daily API calls used: (\d+) of 25000", result.stderr)]  # fmt: skip
    assert progress and progress[0] > 20_000 and progress[-1] <= used_after_reset
