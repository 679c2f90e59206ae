"""The command line: exit codes, one-line errors, stdout discipline, and no leaked secret.
The first test and one secrets scenario run a real process (its own logging set-up, its
streams); the others run the same command in this process."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import (
    BIN,
    base_config,
    record_message,
    run_cli,
    run_cli_inprocess,
    schema_message,
    stream_of,
)

DEBUG = {"TARGET_PARDOT_LOGLEVEL": "DEBUG"}


def people(n: int) -> list[dict]:
    return [{"email": f"cli{i}@example.com", "first_name": "Cli"} for i in range(n)]


def assert_one_line_error(stderr: str, text: str) -> None:
    assert "Traceback" not in stderr
    matching = [line for line in stderr.splitlines() if text in line]
    assert matching, f"{text!r} not in stderr:\n{stderr[-2000:]}"


def test_success_writes_only_state_to_stdout(emu, tmp_path):
    messages = stream_of("prospects", people(5), final_state={"bookmark": 5})
    result = run_cli(base_config(emu), messages, tmp_path)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines() == ['{"bookmark": 5}']
    assert result.summary["rows_sent"] == 5
    assert "rows received" in result.stderr


def test_invalid_business_unit_fails_before_any_call(emu, tmp_path):
    result = run_cli_inprocess(
        base_config(emu, business_unit="0Uv123"), stream_of("prospects", people(1)), tmp_path
    )
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "business_unit")
    assert emu.counters()["calls_total"] == 0
    assert emu.counters()["calls_by_endpoint"] == {}


def test_missing_config_file(tmp_path):
    completed = subprocess.run(
        [str(BIN / "target-pardot"), "--config", str(tmp_path / "nope.json")],
        input=b"",
        capture_output=True,
        check=False,
        timeout=60,
    )
    stderr = completed.stderr.decode()
    assert completed.returncode == 2
    assert_one_line_error(stderr, "Could not read the config file")


def test_config_with_a_wrong_type(emu, tmp_path):
    result = run_cli_inprocess(
        base_config(emu, parallel_tasks="five"), stream_of("prospects", people(1)), tmp_path
    )
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr
    assert "parallel_tasks" in result.stderr or "'five'" in result.stderr


def test_plain_http_off_loopback_is_refused(emu, tmp_path):
    result = run_cli_inprocess(
        base_config(emu, login_url="http://login.example.com"),
        stream_of("prospects", people(1)),
        tmp_path,
    )
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "plain http")
    assert emu.counters()["calls_total"] == 0


def test_rejected_row_exit_code_and_message(emu, tmp_path):
    messages = [schema_message("prospects"), record_message("prospects", {"first_name": "x"})]
    result = run_cli_inprocess(base_config(emu), messages, tmp_path)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "row 1 of stream 'prospects'")
    assert result.stdout == ""


def test_daily_limit_exit_code(emu, tmp_path):
    emu.configure(daily_limit=0)
    result = run_cli_inprocess(
        base_config(emu), stream_of("prospects", people(3), final_state={"s": 1}), tmp_path
    )
    assert result.exit_code == 3
    assert_one_line_error(result.stderr, "daily API limit")
    assert result.stdout == ""


@pytest.mark.parametrize("scenario", ["success", "rejections", "bad_refresh_token", "expiring"])
def test_no_secret_ever_leaves_the_process(emu, tmp_path, scenario):
    rejected = tmp_path / "rejected.jsonl"
    config = base_config(
        emu,
        rejected_records_path=str(rejected),
        skip_invalid_records=True,
        upsert_by_email=True,
        parallel_tasks=3,
    )
    records = [*people(30), {"email": "bad address"}, {"first_name": "no key"}]
    if scenario == "bad_refresh_token":
        config["refresh_token"] = "a-revoked-refresh-token-value"
    if scenario == "expiring":
        emu.configure(token_lifetime_calls=5)
    # One scenario as a real process (its own logging set-up), the others in this one.
    run = run_cli if scenario == "expiring" else run_cli_inprocess
    result = run(config, stream_of("prospects", records), tmp_path, env=DEBUG)
    if scenario == "bad_refresh_token":
        assert result.exit_code == 2
    else:
        assert result.exit_code == 0, result.stderr[-2000:]
    assert "DEBUG" in result.stderr, "the scenario must run with debug logging"
    secrets = [config["client_secret"], config["refresh_token"], *emu.issued_tokens()]
    files = [rejected.read_text()] if rejected.exists() else []
    for secret in secrets:
        for text in [result.stdout, result.stderr, *files]:
            assert secret not in text
    if scenario != "bad_refresh_token":
        assert emu.issued_tokens(), "tokens were issued, so the check above means something"
    assert emu.counters()["token_in_url_violations"] == 0


def test_about_lists_every_setting():
    completed = subprocess.run(
        [str(BIN / "target-pardot"), "--about", "--format=json"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    about = json.loads(completed.stdout)
    settings = set(about["settings"]["properties"])
    for name in (
        "client_id",
        "client_secret",
        "refresh_token",
        "login_url",
        "pardot_domain",
        "business_unit",
        "data_object",
        "skip_invalid_records",
        "prospect_operation",
        "prospect_lists",
        "prospect_list_operation",
        "upsert_by_email",
        "parallel_tasks",
        "max_payload",
        "list_membership_operation",
        "maximum_retries",
        "initial_retry_wait",
        "maximum_retry_wait",
        "maximum_connection_timeout",
        "sandbox",
        "rejected_records_path",
        "dry_run",
        "search_deleted_prospects",
        "lowercase_emails",
    ):
        assert name in settings
    assert about["settings"]["properties"]["client_secret"].get("secret") is True
    assert about["settings"]["properties"]["refresh_token"].get("secret") is True
