"""An empty or whitespace-only key cell is absent, on every path that reads keys."""

from __future__ import annotations

import pytest

from target_pardot.rows.audiences import ListRef, prepare_keyed_membership
from target_pardot.rows.keys import is_absent_key
from target_pardot.rows.memberships import prepare_membership
from target_pardot.rows.payloads import InvalidRow, map_record, prepare_prospect
from target_pardot.run.plan import is_email_only


@pytest.mark.parametrize("value", [None, "", " ", "\t\n", "\u00a0"])
def test_blank_cells_are_absent(value):
    assert is_absent_key(value)


@pytest.mark.parametrize("value", [0, "0", "x", " a ", False, 12])
def test_any_other_value_is_a_key(value):
    assert not is_absent_key(value)


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_salesforce_id_leaves_the_row_keyed_by_email(blank):
    row, _ = prepare_prospect(
        {"email": "a@example.com", "salesforce_id": blank, "first_name": "Ann"},
        lowercase_emails=False, upsert_by_email=True, update_only=False,
    )  # fmt: skip
    assert "fid" not in row.fields
    assert is_email_only(row)
    assert row.key == "email=a@example.com"


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_id_is_absent_not_invalid(blank):
    row, _ = prepare_prospect(
        {"id": blank, "email": "a@example.com"},
        lowercase_emails=False, upsert_by_email=False, update_only=False,
    )  # fmt: skip
    assert row.fields == {"email": "a@example.com"}


def test_a_blank_campaign_id_is_absent():
    fields, _ = map_record({"email": "a@example.com", "campaign_id": " "}, lowercase_emails=False)
    assert fields == {"email": "a@example.com"}


def test_a_blank_match_email_is_absent():
    row, _ = prepare_prospect(
        {"email": "a@example.com", "match_email": "  "},
        lowercase_emails=False, upsert_by_email=False, update_only=False,
    )  # fmt: skip
    assert row.match_email is None


def test_a_row_with_only_blank_keys_has_no_key():
    with pytest.raises(InvalidRow) as caught:
        prepare_prospect(
            {"id": "", "fid": " ", "email": "", "first_name": "Ann"},
            lowercase_emails=False, upsert_by_email=False, update_only=False,
        )  # fmt: skip
    assert caught.value.category == "missing_key"


def test_blank_non_key_cells_are_left_to_the_field_rules():
    # The field rule is empty_values: skip (the default) leaves the field out, clear sends "".
    fields, _ = map_record({"email": "a@example.com", "city": ""}, lowercase_emails=False)
    assert "city" not in fields
    fields, _ = map_record(
        {"email": "a@example.com", "city": ""}, lowercase_emails=False, empty_values="clear"
    )
    assert fields["city"] == ""


def test_a_blank_membership_key_is_missing():
    with pytest.raises(InvalidRow) as caught:
        prepare_membership({"list_id": 3, "prospect_id": " "})
    assert caught.value.category == "missing_key"


def test_a_keyed_membership_with_blank_ids_is_keyed_by_name_and_email():
    row = prepare_keyed_membership(
        {"list_id": "", "list_name": "Webinar", "prospect_id": " ", "email": "a@example.com"},
        lowercase_emails=False,
    )
    assert (row.list_ref, row.prospect_id, row.email) == (
        ListRef(name="Webinar"), None, "a@example.com")


# map_record keeps its own inline copy of the blank-key test (the common case of every row
# takes no function call); this holds the copy to the one rule, for every key column and
# under both empty_values modes.
@pytest.mark.parametrize("empty_values", ["skip", "clear"])
@pytest.mark.parametrize(
    "value",
    [None, "", " ", "\t\n", "\u3000", "\u00a0", "0", "a", " a ", "x@y.com", 7, 0],
)
def test_map_record_drops_exactly_the_key_cells_the_key_rule_calls_absent(value, empty_values):
    # The key columns of a prospect row (list_id and prospect_id are membership keys).
    for key in ("id", "fid", "email", "campaign_id"):
        record = {"email": "anchor@example.com", key: value} if key != "email" else {key: value}
        try:
            fields, _ = map_record(record, lowercase_emails=False, empty_values=empty_values)
            present = key in fields
        except InvalidRow:
            present = True  # taken as a key, and refused as not a valid one
        assert present is (not is_absent_key(value)), (key, value, empty_values)
