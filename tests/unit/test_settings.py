from __future__ import annotations

import logging

import pytest

from target_pardot.errors import ConfigError
from target_pardot.settings import (
    check_business_unit,
    check_url,
    parse_list_ids,
    parse_settings,
)

BASE = {
    "client_id": "cid",
    "client_secret": "csecret-value",
    "refresh_token": "rtoken-value",
    "business_unit": "0Uv000000000001AAA",
}


def settings(**overrides):
    return parse_settings({**BASE, **overrides})


def test_defaults_match_the_treasure_data_table():
    s = settings()
    assert s.login_url == "https://login.salesforce.com"
    assert s.pardot_domain == "https://pi.pardot.com"
    assert s.data_object == "prospects"
    assert s.skip_invalid_records is False
    # A departure: `auto` picks each row's cheapest safe path; with no campaign for an
    # import it sends exactly what `sync` sends (tests/integration/test_auto_operation.py).
    assert s.prospect_operation == "auto"
    assert s.prospect_list_operation == "add"
    # The one departure from Treasure Data's table: its `false` duplicates every
    # email-only row on every run on AMPSEA accounts.
    assert s.upsert_by_email is True
    assert (s.empty_values, s.max_rejected_percent) == ("skip", 50)
    assert s.parallel_tasks == 1
    assert s.list_membership_operation == "upsert"
    assert (s.maximum_retries, s.initial_retry_wait, s.maximum_retry_wait) == (5, 1, 120)
    assert s.maximum_connection_timeout == 300
    assert s.search_deleted_prospects is True
    assert s.lowercase_emails is False
    assert s.dry_run is False


def test_sandbox_switches_both_default_hosts():
    s = settings(sandbox=True)
    assert s.login_url == "https://test.salesforce.com"
    assert s.pardot_domain == "https://pi.demo.pardot.com"


def test_sandbox_keeps_explicit_hosts():
    s = settings(sandbox=True, pardot_domain="https://pi.pardot.com")
    assert s.pardot_domain == "https://pi.pardot.com"


@pytest.mark.parametrize(
    "value",
    ["0Uv00000000001AAA", "0Uv000000000001AAAA", "1Uv000000000001AAA", "", None],
)
def test_business_unit_shape_is_checked(value):
    with pytest.raises(ConfigError, match="business_unit"):
        check_business_unit(value)


def test_valid_business_unit_passes():
    assert check_business_unit(" 0Uv000000000001AAA ") == "0Uv000000000001AAA"


@pytest.mark.parametrize(
    "url",
    ["http://pi.pardot.com", "http://10.0.0.5:8080", "ftp://pi.pardot.com", "pi.pardot.com"],
)
def test_urls_must_be_https_off_loopback(url):
    with pytest.raises(ConfigError, match="pardot_domain"):
        check_url("pardot_domain", url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://localhost:1", "http://[::1]:5"])
def test_loopback_http_is_allowed(url):
    assert check_url("login_url", url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,2,3", (1, 2, 3)),
        (" 4 , 5 ", (4, 5)),
        ("[6, 7]", (6, 7)),
        ([8, "9"], (8, 9)),
        (10, (10,)),
        ("", ()),
        (None, ()),
        ("3,3,1", (3, 1)),
    ],
)
def test_prospect_lists_forms(value, expected):
    assert parse_list_ids(value) == expected


@pytest.mark.parametrize("value", ["a,b", "[1, -2]", "0", "[1,", [True]])
def test_prospect_lists_rejects_non_ids(value):
    with pytest.raises(ConfigError, match="prospect_lists"):
        parse_list_ids(value)


def test_parallel_tasks_is_capped_at_five_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="target-pardot"):
        s = settings(parallel_tasks=12)
    assert s.parallel_tasks == 5
    assert "parallel_tasks=12" in caplog.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("data_object", "contacts"),
        ("prospect_operation", "insert"),
        ("prospect_list_operation", "toggle"),
        ("list_membership_operation", "merge"),
        ("parallel_tasks", 0),
        ("parallel_tasks", "many"),
        ("maximum_retries", -1),
        ("skip_invalid_records", "maybe"),
    ],
)
def test_bad_values_name_their_setting(name, value):
    with pytest.raises(ConfigError, match=name):
        settings(**{name: value})


def test_refresh_token_required_for_refresh_flow_only():
    with pytest.raises(ConfigError, match="refresh_token"):
        parse_settings({**BASE, "refresh_token": ""})
    s = parse_settings({**BASE, "refresh_token": "", "auth_flow": "client_credentials",
                        "login_url": "https://acme.my.salesforce.com"})  # fmt: skip
    assert s.auth_flow == "client_credentials"


def test_secrets_are_not_in_repr():
    text = repr(settings())
    assert "csecret-value" not in text
    assert "rtoken-value" not in text
    assert "cid" in text
