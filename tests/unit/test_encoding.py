"""The fast urlencoding and body assembly give byte-for-byte what urllib would."""

from __future__ import annotations

import json
import random
from urllib.parse import quote_plus

import pytest

from target_pardot.rows.payloads import (
    batch_body,
    batch_body_from_json,
    encoded_size,
    form_quote,
    form_quoted_length,
    prepare_prospect,
    to_json,
)

ALPHABET = "abcXYZ019 _.-~!*'()&=+%,;:/?#[]@\"{}\\\n\t€ßü漢字😀\x00\x7f"


@pytest.mark.parametrize("seed", range(5))
def test_form_quote_is_quote_plus(seed):
    rng = random.Random(seed)
    for _ in range(300):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 40)))
        assert form_quote(text) == quote_plus(text)
        assert form_quoted_length(text) == len(quote_plus(text))


def test_every_byte_value_matches_quote_plus():
    text = "".join(chr(code) for code in range(0x800))
    assert form_quote(text) == quote_plus(text)
    assert form_quoted_length(text) == len(quote_plus(text))


def test_escapes_that_introduce_escape_characters_are_not_escaped_twice():
    assert form_quote("% +%2B") == quote_plus("% +%2B") == "%25+%2B%252B"


def test_body_from_element_json_is_the_body():
    elements = [
        {"email": "a+b@x.com", "first_name": "Zoë", "list_3": 1},
        {"id": 7, "comments": "100% & more"},
    ]
    assert batch_body_from_json([to_json(e) for e in elements]) == batch_body(elements)
    assert batch_body_from_json([]) == batch_body([])


def test_encoded_size_counts_the_element_and_its_comma():
    element = {"email": "ü@x.com", "comments": "a b"}
    assert encoded_size(element) == len(quote_plus(to_json(element))) + len("%2C")


def test_prepared_row_keeps_the_json_of_its_fields():
    row, _ = prepare_prospect(
        {"Email": " a@x.com ", "FirstName": "Ann", "score": "7"},
        lowercase_emails=False,
        upsert_by_email=False,
        update_only=False,
    )
    assert json.loads(row.text) == row.fields
    assert list(json.loads(row.text)) == sorted(row.fields), "keys sorted"
