"""The defaults a new user meets: a re-run never duplicates, a blank cell never erases, a
typo never passes in silence, and every run says plainly how it went."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import BIN, base_config, run_cli, run_cli_inprocess, stream_of, to_lines

SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "job_title": {"type": ["string", "null"]},
        "fax": {"type": ["string", "null"]},
        "zip": {"type": ["integer", "string", "null"]},
        "phone": {"type": ["number", "string", "null"]},
        "company": {},
    },
}


def people(count, **extra):
    return [{"email": f"p{i}@example.com", "first_name": f"P{i}", **extra}
            for i in range(count)]  # fmt: skip


def errors_and_warnings(result):
    return [line for line in result.stderr.splitlines()
            if line.startswith(("WARNING", "ERROR"))]  # fmt: skip


# -- a re-run never duplicates, a blank cell never erases ---------------------------


def test_loading_the_same_email_only_stream_twice_keeps_every_email_once(emu, run):
    config = base_config(emu, parallel_tasks=5)
    messages = stream_of("prospects", people(60), schema=SCHEMA)
    for _ in range(2):
        result = run(config, messages)
        assert result.exit_code == 0, result.stderr[-2000:]
    emails = [p["email"] for p in emu.prospects()]
    assert sorted(emails) == sorted({f"p{i}@example.com" for i in range(60)})


def test_a_reload_with_blank_cells_leaves_stored_fields_as_they_were(emu, run):
    config = base_config(emu)
    full = [{"email": "a@example.com", "first_name": "Ann", "job_title": "CTO", "fax": "12"}]
    assert run(config, stream_of("prospects", full, schema=SCHEMA)).exit_code == 0
    blanks = [{"email": "a@example.com", "first_name": "Ann", "job_title": "", "fax": " "}]
    result = run(config, stream_of("prospects", blanks, schema=SCHEMA))
    assert result.exit_code == 0
    [stored] = emu.prospects()
    assert (stored["job_title"], stored["fax"]) == ("CTO", "12")
    assert result.summary["fields_skipped"] == 2
    assert "blank fields skipped (empty_values: skip)" in result.stderr


def test_empty_values_clear_clears_on_batches_and_v5(emu, run):
    by_id = emu.add_prospect("b@example.com", job_title="CTO", fax="12")
    emu.add_prospect("c@example.com", job_title="CFO", fax="34")
    records = [
        {"id": by_id, "job_title": "", "fax": None},  # v4 batch by id
        {"email": "c@example.com", "job_title": "  ", "fax": ""},
    ]  # v5 by email
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "id": {"type": "integer"}}}
    result = run(base_config(emu, empty_values="clear"),
                 stream_of("prospects", records, schema=schema))  # fmt: skip
    assert result.exit_code == 0, result.stderr[-2000:]
    # Cleared: v4 stores "" (read back as null by Pardot), v5 null.
    assert {(p["email"], p["job_title"] or None, p["fax"] or None) for p in emu.prospects()} == {
        ("b@example.com", None, None), ("c@example.com", None, None)}  # fmt: skip
    assert result.summary["fields_cleared"] == 4


def test_empty_values_clear_clears_on_v3_accounts(emu, run):
    emu.configure(ampsea=False)
    emu.add_prospect("d@example.com", job_title="CTO")
    records = [{"email": "d@example.com", "job_title": ""}]
    result = run(base_config(emu, empty_values="clear", api_version="3"),
                 stream_of("prospects", records, schema=SCHEMA))  # fmt: skip
    assert result.exit_code == 0, result.stderr[-2000:]
    assert [p["job_title"] or None for p in emu.prospects()] == [None]


def test_explicit_false_on_an_ampsea_account_warns_once_with_the_count(emu, run):
    emu.add_prospect("p0@example.com")
    config = base_config(emu, upsert_by_email=False)
    result = run(config, stream_of("prospects", people(3), schema=SCHEMA))
    assert result.exit_code == 0
    assert result.summary["prospects_created_from_email_only_rows"] == 3
    warnings = [w for w in errors_and_warnings(result) if "email-only rows" in w]
    assert len(warnings) == 1 and "3 prospects were created" in warnings[0]
    assert len(emu.prospects()) == 4  # what the warning is about: p0 twice
    quiet = run(base_config(emu), stream_of("prospects", people(3), schema=SCHEMA))
    assert "email-only rows in v4 batches" not in quiet.stderr


# -- values Pardot would refuse for type --------------------------------------------


def test_numbers_for_text_fields_arrive_as_written_and_nested_values_cost_no_call(emu, run):
    lines = [
        json.dumps(
            {"type": "SCHEMA", "stream": "prospects", "schema": SCHEMA, "key_properties": []}
        ),
        '{"type":"RECORD","stream":"prospects","record":{"email":"n@example.com",'
        '"zip":2000,"phone":4.70}}',
        '{"type":"RECORD","stream":"prospects","record":{"email":"o@example.com",'
        '"company":{"name":"Acme"}}}',
    ]
    config = base_config(emu, skip_invalid_records=True, max_rejected_percent=100)
    result = run(config, [json.loads(line) for line in lines[:1]] + lines[1:])
    assert result.exit_code == 0, result.stderr[-2000:]
    [stored] = emu.prospects()
    assert (stored["zip"], stored["phone"]) == ("2000", "4.70")
    assert result.summary["rejected_by_reason"] == {"nested_value": 1}
    assert "flattening_enabled" in result.stderr
    assert result.summary["api_calls_by_endpoint"].get("prospect/upsertLatestByEmail") == 1


# -- case variants --------------------------------------------------------------------


def test_case_variants_are_counted_and_warned_once_in_real_and_dry_runs(emu, run):
    records = [{"email": "ann@example.com"}, {"email": "Ann@example.com"},
               {"email": "ANN@example.com"}, {"email": "bob@example.com"}]  # fmt: skip
    for extra in ({}, {"dry_run": True}):
        result = run(base_config(emu, **extra), stream_of("prospects", records, schema=SCHEMA))
        assert result.exit_code == 0, result.stderr[-2000:]
        assert result.summary["email_case_variants"] == 2
        warnings = [w for w in errors_and_warnings(result) if "differ only in case" in w]
        assert len(warnings) == 1 and "lowercase_emails" in warnings[0]
    lowered = run(base_config(emu, lowercase_emails=True),
                  stream_of("prospects", records, schema=SCHEMA))  # fmt: skip
    assert lowered.summary["email_case_variants"] == 0


# -- max_rejected_percent -------------------------------------------------------------


def test_a_run_rejecting_most_rows_delivers_the_rest_writes_state_and_fails(emu, tmp_path):
    records = [{"email": "good@example.com"}] + [{"first_name": "no key"}] * 3
    messages = stream_of("prospects", records, schema=SCHEMA, final_state={"bookmark": 4})
    config = base_config(emu, skip_invalid_records=True)
    result = run_cli_inprocess(config, messages, tmp_path)
    assert result.exit_code == 1
    assert result.states == [{"bookmark": 4}]
    assert [p["email"] for p in emu.prospects()] == ["good@example.com"]
    last = result.stderr.rstrip().splitlines()[-1]
    assert "3 of 4 rows (75.0%)" in last and "max_rejected_percent (50%)" in last
    assert result.summary["outcome_reason"] in last
    allowed = run_cli_inprocess({**config, "max_rejected_percent": 80}, messages, tmp_path)
    assert allowed.exit_code == 0


# -- configuration mistakes, in a real process ------------------------------------------


def test_an_unknown_setting_is_exit_2_naming_the_closest(emu, tmp_path):
    config = base_config(emu, upsert_by_emails=True, skip_invalid_record=True)
    result = run_cli(config, stream_of("prospects", people(1)), tmp_path)
    assert result.exit_code == 2
    assert (
        "'upsert_by_emails'" in result.stderr and "did you mean 'upsert_by_email'" in result.stderr
    )
    assert "did you mean 'skip_invalid_records'" in result.stderr
    assert emu.counters()["calls_total"] == 0


def test_sdk_settings_are_known(emu, tmp_path):
    config = base_config(emu, flattening_enabled=True, flattening_max_depth=1,
                         batch_size_rows=100)  # fmt: skip
    result = run_cli(config, stream_of("prospects", people(1)), tmp_path)
    assert result.exit_code == 0, result.stderr[-2000:]


def test_a_missing_required_setting_is_named_once_even_without_config(tmp_path):
    completed = subprocess.run(
        [str(BIN / "target-pardot")], input=b"", capture_output=True, timeout=60, check=False
    )
    stderr = completed.stderr.decode()
    assert completed.returncode == 2
    assert stderr.count("Setting 'business_unit' is required.") == 1
    assert "does not match its schema" not in stderr


def test_an_environment_value_that_does_not_parse_is_exit_2_naming_it(emu, tmp_path):
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(base_config(emu)))
    completed = subprocess.run(
        [str(BIN / "target-pardot"), "--config", str(config_path), "--config", "ENV"],
        input=to_lines(stream_of("prospects", people(1))).encode(),
        capture_output=True, timeout=60, check=False,
        env={**_env(), "TARGET_PARDOT_UPSERT_BY_EMAIL": "maybe"},
    )  # fmt: skip
    assert completed.returncode == 2
    assert "TARGET_PARDOT_UPSERT_BY_EMAIL" in completed.stderr.decode()
    assert emu.counters()["calls_total"] == 0


def _env() -> dict[str, str]:
    return dict(os.environ)


# -- failures say why, last -----------------------------------------------------------


def test_an_early_failure_reads_its_input_to_the_end_so_the_tap_sees_no_broken_pipe(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"client_id": "x"}))  # no business_unit: exit 2 at once
    _assert_tap_sees_no_broken_pipe(config, expected_exit=2)


def test_refused_credentials_read_the_input_to_the_end_too(emu, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(base_config(emu, client_secret="wrong")))
    _assert_tap_sees_no_broken_pipe(config, expected_exit=2)


def _assert_tap_sees_no_broken_pipe(config: Path, *, expected_exit: int) -> None:
    tap = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nline = '{\"type\":\"STATE\",\"value\":{}}\\n' * 1000\n"
         "for _ in range(400): sys.stdout.write(line)\nsys.stdout.flush()"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    target = subprocess.run(
        [str(BIN / "target-pardot"), "--config", str(config)],
        stdin=tap.stdout, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert tap.stdout is not None
    tap.stdout.close()
    _, tap_err = tap.communicate(timeout=60)
    assert target.returncode == expected_exit, target.stderr.decode()[-2000:]
    assert tap.returncode == 0, tap_err.decode()[-500:]
    assert b"BrokenPipe" not in tap_err


def test_the_error_line_is_the_last_line_and_the_summary_carries_it(emu, tmp_path):
    config = base_config(emu, client_secret="wrong")
    result = run_cli(config, stream_of("prospects", people(2)), tmp_path)
    assert result.exit_code == 2
    lines = result.stderr.rstrip().splitlines()
    assert lines[-1].startswith("ERROR") or "ERROR" in lines[-1][:40], lines[-3:]
    assert result.summary["outcome"] == "failed"
    reason = result.summary["outcome_reason"]
    assert reason and reason in lines[-1]
    assert f"failed: {reason}" in result.stderr


# -- slow-run hint, rejected rows file ------------------------------------------------------


def test_a_run_waiting_on_pardot_with_free_slots_gets_one_hint(emu, run):
    emu.configure(latency_ms=40)
    records = [{"email": f"s{i}@example.com"} for i in range(40)]
    result = run(base_config(emu, identity_map=False), stream_of("prospects", records,
                                                                 schema=SCHEMA))  # fmt: skip
    assert result.exit_code == 0
    assert result.stderr.count("would have taken about") == 2  # the JSON line and the table
    assert "parallel_tasks: 5" in result.summary["hint"]
    fast = run(base_config(emu, identity_map=False, parallel_tasks=5),
               stream_of("prospects", records, schema=SCHEMA))  # fmt: skip
    assert fast.summary["hint"] == ""


def test_rejected_rows_carry_their_run_and_position_and_the_file_is_named_once(
    emu, run, tmp_path
):
    path = tmp_path / "rejected.jsonl"
    config = base_config(emu, skip_invalid_records=True, rejected_records_path=str(path),
                         max_rejected_percent=100)  # fmt: skip
    records = [{"email": "ok@example.com"}, {"first_name": "x"}, {"first_name": "y"}]
    first = run(config, stream_of("prospects", records, schema=SCHEMA))
    second = run(config, stream_of("prospects", records, schema=SCHEMA))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["position"] for line in lines] == [2, 3, 2, 3]
    assert len({line["run_id"] for line in lines}) == 2
    assert all(line["run_started_at"].endswith("+00:00") for line in lines)
    for result in (first, second):
        assert result.stderr.count(str(path)) == 1
    quiet = run({**config}, stream_of("prospects", records[:1], schema=SCHEMA))
    assert str(path) not in quiet.stderr


# -- the API version without noise ------------------------------------------------------


def test_a_normal_account_costs_at_most_one_refused_call_once_and_no_warning(emu, run):
    config = base_config(emu, parallel_tasks=5)
    rows = [{"email": f"v{i}@example.com"} for i in range(200)]
    first = run(config, stream_of("prospects", rows, schema=SCHEMA))
    assert first.exit_code == 0, first.stderr[-2000:]
    assert sum(emu.counters()["errors_by_code"].values()) <= 1  # error 88, once
    # The only warning of a first run is the new ledger's (the identity map is on by
    # default), which a container that forgets ~/.cache must see; none is the version's.
    alarms = errors_and_warnings(first)
    assert len(alarms) == 1 and "does not exist yet" in alarms[0], alarms
    refused = dict(emu.counters()["errors_by_code"])
    second = run(config, stream_of("prospects", rows, schema=SCHEMA))
    assert second.exit_code == 0
    assert emu.counters()["errors_by_code"] == refused  # remembered: no call spent on it
    assert not errors_and_warnings(second)


def test_a_v3_account_is_remembered_too(emu, run):
    emu.configure(ampsea=False)
    config = base_config(emu, upsert_by_email=False, parallel_tasks=5)
    rows = [{"email": f"w{i}@example.com"} for i in range(120)]
    first = run(config, stream_of("prospects", rows, schema=SCHEMA))
    assert first.exit_code == 0, first.stderr[-2000:]
    # v4 calls are not held back: at most one per slot is refused (89), on the first run
    assert 1 <= sum(emu.counters()["errors_by_code"].values()) <= 5
    assert not errors_and_warnings(first)
    emu.reset()
    emu.configure(ampsea=False)
    second = run(config, stream_of("prospects", rows, schema=SCHEMA))
    assert emu.counters()["errors_by_code"] == {}
    assert second.summary["api_version"] == "v3"
