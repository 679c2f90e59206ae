"""Progress lines during a real run: on stderr, never on stdout, and gone after the run."""

from __future__ import annotations

import re

from tests.helpers import base_config, run_cli_inprocess, stream_of

PROGRESS = re.compile(
    r"progress: (\d+) rows received, (\d+) sent, (\d+) rejected; [0-9.]+ rows/s sent in the "
    r"last [0-9.e-]+ s; (\d+) API calls \(API v[34]\); daily API calls left: unknown; "
    r"daily API calls used: (\d+) of 100000$"
)


def test_a_slow_run_reports_progress_on_stderr_only(emu, tmp_path):
    # 20 calls of 60 ms, one at a time: about 1.2 s, so several 0.1 s intervals.
    emu.configure(latency_ms=60)
    records = [{"email": f"p{i}@example.com"} for i in range(1_000)]
    config = base_config(emu, progress_interval_seconds=0.1, upsert_by_email=False)
    result = run_cli_inprocess(
        config, stream_of("prospects", records, final_state={"at": 1000}), tmp_path
    )
    assert result.exit_code == 0, result.stderr[-2000:]
    matches = [m for line in result.stderr.splitlines() if (m := PROGRESS.search(line))]
    assert len(matches) >= 3, result.stderr[-3000:]
    sent = [int(m.group(2)) for m in matches]
    assert sent == sorted(sent), "counts only grow"
    assert 0 < sent[-1] <= 1_000
    assert all(int(m.group(4)) >= 1 for m in matches), "the token call counts"
    # stdout is STATE only (every stdout line is parsed as JSON).
    assert result.states == [{"at": 1000}]
    assert "progress:" not in result.stdout


def test_default_interval_stays_quiet_on_a_short_run(emu, tmp_path):
    records = [{"email": f"q{i}@example.com"} for i in range(10)]
    result = run_cli_inprocess(base_config(emu), stream_of("prospects", records), tmp_path)
    assert result.exit_code == 0
    assert "progress:" not in result.stderr


def test_progress_shows_the_calls_left_under_max_api_calls(emu, tmp_path):
    emu.configure(latency_ms=60)
    records = [{"email": f"b{i}@example.com"} for i in range(1_000)]
    config = base_config(emu, progress_interval_seconds=0.1, max_api_calls=100,
                         upsert_by_email=False)  # batches of 50: a known number of calls
    result = run_cli_inprocess(config, stream_of("prospects", records), tmp_path)
    assert result.exit_code == 0, result.stderr[-2000:]
    left = [int(m.group(1)) for m in re.finditer(r"daily API calls left: (\d+)", result.stderr)]
    assert left, result.stderr[-3000:]
    assert left == sorted(left, reverse=True)
    assert 79 <= left[-1] < 99  # the custom-field read took one of the 100
