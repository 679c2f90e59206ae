"""Hostile input through the real command: no traceback, no lost row, no non-JSON output.

Each case puts good rows and a STATE before the hostile line, so the test can check that
the rows before it are delivered and their STATE written, whatever the line does.
"""

from __future__ import annotations

import gzip
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
)

NUMBER_SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "score": {"type": ["number", "integer", "null"]},
    },
}

# Lines a tap (or a broken pipe of taps) can write, each naming what it breaks.
HOSTILE_RECORDS = {
    "integer_longer_than_python_parses": (
        '{"type":"RECORD","stream":"prospects","record":{"email":"h@x.com","score":'
        + "9" * 5000
        + "}}"
    ),
    "lone_surrogate": (
        '{"type":"RECORD","stream":"prospects","record":{"email":"h@x.com",'
        '"first_name":"\\ud800"}}'
    ),
    "record_is_an_array": '{"type":"RECORD","stream":"prospects","record":[1,2]}',
    "record_is_a_string": '{"type":"RECORD","stream":"prospects","record":"h@x.com"}',
    "record_is_null": '{"type":"RECORD","stream":"prospects","record":null}',
    "record_is_missing": '{"type":"RECORD","stream":"prospects"}',
    "nan": '{"type":"RECORD","stream":"prospects","record":{"email":"h@x.com","score":NaN}}',
    "infinity": (
        '{"type":"RECORD","stream":"prospects","record":{"email":"h@x.com","score":-Infinity}}'
    ),
    "exponent_beyond_any_number": (
        '{"type":"RECORD","stream":"prospects","record":{"email":"h@x.com","score":1e999999999}}'
    ),
    "superscript_digit_id": (
        '{"type":"RECORD","stream":"prospects","record":{"email":"h@x.com","id":"\\u00b2"}}'
    ),
}
EXPECTED_CODE = {
    "record_is_an_array": "invalid_record",
    "record_is_a_string": "invalid_record",
    "record_is_null": "invalid_record",
    "record_is_missing": "invalid_record",
}


def _stream(hostile: str) -> list[object]:
    return [
        schema_message("prospects", NUMBER_SCHEMA),
        record_message("prospects", {"email": "before@x.com", "first_name": "before"}),
        state_message({"upto": 1}),
        hostile,
        record_message("prospects", {"email": "after@x.com", "first_name": "after"}),
        state_message({"upto": 3}),
    ]


def _assert_strict_json_lines(path: Path) -> list[dict]:
    """Every line parses with a parser that refuses NaN and Infinity."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-JSON constant {constant} written to {path}")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("name", sorted(HOSTILE_RECORDS))
def test_a_hostile_row_is_rejected_with_a_reason(emu, tmp_path, name):
    rejected = tmp_path / "rejected.jsonl"
    config = base_config(emu, skip_invalid_records=True, rejected_records_path=str(rejected))
    result = run_cli_inprocess(config, _stream(HOSTILE_RECORDS[name]), tmp_path)
    assert result.exit_code == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert sorted(p["first_name"] for p in emu.prospects()) == ["after", "before"]
    assert result.states == [{"upto": 1}, {"upto": 3}] or result.states == [{"upto": 3}]
    [entry] = _assert_strict_json_lines(rejected)
    assert entry["code"] == EXPECTED_CODE.get(name, "invalid_value")
    assert entry["reason"]
    assert result.summary["rows_received"] == 3
    assert result.summary["outcome"] == "succeeded"
    assert_no_secrets(result, config, emu, rejected)


@pytest.mark.parametrize("name", sorted(HOSTILE_RECORDS))
def test_a_hostile_row_stops_the_run_after_the_rows_before_it(emu, tmp_path, name):
    config = base_config(emu)
    result = run_cli_inprocess(config, _stream(HOSTILE_RECORDS[name]), tmp_path)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert "row 2 of stream 'prospects'" in result.stderr
    assert [p["first_name"] for p in emu.prospects()] == ["before"]
    assert result.states == [{"upto": 1}]
    assert result.summary["outcome"] == "failed"


BAD_LINES = {
    "not_json": "{not json",
    "record_before_schema": '{"type":"RECORD","stream":"elsewhere","record":{"email":"a@x"}}',
    "unknown_type": '{"type":"GREETING"}',
    "no_type": '{"stream":"prospects"}',
    "nan_in_a_state": '{"type":"STATE","value":{"x":NaN}}',
    "deeply_nested": "[" * 100_000 + "]" * 100_000,
    "stream_is_a_number": '{"type":"RECORD","stream":5,"record":{"email":"a@x"}}',
    "schema_without_properties": '{"type":"SCHEMA","stream":"leads","schema":{"type":"object"}}',
    "state_value_not_an_object": '{"type":"STATE","value":[1]}',
}


@pytest.mark.parametrize("name", sorted(BAD_LINES))
def test_a_bad_line_is_reported_and_skipped_when_skipping(emu, tmp_path, name):
    rejected = tmp_path / "rejected.jsonl"
    config = base_config(emu, skip_invalid_records=True, rejected_records_path=str(rejected))
    result = run_cli_inprocess(config, _stream(BAD_LINES[name]), tmp_path)
    assert result.exit_code == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert sorted(p["first_name"] for p in emu.prospects()) == ["after", "before"]
    assert result.states[-1] == {"upto": 3}
    [entry] = _assert_strict_json_lines(rejected)
    assert entry["code"] == "invalid_line"
    assert entry["line"] == 4
    assert result.summary["rejected_by_reason"] == {"invalid_line": 1}


@pytest.mark.parametrize("name", sorted(BAD_LINES))
def test_a_bad_line_stops_the_run_with_one_line(emu, tmp_path, name):
    result = run_cli_inprocess(base_config(emu), _stream(BAD_LINES[name]), tmp_path)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and "line 4" in errors[0], errors
    assert [p["first_name"] for p in emu.prospects()] == ["before"]
    assert result.states == [{"upto": 1}]


# -- BATCH messages --------------------------------------------------------------------


def _batch_message(files: list[Path], *, compression: str | None) -> dict:
    return {
        "type": "BATCH",
        "stream": "prospects",
        "encoding": {"format": "jsonl", "compression": compression},
        "manifest": [f.as_uri() for f in files],
    }


def _write_batch(path: Path, records: list[object], *, gzipped: bool) -> Path:
    text = "".join(
        (r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records
    ).encode()
    path.write_bytes(gzip.compress(text) if gzipped else text)
    return path


@pytest.mark.parametrize("gzipped", [False, True])
def test_batch_rows_load_like_record_rows(emu, tmp_path, gzipped):
    rejected = tmp_path / "rejected.jsonl"
    suffix = ".jsonl.gz" if gzipped else ".jsonl"
    one = _write_batch(
        tmp_path / f"one{suffix}",
        [{"email": f"b{i}@x.com", "first_name": f"b{i}"} for i in range(120)],
        gzipped=gzipped,
    )
    two = _write_batch(
        tmp_path / f"two{suffix}",
        [{"first_name": "no key"}, "[1]", {"email": "c@x.com", "first_name": "c"}, "{broken"],
        gzipped=gzipped,
    )
    config = base_config(emu, skip_invalid_records=True, rejected_records_path=str(rejected))
    messages = [
        schema_message("prospects", NUMBER_SCHEMA),
        record_message("prospects", {"email": "r@x.com", "first_name": "r"}),
        _batch_message([one, two], compression="gzip" if gzipped else None),
        state_message({"upto": "batch"}),
    ]
    result = run_cli_inprocess(config, messages, tmp_path)
    assert result.exit_code == 0, result.stderr[-3000:]
    names = sorted(p["first_name"] for p in emu.prospects())
    assert names == sorted(["r", "c"] + [f"b{i}" for i in range(120)])
    assert result.states == [{"upto": "batch"}]
    codes = sorted(entry["code"] for entry in _assert_strict_json_lines(rejected))
    assert codes == ["invalid_line", "invalid_record", "missing_key"]
    assert result.summary["rows_received"] == 124


@pytest.mark.parametrize("problem", ["missing", "not_gzip", "truncated_gzip", "parquet"])
def test_an_unreadable_batch_stops_after_the_rows_before_it(emu, tmp_path, problem):
    good = _write_batch(tmp_path / "good.jsonl", [{"email": "g@x.com", "first_name": "g"}],
                        gzipped=False)  # fmt: skip
    bad = tmp_path / "bad.jsonl.gz"
    if problem == "not_gzip":
        bad.write_text('{"email": "n@x.com"}\n')
    elif problem == "truncated_gzip":
        bad.write_bytes(gzip.compress(b'{"email": "t@x.com"}\n' * 1000)[:60])
    message = _batch_message([bad], compression="gzip")
    if problem == "parquet":
        message["encoding"]["format"] = "parquet"
    messages = [
        schema_message("prospects", NUMBER_SCHEMA),
        _batch_message([good], compression=None),
        state_message({"upto": "good"}),
        message,
        state_message({"upto": "bad"}),
    ]
    for skip in (False, True):
        emu.reset()
        result = run_cli_inprocess(base_config(emu, skip_invalid_records=skip), messages, tmp_path)
        assert result.exit_code == 1
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if "| ERROR" in line]
        assert len(errors) == 1 and "line 4" in errors[0], errors
        # A file cut short may have given rows before its fault: they are loaded, like
        # rows before any other bad input, and the STATE does not pass the fault.
        assert [p["first_name"] for p in emu.prospects() if p["first_name"]] == ["g"]
        assert result.states == [{"upto": "good"}]
        assert result.summary["outcome"] == "failed"


# -- floods --------------------------------------------------------------------------


def test_a_new_unknown_column_on_every_row_is_named_once_then_counted(emu, tmp_path):
    rows = [record_message("prospects", {"email": f"w{i}@x.com", f"junk_{i}": i})
            for i in range(300)]  # fmt: skip
    # v4 batches: the warnings are the subject, not upsert_by_email's call per row.
    config = base_config(emu, upsert_by_email=False)
    result = run_cli_inprocess(config, [schema_message("prospects"), *rows], tmp_path)
    assert result.exit_code == 0, result.stderr[-3000:]
    assert emu.counters()["calls_by_endpoint"]["prospect/batchUpsert"] == 6
    assert len(emu.prospects()) == 300
    warnings = [line for line in result.stderr.splitlines()
                if "| WARNING" in line and "not Pardot" in line]  # fmt: skip
    named = {f"junk_{i}" for i in range(300) if f"'junk_{i}'" in result.stderr}
    assert len(named) == 20
    assert len(warnings) <= 22, warnings
    assert "280 more columns were not sent" in result.stderr


TEXT_FIELDS = ["salutation", "first_name", "last_name", "company", "website", "job_title",
               "department", "country", "address_one", "address_two", "city", "state",
               "territory", "zip", "phone", "fax", "source", "industry", "comments", "notes"]


def test_new_columns_in_import_mode_share_one_import(emu, tmp_path):
    """Every other row brings a field no earlier row had: the import's header comes from
    all the rows of the drain, so they share one import instead of one import each."""
    schema = {"type": "object", "properties": {"email": {"type": "string"}}}
    rows = [record_message("prospects", {"email": f"i{i}@x.com", TEXT_FIELDS[i // 2]: "v"})
            for i in range(40)]  # fmt: skip
    config = base_config(emu, prospect_operation="import", default_campaign_id=7)
    result = run_cli_inprocess(config, [schema_message("prospects", schema), *rows], tmp_path)
    assert result.exit_code == 0, result.stderr[-3000:]
    assert len(emu.imports()) == 1
    assert len(emu.prospects()) == 40
    assert result.summary["api_calls"] < 10
