"""Real processes, really killed: STATE never runs ahead of delivery, and a re-run finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import (
    BIN,
    assert_no_secrets,
    base_config,
    parse_states,
    record_message,
    run_cli,
    schema_message,
    state_message,
    to_lines,
)

pytestmark = pytest.mark.slow

ROWS = 3000
EVERY = 100


def stream_text(records: list[dict], start: int = 0) -> str:
    messages = [schema_message("prospects")]
    for offset, record in enumerate(records, start=start + 1):
        messages.append(record_message("prospects", record))
        if offset % EVERY == 0:
            messages.append(state_message({"upto": offset}))
    return to_lines(messages)


def seeded(emu) -> list[dict]:
    return [
        {"id": emu.add_prospect(email=f"k{i}@example.com", company="old"), "company": "new"}
        for i in range(ROWS)
    ]


def start_target(config: dict, text: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    input_path = tmp_path / "input.singer"
    input_path.write_text(text)
    # stderr goes to a file: a pipe nobody reads would fill up and block the target.
    with input_path.open("rb") as stdin, (tmp_path / "stderr.log").open("wb") as stderr:
        return subprocess.Popen(
            [str(BIN / "target-pardot"), "--config", str(config_path)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "TARGET_PARDOT_LOGLEVEL": "DEBUG"},
        )


def read_states_until(process: subprocess.Popen[bytes], count: int) -> list[dict]:
    assert process.stdout is not None
    states = []
    while len(states) < count:
        line = process.stdout.readline()
        if not line:
            break
        states.append(json.loads(line))
    return states


def assert_state_is_true(emu, records: list[dict], upto: int) -> None:
    companies = {p["id"]: p["company"] for p in emu.prospects()}
    assert all(companies[r["id"]] == "new" for r in records[:upto]), "STATE ran ahead"


def resume_and_check(emu, config: dict, records: list[dict], upto: int, tmp_path: Path) -> None:
    result = run_cli(config, stream_text(records[upto:], start=upto), tmp_path)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert result.states[-1] == {"upto": ROWS}
    prospects = emu.prospects()
    assert len(prospects) == ROWS
    assert all(p["company"] == "new" for p in prospects)


def test_sigkill_never_leaves_state_ahead_of_delivery(emu, tmp_path):
    emu.configure(latency_ms=60)
    records = seeded(emu)
    config = base_config(emu, parallel_tasks=2)
    process = start_target(config, stream_text(records), tmp_path)
    try:
        seen = read_states_until(process, 3)
        process.kill()
        process.wait(timeout=30)
        assert process.stdout is not None
        seen += parse_states(process.stdout.read().decode())
    finally:
        if process.poll() is None:
            process.kill()
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
    process = start_target(config, stream_text(records), tmp_path)
    try:
        seen = read_states_until(process, 1)
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
    assert_no_secrets(run_cli(config, "", tmp_path), config, emu)
