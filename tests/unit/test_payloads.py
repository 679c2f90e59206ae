from __future__ import annotations

import datetime
import decimal
import json
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest

from target_pardot.pardot.limits import MAX_ROW_JSON_CHARS
from target_pardot.rows.fields import STANDARD_NAMES, to_snake_case
from target_pardot.rows.memberships import (
    group_memberships_by_prospect,
    membership_element,
    prepare_membership,
)
from target_pardot.rows.payloads import (
    InvalidRow,
    batch_body,
    encoded_size,
    list_flags,
    map_record,
    plan_batches,
    prepare_prospect,
    to_json,
    v5_upsert_body,
)
from target_pardot.run.plan import Lane, plan_prospects


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("first_name", "first_name"),
        ("FirstName", "first_name"),
        ("firstName", "first_name"),
        ("FIRST_NAME", "first_name"),
        ("first name", "first_name"),
        ("Email", "email"),
        ("isDoNotEmail", "is_do_not_email"),
        ("salesforceId", "fid"),
        ("Favorite_Color__c", "Favorite_Color__c"),
        ("updated_at", None),
        ("__c", None),
    ],
)
def test_field_names(column, expected):
    assert STANDARD_NAMES.pardot_name(column) == expected


def test_snake_case_handles_acronyms():
    assert to_snake_case("CRMId") == "crm_id"


@pytest.mark.parametrize(
    ("v4", "v5"),
    [
        ("first_name", "firstName"),
        ("is_do_not_email", "isDoNotEmail"),
        ("fid", "salesforceId"),
        ("address_one", "addressOne"),
        ("email", "email"),
        ("shoe_size__c", "shoe_size__c"),
    ],
)
def test_v5_names(v4, v5):
    assert STANDARD_NAMES.v5_name(v4) == v5


def test_nulls_are_not_sent_and_unknown_columns_reported():
    fields, ignored = map_record(
        {"email": "a@x.com", "first_name": None, "updated_at": "2024", "city": "Oslo"},
        lowercase_emails=False,
    )
    assert fields == {"email": "a@x.com", "city": "Oslo"}
    assert ignored == ["updated_at"]


def test_emails_are_stripped_and_optionally_lowercased():
    fields, _ = map_record({"email": "  Ann@X.com\t"}, lowercase_emails=False)
    assert fields["email"] == "Ann@X.com"
    fields, _ = map_record({"email": "  Ann@X.com\t"}, lowercase_emails=True)
    assert fields["email"] == "ann@x.com"


def test_integer_and_boolean_coercion():
    fields, _ = map_record(
        {"id": "42", "score": 7.0, "is_starred": True, "is_reviewed": False},
        lowercase_emails=False,
    )
    assert fields == {"id": 42, "score": 7, "is_starred": 1, "is_reviewed": 0}
    with pytest.raises(InvalidRow, match="'id' must be a whole number"):
        map_record({"id": "abc"}, lowercase_emails=False)


def test_routing():
    """prepare_prospect no longer routes: the row's keys decide its lane in the planner."""
    row, _ = prepare_prospect(
        {"email": "a@x.com"}, lowercase_emails=False, upsert_by_email=True, update_only=False
    )
    assert lane_of(row, upsert_by_email=True) == Lane.V5
    row, _ = prepare_prospect(
        {"email": "a@x.com", "id": 5},
        lowercase_emails=False,
        upsert_by_email=True,
        update_only=False,
    )
    assert lane_of(row, upsert_by_email=True) == Lane.BATCH
    assert row.key == "id=5"
    row, _ = prepare_prospect(
        {"email": "a@x.com"}, lowercase_emails=False, upsert_by_email=False, update_only=False
    )
    assert lane_of(row, upsert_by_email=False) == Lane.BATCH


def lane_of(row, *, upsert_by_email):
    plan = plan_prospects(
        [SimpleNamespace(row=row)],
        version=4,
        upsert_by_email=upsert_by_email,
        known_ids=None,
        imports=None,
    )
    return plan.rows[0].lane


def test_rows_without_key_are_invalid():
    with pytest.raises(InvalidRow) as info:
        prepare_prospect(
            {"first_name": "A", "email": "  "},
            lowercase_emails=False,
            upsert_by_email=False,
            update_only=False,
        )
    assert info.value.category == "missing_key"


def test_update_only_needs_id_or_fid():
    with pytest.raises(InvalidRow) as info:
        prepare_prospect(
            {"email": "a@x.com"}, lowercase_emails=False, upsert_by_email=False, update_only=True
        )
    assert info.value.category == "update_needs_id"


def test_row_length_rule_is_the_treasure_data_limit():
    base = {"email": "a@x.com", "comments": ""}
    overhead = len(to_json(base))
    fits = {**base, "comments": "x" * (MAX_ROW_JSON_CHARS - overhead)}
    prepare_prospect(fits, lowercase_emails=False, upsert_by_email=False, update_only=False)
    too_long = {**base, "comments": "x" * (MAX_ROW_JSON_CHARS - overhead + 1)}
    with pytest.raises(InvalidRow) as info:
        prepare_prospect(too_long, lowercase_emails=False, upsert_by_email=False, update_only=False)
    assert info.value.category == "row_too_long"


def test_json_handles_dates_and_decimals():
    text = to_json(
        {
            "a": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
            "b": datetime.date(2024, 1, 2),
            "c": decimal.Decimal("3"),
            "d": decimal.Decimal("2.5"),
        }
    )
    assert json.loads(text) == {
        "a": "2024-01-02T03:04:05+00:00",
        "b": "2024-01-02",
        "c": 3,
        "d": 2.5,
    }


def test_v5_body_is_camel_case_and_matches_on_email():
    body = v5_upsert_body(
        {"email": "a@x.com", "first_name": "Ann", "fid": "003X", "is_starred": 1, "x__c": "y"},
        search_deleted=True,
        return_fields=("id", "email"),
    )
    assert body == {
        "matchEmail": "a@x.com",
        "prospect": {
            "email": "a@x.com",
            "firstName": "Ann",
            "salesforceId": "003X",
            "isStarred": True,
            "x__c": "y",
        },
        "secondaryDeletedSearch": True,
        "fields": ["id", "email"],
    }


def test_batch_body_is_urlencoded_json_in_a_form_field():
    body = batch_body([{"email": "a+b@x.com", "list_3": 1}])
    parsed = parse_qs(body)
    assert json.loads(parsed["prospects"][0]) == {
        "prospects": [{"email": "a+b@x.com", "list_3": 1}]
    }


def test_list_flags():
    assert list_flags([3, 4], add=True) == {"list_3": 1, "list_4": 1}
    assert list_flags([3], add=False) == {"list_3": 0}


def test_batches_respect_row_count():
    batches = list(plan_batches(range(120), size_of=lambda _: 10, max_payload=10**9))
    assert [len(b) for b in batches] == [50, 50, 20]
    assert [x for b in batches for x in b] == list(range(120))


def test_batches_respect_payload_size_measured_on_the_real_body():
    elements = [{"email": f"user{i}@example.com", "comments": "x" * 200} for i in range(30)]
    max_payload = 2_000
    batches = list(plan_batches(elements, size_of=encoded_size, max_payload=max_payload))
    assert len(batches) > 1
    for batch in batches:
        assert len(batch_body(batch)) <= max_payload
    assert [e for b in batches for e in b] == elements


def test_an_oversized_single_row_still_goes_alone():
    batches = list(
        plan_batches(
            ["big", "small"], size_of=lambda x: 10**6 if x == "big" else 1, max_payload=1_000
        )
    )
    assert batches == [["big"], ["small"]]


def test_membership_rows():
    row = prepare_membership({"list_id": "7", "prospect_id": 9})
    assert (row.list_id, row.prospect_id, row.opted_out) == (7, 9, None)
    assert (
        prepare_membership({"list_id": 1, "prospect_id": 2, "opted_out": False}).opted_out is False
    )
    assert prepare_membership({"list_id": 1, "prospect_id": 2, "opted_out": "true"}).opted_out
    for bad in (
        {"list_id": 1},
        {"list_id": "x", "prospect_id": 1},
        {"list_id": 0, "prospect_id": 1},
        {"list_id": 1, "prospect_id": 2, "opted_out": "sometimes"},
    ):
        with pytest.raises(InvalidRow):
            prepare_membership(bad)


def test_memberships_group_by_prospect_in_order():
    rows = [
        prepare_membership({"list_id": lst, "prospect_id": p})
        for lst, p in [(1, 10), (2, 11), (3, 10)]
    ]
    groups = group_memberships_by_prospect(rows, key=lambda r: r)
    assert list(groups) == [10, 11]
    assert [r.list_id for r in groups[10]] == [1, 3]
    assert membership_element(10, [1, 3], add=False) == {"id": 10, "list_1": 0, "list_3": 0}
