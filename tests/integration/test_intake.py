"""Records go through the stream maps to their sink's take(): stream maps, flattening
and metadata removal apply as on the SDK's record path, and every verdict on a row ends
in the row kept or rejected in its place, never in a traceback."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

from target_pardot.run.reader import PardotMessageReader
from target_pardot.target import TargetPardot
from tests.helpers import (
    base_config,
    record_message,
    run_inprocess,
    schema_message,
    state_message,
    stream_of,
    to_lines,
)


def test_a_plain_stream_is_delivered(emu):
    target = TargetPardot(config=base_config(emu), validate_config=True)
    code = target.run(io.StringIO(to_lines(stream_of("prospects", [{"email": "a@example.com"}]))))
    assert code == 0
    assert [p["email"] for p in emu.prospects()] == ["a@example.com"]


def test_stream_maps_still_apply(emu, capsys, caplog):
    config = base_config(emu, stream_maps={"prospects": {"first_name": "'Mapped'"}})
    result = run_inprocess(
        config, stream_of("prospects", [{"email": "m@example.com", "first_name": "Raw"}]),
        capsys, caplog,
    )  # fmt: skip
    assert result.exit_code == 0
    assert [p["first_name"] for p in emu.prospects()] == ["Mapped"]


def test_flattening_still_applies(emu, capsys, caplog):
    schema = {"type": "object", "properties": {
        "email": {"type": "string"},
        "custom": {"type": "object", "properties": {"Color__c": {"type": "string"}}}}}  # fmt: skip
    config = base_config(emu, flattening_enabled=True, flattening_max_depth=1)
    records = [{"email": "f@example.com", "custom": {"Color__c": "teal"}}]
    result = run_inprocess(config, stream_of("prospects", records, schema=schema), capsys, caplog)
    assert result.exit_code == 0
    [prospect] = emu.prospects()
    assert prospect["custom__Color__c"] == "teal", "the flattened column reached Pardot"


def test_record_metadata_is_removed_before_validation(emu, capsys, caplog):
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"email": {"type": "string"}}}  # fmt: skip
    messages = [
        schema_message("prospects", schema),
        record_message("prospects", {"email": "s@example.com", "_sdc_extracted_at": "2024"}),
    ]
    result = run_inprocess(base_config(emu), messages, capsys, caplog)
    assert result.exit_code == 0
    assert [p["email"] for p in emu.prospects()] == ["s@example.com"]


def test_a_new_schema_replaces_the_sink(emu, capsys, caplog):
    wide = {"type": "object", "properties": {"email": {"type": "string"},
                                             "city": {"type": "string"}}}  # fmt: skip
    messages = [
        *stream_of("prospects", [{"email": "one@example.com"}]),
        schema_message("prospects", wide),
        record_message("prospects", {"email": "two@example.com", "city": "Oslo"}),
    ]
    result = run_inprocess(base_config(emu), messages, capsys, caplog)
    assert result.exit_code == 0
    assert sorted((p["email"], p["city"]) for p in emu.prospects()) == [
        ("one@example.com", None), ("two@example.com", "Oslo")]  # fmt: skip


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def _skipping(emu: Any, tmp_path: Any) -> dict[str, Any]:
    return base_config(emu, skip_invalid_records=True, max_rejected_percent=100,
                       rejected_records_path=str(tmp_path / "rejected.jsonl"))  # fmt: skip


def _rejected(tmp_path: Any) -> list[dict[str, Any]]:
    text = (tmp_path / "rejected.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_a_row_too_deep_for_the_schema_check_is_an_invalid_value(emu, tmp_path, capsys,
                                                                  caplog):  # fmt: skip
    # A recursive schema: jsonschema walks the value as deep as it goes, several Python
    # frames per level, so 300 levels (which the JSON parser reads) exceed the stack.
    tree = {"$ref": "#/$defs/tree"}
    schema = {"type": "object", "properties": {"email": {"type": "string"}, "tree": tree},
              "$defs": {"tree": {"type": ["array", "string"], "items": tree}}}  # fmt: skip
    messages = [
        schema_message("prospects", schema),
        record_message("prospects", {"email": "before@example.com"}),
        record_message("prospects", {"email": "deep@example.com", "tree": _nested(300)}),
        record_message("prospects", {"email": "after@example.com"}),
        state_message({"upto": 3}),
    ]
    result = run_inprocess(_skipping(emu, tmp_path), messages, capsys, caplog)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert sorted(p["email"] for p in emu.prospects()) == ["after@example.com",
                                                           "before@example.com"]  # fmt: skip
    assert result.states == [{"upto": 3}]
    [entry] = _rejected(tmp_path)
    assert (entry["code"], entry["position"]) == ("invalid_value", 2)
    assert "nested too deeply" in entry["reason"]
    assert entry["record"]["email"] == "deep@example.com", "the row is written as received"


def test_a_row_too_deep_to_write_as_json_is_rejected_not_a_crash(emu, tmp_path, capsys, caplog,
                                                                 monkeypatch):  # fmt: skip
    # Deeper than any stack walks: built here, as no JSON text the parser reads can be.
    deep = _nested(5 * sys.getrecursionlimit())
    read_message = PardotMessageReader.read_message

    def with_a_deep_value(self: PardotMessageReader, line: str) -> Any:
        message, problem = read_message(self, line)
        record = message.get("record")
        if isinstance(record, dict) and record.get("email") == "deep@example.com":
            record["loyalty_tier"] = deep  # a custom field: its value goes as it is
        return message, problem

    monkeypatch.setattr(PardotMessageReader, "read_message", with_a_deep_value)
    emails = ["before@example.com", "deep@example.com", "after@example.com"]
    messages = [*stream_of("prospects", [{"email": e} for e in emails]), state_message({"upto": 3})]
    result = run_inprocess(_skipping(emu, tmp_path), messages, capsys, caplog)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert sorted(p["email"] for p in emu.prospects()) == ["after@example.com",
                                                           "before@example.com"]  # fmt: skip
    assert result.states == [{"upto": 3}]
    [entry] = _rejected(tmp_path)
    assert (entry["code"], entry["position"]) == ("invalid_value", 2)
    assert entry["record"] is None, "a row no JSON writer can write is left out of the file"
    assert "nested too deeply to be written here" in entry["reason"]


def test_a_row_failing_the_schema_is_rejected_with_the_verdict(emu, tmp_path, capsys, caplog):
    schema = {"type": "object", "properties": {"email": {"type": "string"},
                                               "score": {"type": "integer"}}}  # fmt: skip
    records = [{"email": "a@example.com", "score": "high"}, {"email": "b@example.com"}]
    result = run_inprocess(
        _skipping(emu, tmp_path), stream_of("prospects", records, schema=schema), capsys, caplog
    )
    assert result.exit_code == 0
    assert [p["email"] for p in emu.prospects()] == ["b@example.com"]
    [entry] = _rejected(tmp_path)
    assert entry["code"] == "invalid_schema"
    assert entry["reason"] == "does not match the stream's schema: 'high' is not of type 'integer'"


def test_a_stream_map_that_filters_a_row_out_leaves_no_gap(emu, capsys, caplog):
    config = base_config(emu, stream_maps={"prospects": {"__filter__": "email != 'no@x.com'"}})
    records = [{"email": "yes@example.com"}, {"email": "no@x.com"}]
    messages = [*stream_of("prospects", records), state_message({"upto": 2})]
    result = run_inprocess(config, messages, capsys, caplog)
    assert result.exit_code == 0
    assert [p["email"] for p in emu.prospects()] == ["yes@example.com"]
    assert result.states == [{"upto": 2}], "a filtered row holds no STATE back"
    assert result.summary["rows_received"] == 1


def test_one_stream_mapped_to_two_sinks_sends_each_its_own_copy(emu, capsys, caplog):
    config = base_config(emu, stream_maps={
        "prospects": {"first_name": "'Main'"},
        "copy": {"__source__": "prospects", "first_name": "'Copy'",
                 "email": "email.replace('@', '+copy@')"}})  # fmt: skip
    result = run_inprocess(
        config, stream_of("prospects", [{"email": "m@example.com"}]), capsys, caplog
    )
    assert result.exit_code == 0, result.stderr[-2000:]
    assert sorted((p["email"], p["first_name"]) for p in emu.prospects()) == [
        ("m+copy@example.com", "Copy"), ("m@example.com", "Main")]  # fmt: skip
