"""Short-lived tokens and calls that outlive their timeout, through the real command."""

from __future__ import annotations

import pytest

from tests.helpers import (
    base_config,
    record_message,
    run_cli_inprocess,
    schema_message,
    state_message,
)

pytestmark = pytest.mark.slow


def _keyed_rows(emu, n: int) -> list[dict]:
    return [
        record_message("prospects", {"id": emu.add_prospect(email=f"t{i}@x.com"), "city": "new"})
        for i in range(n)
    ]


@pytest.mark.parametrize("lifetime_calls", [1, 2])
def test_tokens_that_live_one_or_two_calls_never_end_the_run(emu, tmp_path, lifetime_calls):
    """Five threads share tokens that Pardot accepts for one or two calls: a thread that
    refreshed replays first, and running out of refreshes is not a credentials error."""
    emu.configure(token_lifetime_calls=lifetime_calls, latency_ms=30)
    rows = _keyed_rows(emu, 1500)
    config = base_config(emu, parallel_tasks=5)
    messages = [schema_message("prospects"), *rows, state_message({"s": 1})]
    result = run_cli_inprocess(config, messages, tmp_path)
    assert result.exit_code == 0, result.stderr[-3000:]
    assert result.states == [{"s": 1}]
    assert all(p["city"] == "new" for p in emu.prospects())
    assert "pardot_api" not in result.stderr


def test_a_call_that_timed_out_keeps_its_slot_for_the_grace(emu, tmp_path):
    """A read timeout leaves the call running at Pardot: its slot stays taken, so Pardot
    never sees more than five calls from us (it would answer error 66)."""
    emu.configure(fault_rate=0.15, fault_kinds=["slow"], slow_ms=700, seed=7, latency_ms=50)
    rows = _keyed_rows(emu, 1500)
    config = base_config(emu, parallel_tasks=5, maximum_connection_timeout=0.4,
                         maximum_retries=20)  # fmt: skip
    messages = [schema_message("prospects"), *rows, state_message({"s": 1})]
    result = run_cli_inprocess(config, messages, tmp_path)
    assert result.exit_code == 0, result.stderr[-3000:]
    counters = emu.counters()
    assert counters["faults_injected"].get("slow", 0) > 0, counters
    assert counters["max_in_flight"] <= 5, counters
    assert "code_66" not in result.summary["retries_by_reason"], result.summary
    assert all(p["city"] == "new" for p in emu.prospects())
