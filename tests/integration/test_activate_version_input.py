"""ACTIVATE_VERSION messages that name no known stream are bad lines like any other: a
reported line with skip_invalid_records, otherwise one line and exit code 1 after the rows
before it are delivered. Never "Unexpected KeyError"."""

from __future__ import annotations

import pytest

from tests.helpers import (
    base_config,
    record_message,
    run_cli_inprocess,
    schema_message,
    state_message,
)


def activate(stream: str | None, *, version: bool = True) -> dict:
    message: dict = {"type": "ACTIVATE_VERSION"}
    if version:
        message["version"] = 1
    if stream is not None:
        message["stream"] = stream
    return message


def messages(bad: dict) -> list[dict]:
    return [
        schema_message("prospects"),
        record_message("prospects", {"email": "before@example.com"}),
        state_message({"at": "before"}),
        bad,  # line 4
        record_message("prospects", {"email": "after@example.com"}),
        state_message({"at": "after"}),
    ]


BAD = [activate("leads"), activate(None), activate("prospects", version=False)]
IDS = ["no SCHEMA for its stream", "no stream", "no version"]


@pytest.mark.parametrize("bad", BAD, ids=IDS)
def test_stops_the_run_in_one_line_after_the_rows_before_it(emu, tmp_path, bad):
    result = run_cli_inprocess(base_config(emu), messages(bad), tmp_path)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr and "Unexpected" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr[-3000:]
    assert "line 4" in errors[0] and "ACTIVATE_VERSION" in errors[0]
    assert [p["email"] for p in emu.prospects()] == ["before@example.com"]
    assert result.states == [{"at": "before"}]


@pytest.mark.parametrize("bad", BAD, ids=IDS)
def test_with_skip_invalid_records_it_is_a_reported_line(emu, tmp_path, bad):
    result = run_cli_inprocess(base_config(emu, skip_invalid_records=True), messages(bad), tmp_path)
    assert result.exit_code == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Unexpected" not in result.stderr
    assert result.summary["rejected_by_reason"] == {"invalid_line": 1}
    assert "line 4 of the input" in result.stderr
    assert sorted(p["email"] for p in emu.prospects()) == ["after@example.com",
                                                           "before@example.com"]
    assert result.states[-1] == {"at": "after"}
