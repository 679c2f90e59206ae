"""Bad input: one clear line, the right exit code, and the rows before the fault delivered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import (
    assert_no_secrets,
    base_config,
    record_message,
    run_cli_inprocess,
    schema_message,
    state_message,
    to_lines,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "bad_input"
DEBUG = {"TARGET_PARDOT_LOGLEVEL": "DEBUG"}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR " in line or "ERROR" in line[:40]]


def assert_clean_failure(stderr: str, text: str) -> None:
    assert "Traceback" not in stderr
    matches = [line for line in stderr.splitlines() if text in line]
    assert matches, f"{text!r} not in:\n{stderr[-3000:]}"


@pytest.mark.parametrize(
    ("name", "exit_code", "message", "delivered", "states"),
    [
        (
            "malformed_json_mid_stream",
            1,
            "at line 6: not valid JSON",
            ["a1", "a2", "a3"],
            [{"upto": 3}],
        ),
        ("record_before_schema", 1, "Invalid input at line 2", [], [{"upto": 0}]),
        (
            "schema_without_properties",
            1,
            "SCHEMA of stream 'leads' has no 'properties'",
            ["c1"],
            [{"upto": 1}],
        ),
        ("not_utf8", 1, "at line 4: not valid UTF-8", ["d1"], [{"upto": 1}]),
        ("empty", 0, None, [], []),
        ("only_state", 0, None, [], [{"upto": 3}]),
        (
            "unknown_message_type",
            1,
            "at line 4: unknown message type 'ACTIVATE'",
            ["e1"],
            [{"upto": 1}],
        ),
        ("not_an_object", 1, "at line 4: not a JSON object", ["f1"], [{"upto": 1}]),
    ],
)
def test_bad_stream(emu, tmp_path, name, exit_code, message, delivered, states):
    config = base_config(emu)
    result = run_cli_inprocess(config, (DATA / f"{name}.singer").read_bytes(), tmp_path, env=DEBUG)
    assert result.exit_code == exit_code, result.stderr[-3000:]
    if message:
        assert_clean_failure(result.stderr, message)
    assert sorted(p["first_name"] for p in emu.prospects()) == delivered
    assert result.states == states
    assert "run summary:" in result.stderr
    assert_no_secrets(result, config, emu)


@pytest.mark.parametrize("skip", [False, True])
def test_a_five_megabyte_line(emu, tmp_path, skip):
    rejected = tmp_path / "rejected.jsonl"
    # One batch for the rows around the huge one, so the STATEs written are known exactly.
    config = base_config(emu, skip_invalid_records=skip, rejected_records_path=str(rejected),
                         upsert_by_email=False)  # fmt: skip
    huge = {"email": "huge@example.com", "comments": "h" * 5_000_000}
    text = to_lines(
        [
            schema_message("prospects"),
            record_message("prospects", {"email": "before@example.com", "first_name": "before"}),
            state_message({"upto": 1}),
            record_message("prospects", huge),
            record_message("prospects", {"email": "after@example.com", "first_name": "after"}),
            state_message({"upto": 3}),
        ]
    )
    assert max(len(line) for line in text.splitlines()) > 5_000_000
    result = run_cli_inprocess(config, text, tmp_path, env=DEBUG)
    if skip:
        assert result.exit_code == 0
        assert sorted(p["first_name"] for p in emu.prospects()) == ["after", "before"]
        assert result.states == [{"upto": 3}]
        [line] = rejected.read_text().splitlines()
        assert json.loads(line)["code"] == "row_too_long"
    else:
        assert result.exit_code == 1
        assert_clean_failure(result.stderr, "row 2 of stream 'prospects' (email=huge@example.com)")
        assert [p["first_name"] for p in emu.prospects()] == ["before"]
        assert result.states == [{"upto": 1}]
    assert len(result.stderr) < 100_000, "the huge row must not be copied into the log"
    assert_no_secrets(result, config, emu, rejected)


@pytest.mark.parametrize(
    ("make_config", "message"),
    [
        (lambda tmp: tmp / "missing.json", "Could not read the config file"),
        (lambda tmp: tmp, "Could not read the config file"),  # a directory: unreadable
        (lambda tmp: _write(tmp / "broken.json", "{not json"), "Could not read the config file"),
        (lambda tmp: _write(tmp / "typed.json", json.dumps({"client_id": 5})), "client_id"),
    ],
)
def test_unusable_config_files(tmp_path, make_config, message):
    result = run_cli_inprocess(make_config(tmp_path), "", tmp_path, env=DEBUG)
    assert result.exit_code in (1, 2)
    assert_clean_failure(result.stderr, message)
    assert result.stdout == ""


def test_unknown_data_object(emu, tmp_path):
    config = base_config(emu, data_object="opportunities")
    result = run_cli_inprocess(config, "", tmp_path, env=DEBUG)
    assert result.exit_code != 0
    assert_clean_failure(result.stderr, "data_object")
    assert emu.counters()["calls_total"] == 0
    assert_no_secrets(result, config, emu)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
