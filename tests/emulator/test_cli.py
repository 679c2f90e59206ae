"""The ``pardot-emulator`` command."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from pardot_emulator.config import SPECS, SettingError

MODULE_CMD = [sys.executable, "-m", "pardot_emulator.cli"]
EVERY_FLAG = [
    "--port", "--client-id", "--client-secret", "--refresh-token", "--business-unit", "--lists",
    "--ampsea", "--no-ampsea", "--concurrency-limit", "--reserved-slots", "--daily-limit",
    "--rate-limit-status", "--auth-error-status", "--auth-error-xml", "--v4-error-status",
    "--uri-limit", "--max-body-bytes", "--latency-ms", "--latency-jitter-ms",
    "--token-lifetime-calls", "--token-lifetime-seconds", "--token-fault-rate",
    "--token-race-errors", "--fault-rate", "--fault-kinds", "--slow-ms",
    "--applied-but-lost-rate", "--import-processing-polls", "--import-daily-batch-limit",
    "--seed", "--verbose",
]


@contextmanager
def running(*args: str, cmd: list[str] | None = None
            ) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen([*(cmd or MODULE_CMD), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_first_stdout_line_is_the_base_url_and_it_serves(tmp_path: Path) -> None:
    with running() as (url, proc):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        r = requests.post(f"{url}/services/oauth2/token", data={
            "grant_type": "refresh_token", "client_id": "emulator-client-id",
            "client_secret": "emulator-client-secret",
            "refresh_token": "emulator-refresh-token"}, timeout=5)
        assert r.status_code == 200
        assert r.json()["instance_url"] == url
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out == ""  # nothing but the URL on stdout
    assert "listening on" in err


def test_sigint_stops_it_too() -> None:
    with running() as (url, proc):
        assert requests.get(f"{url}/_emulator/health", timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_flags_become_settings() -> None:
    with running("--lists", "1-3,2000", "--no-ampsea", "--concurrency-limit", "2",
                 "--fault-kinds", "drop,slow", "--daily-limit", "10",
                 "--client-id", "cid") as (url, _):
        config = requests.get(f"{url}/_emulator/state", timeout=5).json()["config"]
    assert config["lists"] == "1-3,2000"
    assert config["ampsea"] is False
    assert config["concurrency_limit"] == 2
    assert config["fault_kinds"] == ["drop", "slow"]
    assert config["daily_limit"] == 10
    assert config["client_id"] == "cid"


def test_bad_flag_value_fails_with_a_message() -> None:
    proc = subprocess.run([*MODULE_CMD, "--port", "0", "--fault-rate", "7"],
                          check=False, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "fault_rate" in proc.stderr


def test_help_documents_every_flag() -> None:
    proc = subprocess.run([*MODULE_CMD, "--help"], check=False, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0
    for flag in EVERY_FLAG:
        assert flag in proc.stdout, flag
    assert "default: 5" in proc.stdout  # defaults are shown


def test_verbose_logs_requests_to_stderr() -> None:
    with running("--verbose") as (url, proc):
        requests.get(f"{url}/_emulator/health", timeout=5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert "GET /_emulator/health" in err
    assert out == ""


def test_config_endpoint_on_the_process() -> None:
    with running() as (url, _):
        r = requests.post(f"{url}/_emulator/config", data=json.dumps({"latency_ms": 5}),
                          timeout=5)
        assert r.json()["latency_ms"] == 5


def test_console_script() -> None:
    script = shutil.which("pardot-emulator") or str(Path(sys.executable).with_name(
        "pardot-emulator"))
    # make test installs the package, so the console script must exist.
    assert Path(script).exists(), "pardot-emulator is not installed: run pip install -e ."
    with running(cmd=[script]) as (url, _):
        assert requests.get(f"{url}/_emulator/health", timeout=5).json() == {"ok": True}


def test_help_lists_the_values_a_choice_setting_accepts():
    text = " ".join(subprocess.run([*MODULE_CMD, "--help"], capture_output=True, text=True,
                                   check=True).stdout.split())  # fmt: skip
    assert "One of: approve, deny." in text
    assert "One of: used/max, raw, off." in text
    # Every value the help names is one the emulator accepts.
    for spec in SPECS:
        for value in getattr(spec.coerce, "allowed", ()):
            assert spec.coerce(value) == value
        if getattr(spec.coerce, "allowed", None):
            try:
                spec.coerce("not-a-value")
            except SettingError:
                continue
            raise AssertionError(f"{spec.name} accepted a value its help does not list")
