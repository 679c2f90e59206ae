"""The reader parses lines as the SDK does, and refuses what the SDK refuses."""

from __future__ import annotations

import decimal

import pytest
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_pardot.reader import FastSingerReader

LINES = [
    '{"type":"RECORD","stream":"s","record":{"a":1.5,"b":"x"}}\n',
    '{"type": "STATE", "value": {"n": 1}}',
    '  {"type":"SCHEMA"}  \n',
    '{"type":"RECORD"}\r\n',
    "[1, 2]",
]


@pytest.mark.parametrize("line", LINES)
def test_same_messages_as_the_sdk(line):
    assert FastSingerReader().deserialize_json(line) == SingerReader().deserialize_json(line)


def test_numbers_with_a_fraction_are_decimals():
    message = FastSingerReader().deserialize_json('{"record":{"a":1.5}}')
    assert message["record"]["a"] == decimal.Decimal("1.5")


@pytest.mark.parametrize("line", ['{"type":"RECORD"} trailing', "not json", ""])
def test_same_refusals_as_the_sdk(line):
    with pytest.raises(Exception) as ours:
        FastSingerReader().deserialize_json(line)
    with pytest.raises(Exception) as theirs:
        SingerReader().deserialize_json(line)
    assert type(ours.value) is type(theirs.value)
    if isinstance(theirs.value, InvalidInputLine):
        assert str(ours.value) == str(theirs.value)
