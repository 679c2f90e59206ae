"""Every valid row lands exactly once, or is reported, whatever Pardot does."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.helpers import (
    base_config,
    stream_of,
    stream_with_states,
    with_transient_faults,
)


def seeded_updates(emu, n: int, value: str = "v2") -> list[dict]:
    return [
        {"id": emu.add_prospect(email=f"seed{i}@example.com", company="v1"), "company": value}
        for i in range(n)
    ]


@pytest.mark.slow  # 600 email-only rows, one v5 call each (the default path under faults)
def test_transient_faults_token_expiry_and_competing_load(emu, run):
    """15% transient faults, a token that dies every 40 calls, another client holding slots."""
    with_transient_faults(
        emu, 0.15, seed=42, token_lifetime_calls=40, reserved_slots=2, latency_ms=30
    )
    keyed = seeded_updates(emu, 600)
    email_only = [{"email": f"new{i}@example.com", "first_name": "New"} for i in range(600)]
    config = base_config(emu, parallel_tasks=5, maximum_retries=15)
    result = run(config, stream_of("prospects", keyed + email_only, final_state={"done": 1}))
    assert result.exit_code == 0, result.stderr[-3000:]
    prospects = emu.prospects()
    emails = Counter(p["email"] for p in prospects)
    assert len(prospects) == 1200
    assert max(emails.values()) == 1, "no row may arrive twice"
    assert all(p["company"] == "v2" for p in prospects if p["email"].startswith("seed"))
    counters = emu.counters()
    assert sum(counters["faults_injected"].values()) > 0
    assert counters["errors_by_code"].get("66", 0) > 0
    assert counters["tokens_issued"] > 1
    summary = result.summary
    assert summary["retries"] > 0
    assert summary["rows_sent"] == 1200
    assert result.states == [{"done": 1}]


def test_lost_responses_do_not_duplicate_keyed_rows(emu, run):
    emu.configure(applied_but_lost_rate=0.4, seed=9)
    records = seeded_updates(emu, 300)
    result = run(base_config(emu, maximum_retries=15), stream_of("prospects", records))
    assert result.exit_code == 0, result.stderr[-3000:]
    assert len(emu.prospects()) == 300
    assert emu.counters()["faults_injected"].get("applied_but_lost", 0) > 0


def test_lost_responses_do_not_duplicate_v5_upserts(emu, run):
    emu.configure(applied_but_lost_rate=0.4, seed=10)
    records = [{"email": f"v5-{i}@example.com"} for i in range(60)]
    config = base_config(
        emu, upsert_by_email=True, parallel_tasks=5, maximum_retries=15, prospect_lists="4"
    )
    result = run(config, stream_of("prospects", records))
    assert result.exit_code == 0, result.stderr[-3000:]
    emails = Counter(p["email"] for p in emu.prospects())
    assert len(emails) == 60 and max(emails.values()) == 1
    assert len(emu.memberships()) == 60


def test_lost_responses_do_not_duplicate_memberships(emu, run):
    emu.configure(applied_but_lost_rate=0.4, seed=12)
    ids = [emu.add_prospect(email=f"m{i}@example.com") for i in range(120)]
    records = [{"list_id": lst, "prospect_id": pid} for pid in ids for lst in (1, 2)]
    result = run(base_config(emu, maximum_retries=15), stream_of("list_memberships", records))
    assert result.exit_code == 0, result.stderr[-3000:]
    assert len(emu.memberships()) == 240


def test_daily_limit_stops_within_one_call_and_resumes(emu, run):
    records = seeded_updates(emu, 500, value="v2")
    emu.configure(daily_limit=5)  # the run's custom-field read, then 4 batch calls
    # One call at a time: nothing else is in flight. Email-only rows in batches of 50.
    config = base_config(emu, upsert_by_email=False)
    first = run(config, stream_with_states(records, every=50))
    assert first.exit_code == 3
    assert emu.counters()["errors_by_code"]["122"] == 1, "stop at the first 122"
    assert "daily API limit" in first.stderr
    assert "200 rows were delivered" in first.stderr
    assert "Re-run from the last STATE" in first.stderr
    assert first.states[-1] == {"upto": 200}
    upto = first.states[-1]["upto"]
    companies = {p["id"]: p["company"] for p in emu.prospects()}
    assert all(companies[r["id"]] == "v2" for r in records[:upto])
    assert all(companies[r["id"]] == "v1" for r in records[upto:])

    emu.configure(daily_limit=None)
    second = run(config, stream_with_states(records[upto:], every=50, start=upto))
    assert second.exit_code == 0
    assert second.states[-1] == {"upto": 500}
    assert all(p["company"] == "v2" for p in emu.prospects())
    assert len(emu.prospects()) == 500


def test_daily_limit_with_parallel_calls_stops_at_once(emu, run):
    records = seeded_updates(emu, 2000)
    emu.configure(daily_limit=10, latency_ms=20)
    result = run(base_config(emu, parallel_tasks=5), stream_with_states(records, every=50))
    assert result.exit_code == 3
    # Only calls already in flight when the first 122 came back may see one too.
    assert emu.counters()["errors_by_code"]["122"] <= 5
    assert emu.counters()["calls_by_endpoint"]["prospect/batchUpsert"] <= 15
    upto = result.states[-1]["upto"] if result.states else 0
    companies = {p["id"]: p["company"] for p in emu.prospects()}
    assert all(companies[r["id"]] == "v2" for r in records[:upto])


def test_max_api_calls_keeps_quota_for_others(emu, run):
    records = seeded_updates(emu, 500)
    # The custom-field read, then 3 batches (email-only rows in batches of 50).
    config = base_config(emu, max_api_calls=4, upsert_by_email=False)
    result = run(config, stream_with_states(records, every=50))
    assert result.exit_code == 3
    assert emu.counters()["calls_by_endpoint"]["prospect/batchUpsert"] == 3
    assert "max_api_calls" in result.stderr
    assert result.states[-1] == {"upto": 150}
    resumed = run(base_config(emu, upsert_by_email=False),
                  stream_with_states(records[150:], every=50, start=150))  # fmt: skip
    assert resumed.exit_code == 0
    assert all(p["company"] == "v2" for p in emu.prospects())
