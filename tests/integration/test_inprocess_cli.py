"""The command line run in this process (``run_cli_inprocess``) tells what a real process
tells: the same exit code, the same STATE on stdout, the same warning and error lines,
a traceback when an exception escapes; and it leaves nothing of its run behind."""

from __future__ import annotations

import logging
import re
import signal

import pytest

from target_pardot.target import TargetPardot
from tests.helpers import (
    base_config,
    record_message,
    run_cli,
    run_cli_inprocess,
    schema_message,
    state_message,
    stream_of,
)

DEBUG = {"TARGET_PARDOT_LOGLEVEL": "DEBUG"}
#: "2026-01-01 10:00:00,123 | ERROR    | target-pardot | text": the level and the text.
LOG_LINE = re.compile(r"^\S+ \S+ \| (WARNING|ERROR|CRITICAL) +\| \S+ +\| (.*)$")


def people(n: int) -> list[dict]:
    return [{"email": f"same{i}@example.com"} for i in range(n)]


def alarms(stderr: str) -> list[tuple[str, str]]:
    """Warning and error lines without their timestamps, numbers blanked (run times)."""
    found = []
    for line in stderr.splitlines():
        match = LOG_LINE.match(line)
        if match:
            text = re.sub(r"/\S*/run_cli(_inprocess)?/", "/RUN/", match.group(2))
            found.append((match.group(1), re.sub(r"\d+(\.\d+)?", "N", text)))
    return found


SCENARIOS = {
    "success": ({}, stream_of("prospects", people(3), final_state={"s": 1})),
    "rejected row": ({}, [schema_message("prospects"), *[
        record_message("prospects", r) for r in people(2)], state_message({"s": 2}),
        record_message("prospects", {"first_name": "no key"})]),
    "wrong setting": ({"parallel_tasks": "abc"}, ""),
    "bad line": ({}, [schema_message("prospects"), "{not json"]),
    "daily limit": ({"daily_limit": 0}, stream_of("prospects", people(3))),
}  # fmt: skip


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_same_exit_code_state_and_alarms_as_a_real_process(emu, tmp_path, scenario):
    overrides, messages = SCENARIOS[scenario]
    emulator_settings = {k: v for k, v in overrides.items() if k == "daily_limit"}
    config = base_config(emu, **{k: v for k, v in overrides.items() if k != "daily_limit"})
    outcomes = []
    for run in (run_cli, run_cli_inprocess):
        emu.reset()
        emu.configure(**emulator_settings)
        # Each run starts with no ledger, as a first run does: the second would otherwise
        # see the first run's ledger and identity map, and alarm differently.
        cache = {"XDG_CACHE_HOME": str(tmp_path / run.__name__ / "cache")}
        outcomes.append(run(config, messages, tmp_path, env={**DEBUG, **cache}))
    real, here = outcomes
    assert here.exit_code == real.exit_code
    assert here.stdout == real.stdout
    assert alarms(here.stderr) == alarms(real.stderr)
    assert ("| DEBUG" in here.stderr) == ("| DEBUG" in real.stderr)
    if scenario == "success":
        assert "| DEBUG" in here.stderr, "TARGET_PARDOT_LOGLEVEL must reach the run"
        assert here.states == [{"s": 1}]
    else:
        assert alarms(real.stderr), "the scenario must have something to compare"


def test_an_escaping_exception_is_a_traceback_and_exit_1(emu, tmp_path, monkeypatch):
    def crash(self, file_input=None):
        raise RuntimeError("a bug")

    monkeypatch.setattr(TargetPardot, "run", crash)
    result = run_cli_inprocess(base_config(emu), "", tmp_path)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: a bug" in result.stderr


def test_nothing_of_the_run_stays_in_this_process(emu, tmp_path):
    handlers = list(logging.getLogger().handlers)
    level = logging.getLogger().level
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    result = run_cli_inprocess(base_config(emu), stream_of("prospects", people(1)), tmp_path,
                               env=DEBUG)  # fmt: skip
    assert result.exit_code == 0, result.stderr[-2000:]
    assert logging.getLogger().handlers == handlers
    assert logging.getLogger().level == level
    assert {s: signal.getsignal(s) for s in before} == before
