"""list_membership_operation: mirror, against the emulator: exact lists, call counts, the
removal guard, dry runs, STATE, and runs that stop before the stream is complete."""

from __future__ import annotations

import math
import signal
import time

import pytest

from tests.helpers import (
    base_config,
    record_message,
    schema_message,
    start_target,
    state_message,
    stream_of,
    to_lines,
)

LIST = 7


def seed(emu, count: int, *, list_id: int | None = LIST, start: int = 0) -> list[int]:
    """``count`` prospects; members of ``list_id`` unless it is None."""
    ids = [emu.add_prospect(email=f"m{start + i}@example.com") for i in range(count)]
    if list_id is not None:
        for pid in ids:
            emu.add_membership(list_id, pid)
    return ids


def members(emu, list_id: int = LIST) -> set[int]:
    return {m["prospect_id"] for m in emu.memberships() if m["list_id"] == list_id}


def pardot_calls(emu) -> dict[str, int]:
    return {k: v for k, v in emu.counters()["calls_by_endpoint"].items() if k != "oauth/token"}


def mirror_stream(prospects, list_id: int = LIST, *, final_state=None):
    return stream_of("list_memberships", [{"list_id": list_id, "prospect_id": p}
                                          for p in prospects], final_state=final_state)


def mirror_config(emu, **overrides):
    return base_config(emu, list_membership_operation="mirror", parallel_tasks=5, **overrides)


def test_list_holds_exactly_the_stream_with_few_calls(emu, run):
    current = seed(emu, 3000)
    newcomers = seed(emu, 400, list_id=None, start=3000)
    named = current[:2600] + newcomers
    result = run(mirror_config(emu), mirror_stream(named, final_state={"done": 1}))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu) == set(named)
    assert not any(m["opted_out"] for m in emu.memberships())
    calls = pardot_calls(emu)
    reads = calls["v5/list-memberships/query"]
    # 3,000 members in pages of 1,000: three pages, and one more that finds nothing
    # after the last full page (the reader cannot tell a full last page from a cut one).
    assert reads <= 4
    retries = result.summary["retries"]
    assert calls.pop("v5/lists/read") == 1  # the list, checked not dynamic before writing
    assert sum(calls.values()) <= reads + math.ceil(400 / 50) + math.ceil(400 / 50) + retries
    assert calls["prospect/batchUpdate"] == 16
    assert result.summary["mirror_lists"] == {
        str(LIST): {"size_before": 3000, "added": 400, "removed": 400, "unchanged": 2600}
    }
    assert result.states == [{"done": 1}]


def test_guard_stops_removals_but_not_additions(emu, run):
    current = seed(emu, 3000)
    newcomers = seed(emu, 4, list_id=None, start=3000)
    named = current[:6] + newcomers  # 10 rows for a list of 3,000
    result = run(mirror_config(emu), mirror_stream(named, final_state={"done": 1}))
    assert result.exit_code == 1
    assert members(emu) == set(current) | set(newcomers)
    errors = [r for r in result.stderr.splitlines() if "mirror_max_removal_percent" in r]
    assert errors, result.stderr[-2000:]
    assert f"list {LIST}" in errors[-1] and "2994 of its 3000" in errors[-1]
    assert result.states == []  # the stream was not mirrored: STATE must not cover it
    assert result.summary["mirror_lists"][str(LIST)]["removed"] == 0
    assert result.summary["mirror_lists"][str(LIST)]["added"] == 4


def test_guard_allows_removals_within_the_setting(emu, run):
    current = seed(emu, 100)
    result = run(mirror_config(emu, mirror_max_removal_percent=50), mirror_stream(current[:60]))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu) == set(current[:60])


def test_unknown_prospects_are_rejected_and_remove_nothing(emu, run):
    current = seed(emu, 20)
    messages = mirror_stream([*current, 999_999])
    result = run(mirror_config(emu, skip_invalid_records=True), messages)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu) == set(current)
    assert result.summary["rejected_by_reason"] == {"pardot_rejected": 1}


def test_unknown_prospect_stops_the_run_before_any_removal(emu, run):
    current = seed(emu, 20)
    result = run(mirror_config(emu), mirror_stream([*current[:19], 999_999]))
    assert result.exit_code == 1
    assert members(emu) == set(current)  # current[19] was not removed


def test_several_lists_and_a_prospect_in_both(emu, run):
    a = seed(emu, 10, list_id=1)
    b = seed(emu, 10, list_id=2, start=10)
    rows = [{"list_id": 1, "prospect_id": p} for p in a[:9] + b[:1]]
    rows += [{"list_id": 2, "prospect_id": p} for p in b[1:] + a[:1]]
    result = run(mirror_config(emu), stream_of("list_memberships", rows))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu, 1) == set(a[:9] + b[:1])
    assert members(emu, 2) == set(b[1:] + a[:1])


def test_activate_version_mirrors_at_once_and_releases_state(emu, run):
    current = seed(emu, 10)
    messages = [
        schema_message("list_memberships"),
        *[record_message("list_memberships", {"list_id": LIST, "prospect_id": p})
          for p in current[:9]],
        {"type": "ACTIVATE_VERSION", "stream": "list_memberships", "version": 1},
        state_message({"after": "activate"}),
    ]
    result = run(mirror_config(emu), messages)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu) == set(current[:9])
    assert result.states == [{"after": "activate"}]


def test_state_before_the_end_waits_for_the_removals(emu, run):
    current = seed(emu, 10)
    messages = [schema_message("list_memberships")]
    messages += [record_message("list_memberships", {"list_id": LIST, "prospect_id": p})
                 for p in current[:5]]
    messages.append(state_message({"half": 1}))
    messages += [record_message("list_memberships", {"list_id": LIST, "prospect_id": p})
                 for p in current[5:9]]
    messages.append(state_message({"whole": 1}))
    result = run(mirror_config(emu), messages)
    assert result.exit_code == 0
    assert result.states == [{"whole": 1}]
    assert members(emu) == set(current[:9])


def test_dry_run_reports_each_list_and_changes_nothing(emu, run):
    current = seed(emu, 100)
    newcomers = seed(emu, 5, list_id=None, start=100)
    result = run(mirror_config(emu, dry_run=True), mirror_stream(current[:90] + newcomers))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu) == set(current)
    assert (f"Dry run, mirror of list {LIST}: 100 members now; would add 5, remove 10, "
            "keep 90; within the guard (10.0% <= 20%).") in result.stderr
    assert set(pardot_calls(emu)) == {"v5/lists/read", "v5/list-memberships/query"}  # reads


def test_dry_run_says_the_guard_would_stop(emu, run):
    current = seed(emu, 100)
    result = run(mirror_config(emu, dry_run=True), mirror_stream(current[:10]))
    assert result.exit_code == 1
    assert "the guard would stop the removals (90.0% > 20%)" in result.stderr
    assert members(emu) == set(current)


def test_reads_past_the_token_limit_by_id(emu, run):
    current = seed(emu, 2500)
    emu.configure(page_token_max_records=1000)
    result = run(mirror_config(emu), mirror_stream(current[:2400]))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu) == set(current[:2400])  # the 100 removed were read past the limit


def test_an_expired_token_goes_on_by_id(emu, run):
    current = seed(emu, 2500)
    emu.configure(page_token_ttl_seconds=0)
    result = run(mirror_config(emu), mirror_stream(current[:2400]))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu) == set(current[:2400])


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_run_killed_before_the_end_of_input_changes_nothing(emu, tmp_path, how):
    current = seed(emu, 3000)
    process = start_target(mirror_config(emu), tmp_path)
    assert process.stdin is not None
    # 10 rows of a list of 3,000, then a STATE; the input is never closed.
    head = mirror_stream(current[:10], final_state={"partial": 1})
    process.stdin.write(to_lines(head).encode())
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while emu.counters()["calls_by_endpoint"].get("oauth/token", 0) == 0:
        assert time.monotonic() < deadline, "the target never started"
        time.sleep(0.05)
    time.sleep(0.5)  # let it read the rows
    process.send_signal(how)
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode != 0
    assert stdout.strip() == b""  # no STATE: nothing of the stream was mirrored
    assert members(emu) == set(current)
    assert pardot_calls(emu) == {}


def test_an_invalid_row_that_stops_the_run_changes_nothing(emu, run):
    current = seed(emu, 20)
    newcomer = seed(emu, 1, list_id=None, start=20)
    rows = [{"list_id": LIST, "prospect_id": p} for p in current[:5] + newcomer]
    rows.append({"list_id": LIST, "prospect_id": "not a number"})
    result = run(mirror_config(emu), stream_of("list_memberships", rows))
    assert result.exit_code == 1
    assert members(emu) == set(current)
    assert pardot_calls(emu) == {}


def test_the_daily_limit_during_the_reads_changes_nothing(emu, run):
    current = seed(emu, 2500)
    emu.configure(daily_limit=2)
    result = run(mirror_config(emu), mirror_stream(current[:2400], final_state={"s": 1}))
    assert result.exit_code == 3
    assert members(emu) == set(current)
    assert result.states == []


def test_mirror_on_a_v3_account(emu, run):
    emu.configure(ampsea=False)  # such an account takes v3 calls only (errors 89 on v4)
    current = seed(emu, 120)
    newcomers = seed(emu, 30, list_id=None, start=120)
    named = current[:100] + newcomers
    result = run(mirror_config(emu), mirror_stream(named))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu) == set(named)
    assert result.summary["api_version"] == "v3"
    assert result.summary["mirror_lists"][str(LIST)] == {
        "size_before": 120, "added": 30, "removed": 20, "unchanged": 100}
