"""The account's daily quota: shown from x-api-usage, and `daily_quota_reserve` stops a
run cleanly (exit 3, true STATE) before it eats into other integrations' share."""

from __future__ import annotations

import re

from tests.helpers import (
    assert_no_secrets,
    base_config,
    run_cli_inprocess,
    stream_of,
    stream_with_states,
)


def updates(emu, n: int) -> list[dict]:
    return [
        {"id": emu.add_prospect(email=f"quota{i}@example.com", company="v1"), "company": "v2"}
        for i in range(n)
    ]


def test_quota_is_shown_at_the_start_in_progress_lines_and_in_the_summary(emu, tmp_path):
    emu.configure(latency_ms=60, daily_limit=25_000, others_daily_calls=1_200)
    records = [{"email": f"q{i}@example.com"} for i in range(1_000)]  # 20 batch calls
    # v4 batches: this test is about the quota lines, not upsert_by_email's call per row.
    config = base_config(emu, progress_interval_seconds=0.1, upsert_by_email=False)
    result = run_cli_inprocess(
        config, stream_of("prospects", records, final_state={"at": 1}), tmp_path
    )
    assert result.exit_code == 0, result.stderr[-3000:]
    assert "daily API calls used: 1201 of 25000 at the start of this run." in result.stderr
    progress = [
        int(m.group(1))
        for line in result.stderr.splitlines()
        if line.rstrip().endswith("of 25000") and "progress: " in line
        for m in [re.search(r"daily API calls used: (\d+) of 25000$", line.rstrip())]
        if m
    ]
    assert len(progress) >= 3, result.stderr[-3000:]
    # 20 batch calls, and whatever reads the run makes first: the emulator's own count.
    assert emu.counters()["calls_by_endpoint"]["prospect/batchUpsert"] == 20
    end = 1200 + emu.counters()["daily_calls_used"]
    assert end >= 1220
    assert progress == sorted(progress) and progress[0] >= 1201 and progress[-1] <= end
    summary = result.summary
    assert summary["daily_api_calls_used_at_start"] == "1201 of 25000"
    assert summary["daily_api_calls_used_at_end"] == f"{end} of 25000"
    assert re.search(r"daily API calls used, start +1201 of 25000", result.stderr)
    assert re.search(rf"daily API calls used, end +{end} of 25000", result.stderr)
    assert result.states == [{"at": 1}]
    assert_no_secrets(result, config, emu)


def test_an_unparseable_or_missing_header_never_fails_a_run(emu, tmp_path):
    records = [{"email": f"r{i}@example.com"} for i in range(120)]
    emu.configure(api_usage_header="raw")
    raw = run_cli_inprocess(base_config(emu), stream_of("prospects", records), tmp_path)
    assert raw.exit_code == 0, raw.stderr[-2000:]
    used = emu.counters()["daily_calls_used"]
    assert raw.summary["daily_api_calls_used_at_end"] == f"unparsed ('about {used} today')"
    emu.configure(api_usage_header="off")
    off = run_cli_inprocess(
        base_config(emu, daily_quota_reserve=10), stream_of("prospects", records), tmp_path
    )
    assert off.exit_code == 0, off.stderr[-2000:]
    assert off.summary["daily_api_calls_used_at_end"] == "unknown"


def test_daily_quota_reserve_stops_with_a_true_state_and_a_rerun_finishes(emu, tmp_path):
    records = updates(emu, 500)  # 10 batch calls of 50
    # Other integrations used 950 of 1000 today; keep 45 for them: we may reach 955.
    emu.configure(daily_limit=1_000, others_daily_calls=950)
    # Rows keyed by id; without upsert_by_email no identity map check shares the quota, so
    # the calls counted below are the batches alone.
    config = base_config(emu, daily_quota_reserve=45, upsert_by_email=False)
    first = run_cli_inprocess(config, stream_with_states(records, every=50), tmp_path)
    assert first.exit_code == 3, first.stderr[-3000:]
    # Exactly the 5 calls up to 955, the run's reads included; 50 rows per batch call.
    assert emu.counters()["daily_calls_used"] == 5
    batches = emu.counters()["calls_by_endpoint"]["prospect/batchUpsert"]
    assert 3 <= batches <= 5
    upto = 50 * batches
    assert "122" not in emu.counters()["errors_by_code"], "stopped before Pardot's own limit"
    line = next(ln for ln in first.stderr.splitlines() if "'daily_quota_reserve'" in ln)
    assert "955 of 1000" in line and "Re-run from the last STATE" in line
    assert first.states[-1] == {"upto": upto}
    companies = {p["id"]: p["company"] for p in emu.prospects()}
    assert all(companies[r["id"]] == "v2" for r in records[:upto])
    assert all(companies[r["id"]] == "v1" for r in records[upto:])
    assert first.summary["outcome"] == "stopped at the API limit"
    assert first.summary["daily_api_calls_used_at_end"] == "955 of 1000"

    emu.new_day()  # midnight in the account's time zone
    second = run_cli_inprocess(
        config, stream_with_states(records[upto:], every=50, start=upto), tmp_path
    )
    assert second.exit_code == 0, second.stderr[-3000:]
    assert second.states[-1] == {"upto": 500}
    assert all(p["company"] == "v2" for p in emu.prospects())
    used = emu.counters()["daily_calls_used"]
    assert second.summary["daily_api_calls_used_at_end"] == f"{used} of 1000"
    assert_no_secrets(second, config, emu)


def test_the_reserve_holds_with_parallel_calls(emu, tmp_path):
    records = updates(emu, 1_000)
    emu.configure(daily_limit=1_000, others_daily_calls=900, latency_ms=20)
    # 20 calls needed; 1000 - 90 = 910 allows at most 10.
    config = base_config(emu, daily_quota_reserve=90, parallel_tasks=5)
    result = run_cli_inprocess(config, stream_with_states(records, every=50), tmp_path)
    assert result.exit_code == 3, result.stderr[-3000:]
    # Never past 910 by the emulator's own count, though five calls run at once.
    assert 5 <= emu.counters()["daily_calls_used"] <= 10
    assert "122" not in emu.counters()["errors_by_code"]
    upto = result.states[-1]["upto"] if result.states else 0
    companies = {p["id"]: p["company"] for p in emu.prospects()}
    assert all(companies[r["id"]] == "v2" for r in records[:upto])
