"""The reader's fast road parses lines exactly as its careful road does, and the reader
checks each message before the target sees it."""

from __future__ import annotations

import decimal
import gzip
import io
import json

import pytest
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json

from target_pardot.run.batches import UnreadableBatch
from target_pardot.run.reader import PardotMessageReader

LINES = [
    '{"type":"RECORD","stream":"s","record":{"a":1.5,"b":"x","c":[1,{"d":null}]}}\n',
    '{"type": "STATE", "value": {"n": 1}}',
    '  {"type":"SCHEMA"}  \n',
    '{"type":"RECORD"}\r\n',
    '{"e":"\\u00e9\\n","big":12345678901234567890,"exp":1e400}',
]


@pytest.mark.parametrize("line", LINES)
def test_same_messages_as_the_sdk_parser(line):
    assert PardotMessageReader().deserialize_json(line) == deserialize_json(line)


def test_numbers_with_a_fraction_are_decimals():
    message = PardotMessageReader().deserialize_json('{"record":{"a":1.5}}')
    assert message["record"]["a"] == decimal.Decimal("1.5")


@pytest.mark.parametrize("line", ['{"type":"RECORD"} trailing', "not json", "[1, 2]", '"text"'])
def test_the_same_lines_are_refused(line):
    with pytest.raises(InvalidInputLine):
        PardotMessageReader().deserialize_json(line)


# -- what the reader checks before the target sees a message ---------------------------


class Seen:
    """The target's side of the reader: what each callback and hook received."""

    def __init__(self, reader: PardotMessageReader, *, skipping: bool = False) -> None:
        self.messages: list[dict] = []
        self.unusable: list[tuple[str, object, str]] = []
        self.bad_lines: list[str] = []
        self.schemas: list[str] = []
        reader.on_unusable_record = lambda stream, record, why: self.unusable.append(
            (stream, record, why)
        )
        reader.on_schema = lambda stream, message: self.schemas.append(stream)
        if skipping:
            reader.on_bad_line = lambda reason, message: self.bad_lines.append(reason)

    def callbacks(self) -> dict:
        kinds = ("RECORD", "SCHEMA", "STATE", "ACTIVATE_VERSION", "BATCH")
        return {kind: self.messages.append for kind in kinds}


def read(text: str, *, skipping: bool = False) -> Seen:
    reader = PardotMessageReader()
    seen = Seen(reader, skipping=skipping)
    reader.process_lines(io.StringIO(text), seen.callbacks())
    return seen


def lines(*messages: object) -> str:
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


def test_a_usable_record_reaches_the_target_as_parsed():
    record = {"type": "RECORD", "stream": "s", "record": {"email": "a@x.com"}}
    seen = read(lines(record))
    assert seen.messages == [record]
    assert seen.unusable == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"type":"RECORD","stream":"s","record":{"n":NaN}}', "'n' is NaN"),
        ('{"type":"RECORD","stream":"s","record":{"t":"\\ud800"}}', "'t' holds a lone UTF-16"),
        ('{"type":"RECORD","stream":"s","record":[1]}', "'record' is an array"),
        ('{"type":"RECORD","stream":"s"}', "'record' is null"),
    ],
)
def test_an_unusable_row_goes_to_its_callback_with_the_reason(line, reason):
    seen = read(lines(line))
    assert seen.messages == [], "the target's record path never sees it"
    [(stream, _record, why)] = seen.unusable
    assert stream == "s"
    assert reason in why


def test_no_marker_travels_in_the_message():
    reader = PardotMessageReader()
    message, problem = reader.read_message('{"type":"RECORD","stream":"s","record":{"n":NaN}}')
    assert problem is not None and "NaN" in problem
    assert set(message) == {"type", "stream", "record"}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "RECORD", "stream": 5, "record": {}}, "the RECORD message has no stream name"),
        ({"type": "SCHEMA", "schema": {"properties": {}}}, "the SCHEMA message has no stream"),
        ({"type": "BATCH", "stream": None}, "the BATCH message has no stream name"),
        ({"type": "ACTIVATE_VERSION", "stream": "s"}, "ACTIVATE_VERSION of stream 's' has no"),
        ({"type": "STATE", "value": [1]}, "the STATE message's 'value' is not an object"),
        ({"type": "STATE"}, "the STATE message's 'value' is not an object"),
    ],
)
def test_a_malformed_message_is_a_bad_line(message, reason):
    seen = read(lines({"type": "STATE", "value": {}}, message), skipping=True)
    assert seen.messages == [{"type": "STATE", "value": {}}]
    [bad] = seen.bad_lines
    assert reason in bad
    with pytest.raises(InvalidInputLine, match=reason[:20]):
        read(lines(message))


def test_a_schema_the_target_cannot_use_is_a_bad_line_not_a_traceback():
    reader = PardotMessageReader()
    seen = Seen(reader, skipping=True)

    def unusable_schema(message: dict) -> None:
        raise TypeError("unhashable type: 'list'\nsecond line")

    callbacks = {**seen.callbacks(), "SCHEMA": unusable_schema}
    schema = {"type": "SCHEMA", "stream": "s", "schema": {"properties": {}}}
    reader.process_lines(io.StringIO(lines(schema)), callbacks)
    assert seen.schemas == ["s"], "the SCHEMA hook saw it first"
    assert seen.bad_lines == [
        "the SCHEMA of stream 's' is not a usable JSON schema (TypeError: unhashable type: "
        "'list')"
    ]


def test_batch_files_arrive_as_records_with_unusable_rows_reported(tmp_path):
    path = tmp_path / "rows.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"email":"a@x.com"}\n\n{"n":NaN}\n[1]\nnot json\n'))
    batch = {"type": "BATCH", "stream": "s", "manifest": [path.as_uri()],
             "encoding": {"format": "jsonl", "compression": "gzip"}}  # fmt: skip
    seen = read(lines(batch), skipping=True)
    assert seen.messages == [{"type": "RECORD", "stream": "s", "record": {"email": "a@x.com"}}]
    assert [(stream, why) for stream, _, why in seen.unusable] == [
        ("s", "'n' is NaN, which is not a JSON number"),
        ("s", "the RECORD's 'record' is an array, not an object"),
    ]
    [bad] = seen.bad_lines
    assert bad.endswith("line 5: not valid JSON (Expecting value, column 1)")


def test_an_unreadable_batch_file_stops_the_run_even_when_skipping(tmp_path):
    batch = {"type": "BATCH", "stream": "s", "manifest": [str(tmp_path / "missing.jsonl")],
             "encoding": {"format": "jsonl", "compression": None}}  # fmt: skip
    with pytest.raises(UnreadableBatch, match="cannot read the batch file"):
        read(lines(batch), skipping=True)
