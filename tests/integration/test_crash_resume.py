"""Real processes, really killed: STATE never runs ahead of delivery, and a re-run finishes."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.helpers import (
    assert_no_secrets,
    base_config,
    kill_after_states,
    parse_states,
    read_states,
    run_cli_inprocess,
    start_target,
    stream_with_states,
)

pytestmark = pytest.mark.slow

ROWS = 3000
EVERY = 100
DEBUG = {"TARGET_PARDOT_LOGLEVEL": "DEBUG"}


def seeded(emu) -> list[dict]:
    return [
        {"id": emu.add_prospect(email=f"k{i}@example.com", company="old"), "company": "new"}
        for i in range(ROWS)
    ]


def assert_state_is_true(emu, records: list[dict], upto: int) -> None:
    companies = {p["id"]: p["company"] for p in emu.prospects()}
    assert all(companies[r["id"]] == "new" for r in records[:upto]), "STATE ran ahead"


def resume_and_check(emu, config: dict, records: list[dict], upto: int, tmp_path: Path) -> None:
    """The re-run from the last STATE, in this process and without the latency that
    slowed the first run (the stop is the subject, not the re-run)."""
    emu.configure(latency_ms=0)
    messages = stream_with_states(records[upto:], EVERY, start=upto)
    result = run_cli_inprocess(config, messages, tmp_path)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert result.states[-1] == {"upto": ROWS}
    prospects = emu.prospects()
    assert len(prospects) == ROWS
    assert all(p["company"] == "new" for p in prospects)


def test_sigkill_never_leaves_state_ahead_of_delivery(emu, tmp_path):
    emu.configure(latency_ms=60)
    records = seeded(emu)
    config = base_config(emu, parallel_tasks=2)
    process = start_target(config, tmp_path, messages=stream_with_states(records, EVERY), env=DEBUG)
    seen = kill_after_states(process, 3)
    assert len(seen) >= 3
    upto = seen[-1]["upto"]
    assert upto < ROWS, "the run must have been killed before the end"
    assert_state_is_true(emu, records, upto)
    resume_and_check(emu, config, records, upto, tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_quickly_with_a_true_state(emu, tmp_path, signum):
    emu.configure(latency_ms=300)
    records = seeded(emu)
    config = base_config(emu, parallel_tasks=3)
    process = start_target(config, tmp_path, messages=stream_with_states(records, EVERY), env=DEBUG)
    try:
        seen = read_states(process, 1)
        sent_at = time.monotonic()
        process.send_signal(signum)
        stdout, _ = process.communicate(timeout=60)
        took = time.monotonic() - sent_at
    finally:
        if process.poll() is None:
            process.kill()
    seen += parse_states(stdout.decode())
    text = (tmp_path / "stderr.log").read_text()
    assert process.returncode == 128 + signum
    assert took < 20, f"took {took:.1f}s to stop"
    assert f"Interrupted by {signal.Signals(signum).name}" in text
    assert "Traceback" not in text
    assert "run summary:" in text
    upto = seen[-1]["upto"]
    assert upto < ROWS
    assert_state_is_true(emu, records, upto)
    for secret in [config["client_secret"], config["refresh_token"], *emu.issued_tokens()]:
        assert secret not in text and secret not in stdout.decode()
    resume_and_check(emu, config, records, upto, tmp_path)
    assert_no_secrets(run_cli_inprocess(config, "", tmp_path), config, emu)
