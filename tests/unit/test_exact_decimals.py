"""Decimals keep their digits from the input line to the JSON of a v3/v4 batch."""

from __future__ import annotations

import decimal
import json

import pytest

from target_pardot.rows.payloads import (
    InvalidRow,
    batch_body,
    prepare_prospect,
    to_json,
    v4_element,
)
from target_pardot.rows.v3 import v3_calls
from target_pardot.run.reader import PardotMessageReader

D = decimal.Decimal
DIGITS = ["123456789.0123456789", "2.50", "0.1", "-0.000001", "1E+2", "3", "19.99", "-7.0"]


@pytest.mark.parametrize("text", DIGITS)
def test_the_reader_and_to_json_keep_every_digit(text):
    line = '{"type":"RECORD","stream":"s","record":{"n":' + text + "}}"
    value = PardotMessageReader().deserialize_json(line)["record"]["n"]
    assert str(value) == str(D(text))
    assert to_json({"n": value}) == '{"n":' + str(D(text)) + "}"


def test_rows_and_batches_carry_the_digits():
    fields = {"email": "a@x.com", "comments": D("123456789.0123456789"), "phone": D("2.50")}
    row, _ = prepare_prospect(fields, lowercase_emails=False, upsert_by_email=False,
                              update_only=False)  # fmt: skip
    # comments and phone are text fields: the digits go as the text the tap wrote.
    assert row.text == '{"comments":"123456789.0123456789","email":"a@x.com","phone":"2.50"}'
    element = v4_element(row.fields, {"list_3": 1})
    assert "123456789.0123456789" in to_json(element)
    assert "123456789.0123456789" in json.dumps(batch_body([element]))  # urlencoded, still there
    [(_, _, body)] = v3_calls([element], lambda e: e)[1]
    assert "123456789.0123456789" in body


def test_a_string_that_looks_like_a_mark_stays_a_string():
    text = to_json({"a": "\ue000decimal-0000000000000000:1.5", "b": D("1.50")})
    assert json.loads(text)["a"] == "\ue000decimal-0000000000000000:1.5"
    assert text.endswith('"b":1.50}')


@pytest.mark.parametrize("value", [D("NaN"), D("Infinity"), D("1E+999")])
def test_numbers_json_cannot_carry_are_invalid_rows(value):
    with pytest.raises(InvalidRow):
        to_json({"n": value, "m": D("1.50")})
