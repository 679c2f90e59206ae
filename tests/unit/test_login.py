"""The pure pieces of target-pardot-login: PKCE, the authorize URL, the callback."""

from __future__ import annotations

import json
import stat
from urllib.parse import parse_qs, urlsplit

import pytest

from target_pardot.login import (
    LoginConfigError,
    LoginError,
    authorize_url,
    check_redirect_uri,
    code_from_callback,
    merge_into_config,
    new_verifier,
    pkce_challenge,
)


def test_pkce_matches_the_rfc_7636_example():
    assert pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_verifiers_are_long_random_and_unreserved():
    first, second = new_verifier(), new_verifier()
    assert first != second
    assert 43 <= len(first) <= 128
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def test_authorize_url_carries_the_challenge_not_the_verifier():
    url = authorize_url("https://login.salesforce.com", "3MVG9", "http://localhost:8080/callback",
                        "CHALLENGE", "STATE")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://login.salesforce.com/services/oauth2/authorize")
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "response_type": "code", "client_id": "3MVG9",
        "redirect_uri": "http://localhost:8080/callback", "code_challenge": "CHALLENGE",
        "code_challenge_method": "S256", "state": "STATE",
    }


def test_authorize_url_carries_scope_only_when_asked():
    # R2b: without --scope the connected app's own scopes apply; with it, space-separated
    url = authorize_url("https://login.salesforce.com", "3MVG9", "http://localhost:8080/callback",
                        "CHALLENGE", "STATE", scope="refresh_token pardot_api")
    assert parse_qs(urlsplit(url).query)["scope"] == ["refresh_token pardot_api"]
    assert "scope=refresh_token+pardot_api" in url


def test_callback_gives_the_code_when_the_state_matches():
    assert code_from_callback({"code": "aPrx1", "state": "s"}, "s") == "aPrx1"
    with pytest.raises(LoginError, match="state does not match"):
        code_from_callback({"code": "aPrx1", "state": "other"}, "s")


@pytest.mark.parametrize("error", ["access_denied", "access-denied"])
def test_a_denial_in_either_spelling_is_access_denied(error):
    # Salesforce's errors page shows the web-server flow's denial as access-denied.
    with pytest.raises(LoginError, match="access denied"):
        code_from_callback({"error": error, "state": "s"}, "s")


def test_other_errors_quote_salesforce():
    with pytest.raises(LoginError, match=r"OAUTH_APP_BLOCKED: this app is blocked"):
        code_from_callback({"error": "OAUTH_APP_BLOCKED",
                            "error_description": "this app is blocked"}, "s")


@pytest.mark.parametrize(
    "uri", ["https://localhost:8080/cb", "http://example.com:8080/cb", "http://localhost/cb"]
)
def test_the_redirect_must_be_a_loopback_http_uri_with_a_port(uri):
    with pytest.raises(LoginConfigError):
        check_redirect_uri(uri)


def test_merge_keeps_other_keys_and_makes_the_file_private(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"client_id": "c", "refresh_token": "old"}))
    path.chmod(0o644)
    merge_into_config(path, "5Aep-new")
    assert json.loads(path.read_text()) == {
        "client_id": "c", "refresh_token": "5Aep-new", "auth_flow": "refresh_token"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"], "no temp file left"


def test_merge_keeps_an_explicit_auth_flow(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auth_flow": "refresh_token", "sandbox": True}))
    merge_into_config(path, "t")
    assert json.loads(path.read_text())["sandbox"] is True
