"""Records take the SDK's own record path: stream maps, flattening and metadata apply."""

from __future__ import annotations

import io

from target_pardot.target import TargetPardot
from tests.helpers import (
    base_config,
    record_message,
    run_inprocess,
    schema_message,
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
