"""Hostile configs, files, pipes and signals: one line, the exit code of the README's
table, no traceback, no secret, and never a false success. Real processes where the
process is the subject (the environment, permissions and umask, pipes, signals); the
command line in this process for config files and settings."""

from __future__ import annotations

import json
import os
import selectors
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import (
    BIN,
    base_config,
    record_message,
    run_cli,
    run_cli_inprocess,
    schema_message,
    start_target,
    state_message,
    to_lines,
)

DEBUG = {"TARGET_PARDOT_LOGLEVEL": "DEBUG"}
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


def assert_one_line_failure(result, exit_code: int, text: str) -> None:
    assert result.exit_code == exit_code, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, errors
    assert text in errors[0], errors


def _rows(n: int, start: int = 0) -> list[dict]:
    return [record_message("prospects", {"email": f"r{i}@x.com"}) for i in range(start, start + n)]


# -- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"parallel_tasks": "abc"}, "Setting 'parallel_tasks' must be a whole number"),
        ({"skip_invalid_records": "sometimes"}, "Setting 'skip_invalid_records'"),
        ({"maximum_retries": 2.5}, "Setting 'maximum_retries' must be a whole number"),
        ({"stream_maps": 5}, "Setting 'stream_maps' must be an object"),
        ({"client_id": ["a"]}, "Setting 'client_id' must be a string"),
        ({"data_object": "opportunities"}, "data_object"),
    ],
)
def test_a_wrong_setting_is_exit_2_and_one_line(emu, tmp_path, overrides, text):
    result = run_cli_inprocess(base_config(emu, **overrides), "", tmp_path, env=DEBUG)
    assert_one_line_failure(result, 2, text)
    assert emu.counters()["calls_total"] == 0


@pytest.mark.parametrize(
    "content",
    [None, "directory", "{not json", "[1, 2]", "5", '"text"', "null", "\xff\xfe"],
)
def test_an_unusable_config_file_is_exit_2_and_one_line(tmp_path, content):
    path = tmp_path / "config.json"
    if content == "directory":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content.encode("latin-1"))
    result = run_cli_inprocess(path, "", tmp_path, env=DEBUG)
    assert_one_line_failure(result, 2, "config file")
    assert result.stdout == ""


def test_a_bad_stream_map_is_exit_2_after_the_rows_before_it(emu, tmp_path):
    config = base_config(emu, stream_maps={"leads": {"email": "email +* 1"}})
    messages = [
        schema_message("prospects"),
        *_rows(2),
        state_message({"upto": 2}),
        schema_message("leads"),
    ]
    result = run_cli_inprocess(config, messages, tmp_path, env=DEBUG)
    assert_one_line_failure(result, 2, "stream_maps")
    assert len(emu.prospects()) == 2
    assert result.states == [{"upto": 2}]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TARGET_PARDOT_PARALLEL_TASKS", "abc"), ("TARGET_PARDOT_MAX_API_CALLS", "1e3"),
     ("TARGET_PARDOT_STREAM_MAPS", "{not json")],
)  # fmt: skip
def test_a_bad_environment_value_is_exit_2_and_one_line(emu, tmp_path, variable, value):
    env = {
        "TARGET_PARDOT_CLIENT_ID": emu.client_id,
        "TARGET_PARDOT_CLIENT_SECRET": emu.client_secret,
        "TARGET_PARDOT_REFRESH_TOKEN": emu.refresh_token,
        "TARGET_PARDOT_BUSINESS_UNIT": emu.business_unit,
        variable: value,
        **DEBUG,
    }
    completed = subprocess.run(
        [str(BIN / "target-pardot"), "--config", "ENV"],
        input=b"", capture_output=True, env={**os.environ, **env}, timeout=120, check=False,
        cwd=tmp_path,
    )  # fmt: skip
    stderr = completed.stderr.decode()
    assert completed.returncode == 2, stderr[-3000:]
    assert "Traceback" not in stderr
    errors = error_lines(stderr)
    assert len(errors) == 1 and variable in errors[0], errors
    assert value not in errors[0]


@pytest.mark.parametrize(
    "secret",
    [987654321, 3.25, True, ["list-secret-zq"], {"k": "object-secret-zq"}, "Q#", "zq", "7"],
)
def test_no_secret_value_is_echoed_whatever_its_type_or_length(emu, tmp_path, secret):
    config = base_config(emu, client_secret=secret, refresh_token=secret)
    messages = to_lines([schema_message("prospects"), *_rows(1)])
    result = run_cli_inprocess(config, messages, tmp_path, env=DEBUG)
    assert result.exit_code == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    shown = json.dumps(secret).strip('"')
    for text in {str(secret), shown, repr(secret)}:
        for line in result.stderr.splitlines():
            # Timestamps and counts are digits too: look for the value as a whole word.
            words = line.replace(",", " ").replace("'", " ").replace('"', " ").split()
            assert text not in words and text not in line.split("|")[-1].split(), line


# -- files ----------------------------------------------------------------------------


def test_rejected_records_path_that_is_a_directory_fails_at_start(emu, tmp_path):
    config = base_config(emu, skip_invalid_records=True, rejected_records_path=str(tmp_path))
    result = run_cli_inprocess(config, [schema_message("prospects"), *_rows(3)], tmp_path)
    assert_one_line_failure(result, 2, "rejected_records_path")
    assert emu.counters()["calls_total"] == 0


def test_rejected_records_path_in_a_folder_that_cannot_exist_fails_at_start(emu, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = base_config(emu, skip_invalid_records=True,
                         rejected_records_path=str(blocker / "sub" / "rejected.jsonl"))  # fmt: skip
    result = run_cli_inprocess(config, [schema_message("prospects"), *_rows(3)], tmp_path)
    assert_one_line_failure(result, 2, "rejected_records_path")


@pytest.mark.skipif(IS_ROOT, reason="root may write into a read-only folder")
def test_rejected_records_path_in_a_read_only_folder_fails_at_start(emu, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    config = base_config(emu, skip_invalid_records=True,
                         rejected_records_path=str(folder / "rejected.jsonl"))  # fmt: skip
    result = run_cli(config, [schema_message("prospects"), *_rows(3)], tmp_path)
    assert_one_line_failure(result, 2, "rejected_records_path")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_rejected_file_that_fails_mid_run_stops_with_a_true_state(emu, tmp_path):
    config = base_config(emu, skip_invalid_records=True, rejected_records_path="/dev/full")
    messages = [
        schema_message("prospects"),
        *_rows(3),
        state_message({"upto": 3}),
        record_message("prospects", {"first_name": "no key"}),
        *_rows(3, start=3),
        state_message({"upto": 7}),
    ]
    result = run_cli(config, messages, tmp_path)
    assert_one_line_failure(result, 1, "rejected_records_path")
    assert result.states in ([], [{"upto": 3}])
    assert result.summary["outcome"] == "failed"


def test_rejected_file_and_ledger_are_private(emu, tmp_path):
    rejected = tmp_path / "out" / "rejected.jsonl"
    ledger = tmp_path / "ledger.sqlite3"
    config = base_config(emu, skip_invalid_records=True, rejected_records_path=str(rejected),
                         skip_unchanged=True, ledger_path=str(ledger))  # fmt: skip
    messages = [schema_message("prospects"), *_rows(2), record_message("prospects", {})]
    old = os.umask(0o022)
    try:
        result = run_cli(config, messages, tmp_path)
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr[-3000:]
    for path in [rejected, ledger, *tmp_path.glob("ledger.sqlite3-*")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# -- pipes and signals ------------------------------------------------------------------


def test_closed_stdout_fails_the_run_with_one_line(emu, tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the downstream (`| head`) is gone before the first STATE
    try:
        process = start_target(base_config(emu), tmp_path, stdout=write_end)
    finally:
        os.close(write_end)
    messages = [schema_message("prospects"), *_rows(3), state_message({"upto": 3})]
    process.communicate(to_lines(messages).encode(), timeout=120)
    stderr = (tmp_path / "stderr.log").read_text()
    assert process.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    errors = error_lines(stderr)
    assert len(errors) == 1, errors
    assert "stdout closed: the downstream stopped reading STATE" in errors[0]
    summary = json.loads(stderr[stderr.index("run summary: {") + 13 :].splitlines()[0])
    assert summary["outcome"] == "failed"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_target_while_stdout_is_blocked(emu, tmp_path, signum):
    # Each STATE is 20 kB: a few of them fill the pipe, which nobody reads.
    messages = [schema_message("prospects")]
    for i in range(40):
        messages += _rows(5, start=i * 5)
        messages.append(state_message({"upto": i, "padding": "p" * 20_000}))
    # A short batch wait: the first drains (and the STATEs that fill the pipe) come
    # after a second instead of the default 30 s.
    config = base_config(emu, batch_wait_limit_seconds=1)
    process = start_target(config, tmp_path, stdout=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(to_lines(messages).encode())
    process.stdin.flush()
    try:
        deadline = time.monotonic() + 60
        while emu.counters()["calls_total"] < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # the pipe is full and the target blocked on its next STATE
        assert process.poll() is None, "the target should be blocked on stdout"
        sent_at = time.monotonic()
        process.send_signal(signum)
        process.wait(timeout=30)
        took = time.monotonic() - sent_at
    finally:
        if process.poll() is None:
            process.kill()
    # The README promises an exit within 7 s of the signal; the slack is for a loaded host.
    assert took < 9, f"took {took:.1f}s"
    assert process.returncode == 128 + signum


def _read_state_line(process: subprocess.Popen[bytes], timeout: float) -> tuple[dict, float]:
    """The next STATE line on stdout, and how long it took, while stdin stays open."""
    assert process.stdout is not None
    started = time.monotonic()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout), f"no STATE within {timeout} s"
    return json.loads(process.stdout.readline()), time.monotonic() - started


@pytest.mark.slow
def test_a_trickle_tap_sees_rows_sent_and_state_written_as_it_goes(emu, tmp_path):
    config = base_config(emu, batch_wait_limit_seconds=1)
    process = start_target(config, tmp_path, stdout=subprocess.PIPE)
    assert process.stdin is not None
    try:
        process.stdin.write(to_lines([schema_message("prospects")]).encode())
        for i in range(3):
            # One row and its STATE, then silence: the tap is still running.
            lines = [*_rows(1, start=i), state_message({"upto": i})]
            process.stdin.write(to_lines(lines).encode())
            process.stdin.flush()
            state, took = _read_state_line(process, timeout=30)
            assert state == {"upto": i}
            assert len(emu.prospects()) == i + 1
            assert took < 15, f"waited {took:.1f}s for the STATE"
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
