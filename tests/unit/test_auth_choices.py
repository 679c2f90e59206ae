"""Pure rules about the auth settings and the messages of auth mistakes."""

from __future__ import annotations

import pytest

from target_pardot.errors import ConfigError
from target_pardot.pardot.auth import business_unit_hint, explain_token_error, token_request_form
from target_pardot.run.connection import auth_config, client_config
from target_pardot.settings import parse_settings

BASE = {
    "client_id": "cid",
    "client_secret": "csecret-value",
    "refresh_token": "rtoken-value",
    "business_unit": "0Uv000000000001AAA",
}


def settings(**overrides):
    return parse_settings({**BASE, **overrides})


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"sandbox": True},
        {"login_url": "https://login.salesforce.com/"},
        {"login_url": "https://TEST.salesforce.com"},
    ],
)
def test_client_credentials_refuse_the_generic_login_hosts(overrides):
    with pytest.raises(ConfigError, match="My Domain"):
        settings(auth_flow="client_credentials", refresh_token="", **overrides)


@pytest.mark.parametrize(
    "login_url",
    ["https://acme.my.salesforce.com", "https://acme--uat.sandbox.my.salesforce.com"],
)
def test_client_credentials_on_a_my_domain(login_url):
    s = settings(auth_flow="client_credentials", refresh_token="", login_url=login_url)
    assert token_request_form(auth_config(s)) == {
        "grant_type": "client_credentials",
        "client_id": "cid",
        "client_secret": "csecret-value",
    }


def test_refresh_token_flow_keeps_the_generic_login_host():
    s = settings()
    assert s.login_url == "https://login.salesforce.com"
    assert token_request_form(auth_config(s))["refresh_token"] == "rtoken-value"


def test_business_unit_hint_on_the_demo_host_through_sandbox():
    hint = business_unit_hint(client_config(settings(sandbox=True)))
    assert "https://pi.demo.pardot.com (from 'sandbox': true)" in hint
    assert "set 'sandbox' to false" in hint


def test_business_unit_hint_on_the_demo_host_through_pardot_domain():
    demo = settings(pardot_domain="https://pi.demo.pardot.com")
    hint = business_unit_hint(client_config(demo))
    assert "(from 'pardot_domain')" in hint
    assert "https://pi.pardot.com" in hint


def test_business_unit_hint_on_the_production_host():
    hint = business_unit_hint(client_config(settings()))
    assert "production host" in hint
    assert "'sandbox': true" in hint


def test_token_errors_name_the_setting_to_fix():
    s = auth_config(settings())
    assert "'refresh_token'" in explain_token_error(
        s, 400, "invalid_grant", "expired access/refresh token"
    )
    assert "'client_id'" in explain_token_error(s, 400, "invalid_client_id", "")
    assert "'client_secret'" in explain_token_error(s, 400, "invalid_client", "")
    cc = settings(auth_flow="client_credentials", login_url="https://acme.my.salesforce.com")
    assert "client credentials flow" in explain_token_error(
        auth_config(cc), 400, "invalid_grant", ""
    )


def test_the_client_configs_keep_secrets_out_of_their_repr():
    s = settings(auth_flow="refresh_token")
    shown = repr(auth_config(s)) + repr(client_config(s))
    assert "csecret-value" not in shown
    assert "rtoken-value" not in shown
    assert "cid" in shown  # the repr is there, only the secrets are left out
