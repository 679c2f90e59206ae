"""Pure rules behind the safe defaults: blank values, values Pardot would refuse for
type, case variants of emails, unknown settings, environment values, the end-of-run
verdicts and the remembered API version."""

from __future__ import annotations

import decimal

import pytest

from target_pardot.config_checks import (
    describe_errors,
    environment_errors,
    unknown_settings,
)
from target_pardot.pardot.api_version import ApiVersion
from target_pardot.pardot.call_clock import CallClock
from target_pardot.rows.fields import STANDARD_NAMES
from target_pardot.rows.payloads import InvalidRow, prepare_prospect, v5_upsert_body
from target_pardot.run.account_memory import recall_version, store_version
from target_pardot.run.case_variants import CaseVariants
from target_pardot.run.verdicts import rejected_share_problem, slow_run_hint
from target_pardot.settings import parse_settings
from target_pardot.settings_table import config_schema
from target_pardot.sinks.import_outcome import clearing_options


def prepare(record, **options):
    options = {"lowercase_emails": False, "upsert_by_email": True, "update_only": False,
               **options}  # fmt: skip
    return prepare_prospect(record, **options)[0]


BLANKS = {"email": "a@x.com", "fax": "", "job_title": "   ", "city": None, "company": "Acme"}


def test_blank_values_are_left_out_by_default():
    row = prepare(BLANKS)
    assert row.fields == {"email": "a@x.com", "company": "Acme"}
    assert row.blank_fields == 3


def test_blank_values_clear_with_empty_values_clear():
    row = prepare(BLANKS, empty_values="clear")
    assert row.fields == {"email": "a@x.com", "company": "Acme", "fax": "", "job_title": "",
                          "city": ""}  # fmt: skip
    assert row.blank_fields == 3
    # v5 clears with null ([guess] G29), v3/v4 with "" (E1)
    prospect = v5_upsert_body(row.fields, search_deleted=True, return_fields=())["prospect"]
    assert (prospect["fax"], prospect["jobTitle"], prospect["company"]) == (None, None, "Acme")


@pytest.mark.parametrize("blank", [None, "", "  "])
def test_a_blank_number_field_is_left_as_it_is_even_with_clear(blank):
    # Pardot refuses "" for a number field (error 29 for score), which would lose the
    # whole row; no other way to clear one is documented.
    row = prepare({"email": "a@x.com", "score": blank, "fax": ""}, empty_values="clear")
    assert row.fields == {"email": "a@x.com", "fax": ""}
    assert row.blank_fields == 1


def test_an_import_with_clear_overwrites_with_blanks_all_but_number_fields():
    options = clearing_options(("first_name", "score", "city"), "clear", STANDARD_NAMES)
    assert options == {"fields": {"firstName": {"nullOverwrite": True},
                                  "city": {"nullOverwrite": True}}}  # fmt: skip
    assert clearing_options(("score",), "clear", STANDARD_NAMES) == {}
    assert clearing_options(("first_name",), "skip", STANDARD_NAMES) == {}


def test_a_blank_key_is_absent_whatever_empty_values_says():
    row = prepare({"id": None, "email": "a@x.com", "campaign_id": ""}, empty_values="clear")
    assert row.fields == {"email": "a@x.com"}
    assert row.blank_fields == 0


def test_numbers_and_booleans_for_text_fields_go_as_written():
    row = prepare(
        {
            "email": "a@x.com",
            "zip": 2000,
            "phone": decimal.Decimal("4.70"),
            "company": True,
            "annual_revenue": decimal.Decimal("1E+6"),
            "score": 5,
        }
    )
    assert row.fields["zip"] == "2000"
    assert row.fields["phone"] == "4.70"  # no float rounding: the digits as the tap wrote
    assert row.fields["company"] == "true"
    assert row.fields["annual_revenue"] == "1E+6"
    assert row.fields["score"] == 5  # a number field stays a number


@pytest.mark.parametrize("value", [{"name": "Acme"}, ["Acme"]])
def test_a_nested_value_in_a_standard_field_is_refused_naming_flattening(value):
    with pytest.raises(InvalidRow) as caught:
        prepare({"email": "a@x.com", "company": value})
    assert caught.value.category == "nested_value"
    assert "flattening_enabled" in caught.value.message


def test_case_variants_are_counted_per_extra_spelling():
    variants = CaseVariants()
    for email in ["ann@x.com", "Ann@x.com", "ANN@x.com", "Ann@x.com", "bob@x.com",
                  "Carl@x.com", "carl@X.com", "dee@x.com", "dee@x.com"]:  # fmt: skip
        variants.saw(email)
    # ann: 2 spellings beyond the first; carl: 1; same spelling twice is no variant
    assert variants.count() == 3
    assert CaseVariants().count() == 0


def test_unknown_settings_name_the_closest_setting():
    schema = config_schema()
    messages = unknown_settings({"upsert_by_emails": True, "client_id": "x"}, schema)
    assert messages == [
        "Setting 'upsert_by_emails' is not a setting of target-pardot; did you mean "
        "'upsert_by_email'?"
    ]
    assert "did you mean" not in unknown_settings({"colour": 1}, schema)[0]
    assert unknown_settings({"_meltano_extra": 1}, schema) == []


def test_a_missing_required_setting_is_named_once():
    schema = config_schema()
    messages = describe_errors({}, schema, secrets=())
    assert messages.count("Setting 'business_unit' is required.") == 1
    assert messages.count("Setting 'client_id' is required.") == 1
    assert not [m for m in messages if "does not match its schema" in m]


@pytest.mark.parametrize(
    ("variable", "text", "bad"),
    [("UPSERT_BY_EMAIL", "maybe", True), ("UPSERT_BY_EMAIL", "No", False),
     ("MAX_REJECTED_PERCENT", "half", True), ("MAX_REJECTED_PERCENT", "12.5", False),
     ("PARALLEL_TASKS", "2.5", True)],
)  # fmt: skip
def test_environment_values_must_parse_as_their_setting(monkeypatch, variable, text, bad):
    monkeypatch.setenv(f"TARGET_PARDOT_{variable}", text)
    errors = environment_errors("TARGET_PARDOT_", config_schema())
    assert bool([e for e in errors if f"TARGET_PARDOT_{variable}" in e]) is bad
    assert not [e for e in errors if text in e.replace(f"TARGET_PARDOT_{variable}", "")]


def summary(received, rejected):
    return {"rows_received": received, "rows_rejected": rejected,
            "rejected_by_reason": {"invalid_schema": rejected}}  # fmt: skip


def test_rejected_share_is_a_problem_only_above_the_setting():
    assert rejected_share_problem(summary(10, 5), 50) is None
    problem = rejected_share_problem(summary(10, 6), 50)
    assert problem is not None
    assert "6 of 10 rows (60.0%)" in problem and "max_rejected_percent (50%)" in problem
    assert rejected_share_problem(summary(0, 0), 0) is None
    assert rejected_share_problem(summary(10, 10), 100) is None


def test_slow_run_hint_only_when_slots_were_free_and_it_matters():
    hint = slow_run_hint(parallel_tasks=1, wall_seconds=100, busy_seconds=90, call_seconds=90)
    assert hint is not None and "parallel_tasks: 5" in hint and "about 28 s" in hint
    assert slow_run_hint(parallel_tasks=5, wall_seconds=100, busy_seconds=90,
                         call_seconds=400) is None  # fmt: skip
    assert slow_run_hint(parallel_tasks=1, wall_seconds=100, busy_seconds=20,
                         call_seconds=20) is None  # fmt: skip
    assert slow_run_hint(parallel_tasks=1, wall_seconds=1, busy_seconds=0.9,
                         call_seconds=0.9) is None  # fmt: skip


def test_call_clock_counts_overlapping_calls_once_for_busy_time():
    now = iter([0.0, 1.0, 3.0, 4.0, 10.0, 11.0])
    clock = CallClock(lambda: next(now))
    first = clock.start()  # 0
    second = clock.start()  # 1
    clock.end(first)  # 3
    clock.end(second)  # 4
    third = clock.start()  # 10
    clock.end(third)  # 11
    assert clock.call_seconds == 3 + 3 + 1
    assert clock.busy_seconds == 4 + 1


BASE = {"client_id": "c", "client_secret": "s", "refresh_token": "r",
        "business_unit": "0Uv000000000001AAA"}  # fmt: skip


def test_the_api_version_is_remembered_per_domain_and_business_unit(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite3")
    one = parse_settings({**BASE, "ledger_path": ledger})
    other = parse_settings(
        {**BASE, "ledger_path": ledger, "pardot_domain": "https://pi.demo.pardot.com"}
    )
    assert recall_version(one) is None
    store_version(one, 3)
    assert (recall_version(one), recall_version(other)) == (3, None)
    (tmp_path / "api-versions.json").write_text("not json")
    assert recall_version(one) is None  # a damaged file is no memory, never an error


def test_a_remembered_version_still_follows_a_later_refusal():
    api = ApiVersion("auto")
    api.remember(3)
    assert (api.current, api.known) == (3, True)
    api.refused(3, 88)
    assert api.current == 4
    fixed = ApiVersion("4")
    fixed.remember(3)
    assert fixed.current == 4


def test_an_unknown_setting_is_named_without_its_value():
    [message] = unknown_settings({"client_secrett": "s3cr3t-value"}, config_schema())
    assert "did you mean 'client_secret'" in message
    assert "s3cr3t-value" not in message
