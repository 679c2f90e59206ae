"""The fast record validator never disagrees with the SDK's jsonschema validator."""

from __future__ import annotations

import decimal
import itertools
import random

import pytest
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import JSONSchemaValidator

from target_pardot.rows.validation import TOO_DEEP, FastRecordValidator

SCHEMAS = [
    {"type": "object", "properties": {"email": {"type": ["string", "null"]},
                                      "score": {"type": ["integer", "null"]}}},
    {"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"],
     "additionalProperties": False},
    {"properties": {"n": {"type": "number"}, "b": {"type": "boolean"},
                    "when": {"type": "string", "format": "date-time"}}},
    {"type": "object", "properties": {
        "v": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        "o": {"type": "object"}, "a": {"type": "array"}, "anything": {}}},
    # Keywords the fast road does not model: the SDK validator decides.
    {"type": "object", "properties": {"e": {"type": "string", "enum": ["a", "b"]},
                                      "m": {"type": "integer", "minimum": 3},
                                      "nested": {"type": "object",
                                                 "properties": {"x": {"type": "integer"}}}}},
    {"type": "object", "patternProperties": {"^x": {"type": "integer"}}},
]  # fmt: skip

VALUES = [None, "", "text", "2024-01-01T00:00:00Z", 0, 1, -5, 1.0, 2.5, True, False,
          decimal.Decimal("1.5"), decimal.Decimal("2"), {}, {"x": 1}, {"x": "no"}, [],
          [1, "a"], "a", "b"]  # fmt: skip
COLUMNS = ["email", "score", "n", "b", "when", "v", "o", "a", "anything", "e", "m",
           "nested", "x1", "other"]  # fmt: skip


def verdict(validator, record):
    try:
        validator.validate(record)
    except InvalidRecord as exc:
        return exc.error_message
    return None


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_same_verdict_and_message_as_the_sdk(schema):
    fast = FastRecordValidator(schema)
    reference = JSONSchemaValidator(schema)
    rng = random.Random(7)
    records = [{}]
    records += [{c: v} for c, v in itertools.product(COLUMNS, VALUES)]
    for _ in range(2_000):
        columns = rng.sample(COLUMNS, rng.randrange(1, 5))
        records.append({c: rng.choice(VALUES) for c in columns})
    for record in records:
        assert verdict(fast, record) == verdict(reference, record), record


def test_plain_schema_takes_the_fast_road_for_valid_rows_only():
    fast = FastRecordValidator(SCHEMAS[0])
    assert fast.is_plainly_valid({"email": "a@x.com", "score": 3, "extra": [1]})
    assert not fast.is_plainly_valid({"score": "3"})
    assert not fast.is_plainly_valid({"score": True}), "a boolean is not an integer"


def test_unmodelled_keywords_always_ask_the_sdk():
    fast = FastRecordValidator(SCHEMAS[5])
    assert not fast.is_plainly_valid({"y": 1})


def test_format_validation_leaves_everything_to_the_sdk():
    fast = FastRecordValidator(SCHEMAS[2], validate_formats=True)
    assert not fast.is_plainly_valid({"n": 1})


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_the_returned_verdict_agrees_with_validate(schema):
    fast = FastRecordValidator(schema)
    for record in [{}, *({c: v} for c, v in itertools.product(COLUMNS, VALUES))]:
        message = verdict(fast, record)
        problem = fast.problem(record)
        if message is None:
            assert problem is None, record
        else:
            assert problem == ("invalid_schema", f"does not match the stream's schema: {message}")


def test_a_row_too_deep_to_check_is_an_invalid_value_not_a_crash():
    tree = {"$ref": "#/$defs/tree"}
    schema = {"properties": {"tree": tree},
              "$defs": {"tree": {"type": ["array", "string"], "items": tree}}}  # fmt: skip
    value: object = "leaf"
    for _ in range(300):
        value = [value]
    assert FastRecordValidator(schema).problem({"tree": value}) == TOO_DEEP
    assert TOO_DEEP.category == "invalid_value"
