"""The JWT bearer assertion, the key checks and the settings of auth_flow jwt_bearer."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from target_pardot.errors import ConfigError
from target_pardot.pardot.jwt_bearer import (
    JWT_BEARER_GRANT,
    build_assertion,
    explain_refusal,
    load_rsa_key,
    read_private_key_text,
    token_form,
)
from target_pardot.settings import parse_settings
from tests.keys import ec_private_key, key_body_lines, rsa_key_pair

BU = "0Uv000000000001AAA"


def jwt_config(**overrides):
    private, _ = rsa_key_pair()
    config = {
        "auth_flow": "jwt_bearer",
        "client_id": "3MVG9-consumer-key",
        "username": "integration@example.com",
        "private_key": private,
        "business_unit": BU,
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


def test_assertion_claims_are_the_documented_ones():
    private, public = rsa_key_pair()
    key = load_rsa_key(private, "private_key")
    now = 1_700_000_000
    assertion = build_assertion(
        key, client_id="3MVG9", username="u@example.com",
        audience="https://test.salesforce.com", now=now,
    )
    assert jwt.get_unverified_header(assertion)["alg"] == "RS256"
    claims = jwt.decode(
        assertion, public, algorithms=["RS256"], audience="https://test.salesforce.com",
        options={"verify_exp": False},
    )
    assert claims == {
        "iss": "3MVG9", "sub": "u@example.com", "aud": "https://test.salesforce.com",
        "exp": now + 150,
    }
    # A few minutes ahead: Salesforce refuses an exp further than about three minutes.
    assert 60 <= claims["exp"] - now <= 180
    assert token_form(assertion) == {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}


def test_each_assertion_is_signed_anew_with_a_fresh_expiry():
    key = load_rsa_key(rsa_key_pair()[0], "private_key")
    first = build_assertion(key, client_id="c", username="u", audience="a", now=1000)
    later = build_assertion(key, client_id="c", username="u", audience="a", now=2000)
    assert first != later


def test_settings_need_no_secret_and_pick_the_audience_from_sandbox():
    settings = parse_settings(jwt_config())
    assert settings.auth_flow == "jwt_bearer"
    assert settings.client_secret == ""
    assert settings.username == "integration@example.com"
    # The key is a secret: the log redactor knows it and every line of its body.
    for line in key_body_lines(settings.private_key):
        assert line in settings.secrets
    assert "BEGIN PRIVATE KEY" not in repr(settings)


def test_username_is_required():
    with pytest.raises(ConfigError, match="'username'"):
        parse_settings(jwt_config(username=None))


def test_a_key_or_a_key_file_is_required():
    with pytest.raises(ConfigError, match=r"'private_key'.*'private_key_path'"):
        parse_settings(jwt_config(private_key=None))


def test_the_key_can_come_from_a_file(tmp_path):
    path = tmp_path / "server.key"
    path.write_text(rsa_key_pair()[0])
    settings = parse_settings(jwt_config(private_key=None, private_key_path=str(path)))
    assert settings.private_key.strip() == rsa_key_pair()[0].strip()
    assert settings.private_key_path == str(path)


def test_an_unreadable_key_file_names_the_setting(tmp_path):
    missing = tmp_path / "nope.key"
    with pytest.raises(ConfigError) as caught:
        parse_settings(jwt_config(private_key=None, private_key_path=str(missing)))
    assert "'private_key_path'" in str(caught.value)
    assert "No such file" in str(caught.value)


def test_a_file_that_is_not_a_key_names_the_setting_and_echoes_nothing(tmp_path):
    path = tmp_path / "cert.pem"
    path.write_text(
        "-----BEGIN CERTIFICATE-----\nMIIBsecretlookingline\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(jwt_config(private_key=None, private_key_path=str(path)))
    message = str(caught.value)
    assert "'private_key_path' is not a PEM private key" in message
    assert "MIIBsecretlookingline" not in message


def test_a_non_rsa_key_is_refused():
    pem = ec_private_key()
    with pytest.raises(ConfigError) as caught:
        parse_settings(jwt_config(private_key=pem))
    message = str(caught.value)
    assert "'private_key'" in message and "needs an RSA key" in message
    assert not any(line in message for line in key_body_lines(pem))


def test_an_encrypted_key_is_refused_with_advice():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    with pytest.raises(ConfigError, match="'private_key' holds an encrypted private key"):
        parse_settings(jwt_config(private_key=pem))


def test_a_key_pasted_with_escaped_newlines_works():
    private, _ = rsa_key_pair()
    load_rsa_key(private.replace("\n", "\\n"), "private_key")


def test_read_private_key_text_prefers_the_inline_key(tmp_path):
    assert read_private_key_text("PEM", str(tmp_path / "unused")) == ("PEM", "private_key")


@pytest.mark.parametrize(
    ("error", "description", "names"),
    [
        ("invalid_grant", "user hasn't approved this consumer", "'username'"),
        ("invalid_grant", "Audience validation failed", "'sandbox'"),
        ("invalid_grant", "invalid assertion", "'private_key'"),
        ("invalid_client_id", "client identifier invalid", "'client_id'"),
        ("invalid_grant", "something new", "'username', 'private_key'"),
    ],
)
def test_each_refusal_names_the_setting_to_fix(error, description, names):
    line = explain_refusal(f"refused ({error}: {description})", error, description)
    assert names in line
    assert "\n" not in line


def test_the_assertion_expires_within_minutes_of_now():
    key = load_rsa_key(rsa_key_pair()[0], "private_key")
    assertion = build_assertion(key, client_id="c", username="u", audience="a")
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert 0 < claims["exp"] - time.time() <= 180
