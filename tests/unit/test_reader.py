"""The reader's fast road parses lines exactly as its careful road does."""

from __future__ import annotations

import decimal

import pytest
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json

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
