"""The web-server flow (authorize + authorization_code with PKCE), the JWT bearer grant
and x-api-usage, driven over real HTTP. Assertions are signed with PyJWT here; the
emulator verifies them with cryptography alone."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from pardot_emulator import PardotEmulator
from tests.keys import rsa_key_pair

from .conftest import BU, get_token

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REDIRECT = "http://localhost:8080/callback"
USER = "integration@example.com"


def assertion(emu: PardotEmulator, *, key: str | None = None, **claims: object) -> str:
    body: dict[str, object] = {"iss": emu.client_id, "sub": USER,
                               "aud": "https://login.salesforce.com",
                               "exp": int(time.time()) + 120}
    body.update(claims)
    return jwt.encode(body, key or rsa_key_pair()[0], algorithm="RS256")


def jwt_grant(emu: PardotEmulator, token: str) -> requests.Response:
    return requests.post(f"{emu.url}/services/oauth2/token",
                         data={"grant_type": JWT_GRANT, "assertion": token}, timeout=10)


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()


def authorize(emu: PardotEmulator, verifier: str = "v" * 50, **override: str):
    params = {"response_type": "code", "client_id": emu.client_id, "redirect_uri": REDIRECT,
              "code_challenge": challenge_of(verifier), "code_challenge_method": "S256",
              "state": "st4te"}
    params.update(override)
    return requests.get(f"{emu.url}/services/oauth2/authorize", params=params,
                        allow_redirects=False, timeout=10)


def redirect_query(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(emu: PardotEmulator, code: str, verifier: str = "v" * 50, **override: str):
    form = {"grant_type": "authorization_code", "code": code, "client_id": emu.client_id,
            "client_secret": emu.client_secret, "redirect_uri": REDIRECT,
            "code_verifier": verifier}
    form.update(override)
    return requests.post(f"{emu.url}/services/oauth2/token", data=form, timeout=10)


# -- web-server flow ------------------------------------------------------------------


def test_authorize_redirects_at_once_with_a_code_and_the_state(emu: PardotEmulator) -> None:
    query = redirect_query(authorize(emu))
    assert query["state"] == "st4te" and query["code"]
    reply = exchange(emu, query["code"])
    assert reply.status_code == 200
    body = reply.json()
    assert body["refresh_token"] == emu.refresh_token
    assert body["token_type"] == "Bearer" and body["access_token"]


def test_a_code_works_once(emu: PardotEmulator) -> None:
    code = redirect_query(authorize(emu))["code"]
    assert exchange(emu, code).status_code == 200
    again = exchange(emu, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_the_pkce_verifier_is_checked(emu: PardotEmulator) -> None:
    code = redirect_query(authorize(emu))["code"]
    wrong = exchange(emu, code, verifier="w" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = redirect_query(authorize(emu))["code"]
    missing = exchange(emu, code, code_verifier="")
    assert missing.status_code == 400


def test_the_redirect_uri_must_match_and_the_client_must_authenticate(emu) -> None:
    code = redirect_query(authorize(emu))["code"]
    other = exchange(emu, code, redirect_uri="http://localhost:9999/callback")
    assert other.json()["error"] == "redirect_uri_mismatch"
    code = redirect_query(authorize(emu))["code"]
    assert exchange(emu, code, client_secret="nope").json()["error"] == "invalid_client"


def test_a_denial_redirects_with_access_denied(emu: PardotEmulator) -> None:
    emu.configure(authorize_outcome="deny")
    query = redirect_query(authorize(emu))
    assert query["error"] == "access_denied" and "code" not in query
    assert query["state"] == "st4te"


def test_an_unknown_client_or_a_remote_redirect_gets_no_redirect(emu) -> None:
    assert authorize(emu, client_id="3MVG9-unknown").status_code == 400
    assert authorize(emu, redirect_uri="https://evil.example.com/cb").status_code == 400


# -- JWT bearer -----------------------------------------------------------------------


def test_a_good_assertion_gets_a_token_without_a_secret(emu: PardotEmulator) -> None:
    emu.configure(jwt_public_key=rsa_key_pair()[1])
    reply = jwt_grant(emu, assertion(emu))
    assert reply.status_code == 200
    body = reply.json()
    assert "refresh_token" not in body and body["access_token"]
    pardot = requests.post(
        f"{emu.url}/api/v5/objects/prospects/do/upsertLatestByEmail",
        json={"matchEmail": "j@example.com", "prospect": {"email": "j@example.com"},
              "secondaryDeletedSearch": True, "fields": ["id"]},
        headers={"Authorization": f"Bearer {body['access_token']}",
                 "Pardot-Business-Unit-Id": BU}, timeout=10)
    assert pardot.status_code == 201


def test_each_claim_is_checked(emu: PardotEmulator) -> None:
    emu.configure(jwt_public_key=rsa_key_pair()[1])
    cases = {
        "expired": (assertion(emu, exp=int(time.time()) - 5), "expired authorization code"),
        "too far ahead": (assertion(emu, exp=int(time.time()) + 3600), "invalid assertion"),
        "audience": (assertion(emu, aud="https://test.salesforce.com"),
                     "Audience validation failed"),
        "user": (assertion(emu, sub="someone@example.com"),
                 "user hasn't approved this consumer"),
        "wrong key": (assertion(emu, key=rsa_key_pair("other")[0]), "invalid assertion"),
        "garbage": ("not.a.jwt", "invalid assertion"),
    }
    for name, (token, description) in cases.items():
        reply = jwt_grant(emu, token)
        assert reply.status_code == 400, name
        assert reply.json() == {"error": "invalid_grant", "error_description": description}, name
    wrong_issuer = jwt_grant(emu, assertion(emu, iss="3MVG9-other"))
    assert wrong_issuer.json()["error"] == "invalid_client_id"


def test_the_clock_offset_makes_a_fresh_assertion_expired(emu: PardotEmulator) -> None:
    emu.configure(jwt_public_key=rsa_key_pair()[1], clock_offset_seconds=600)
    # Salesforce's text for an expired assertion, as JWT clients' users quote it
    assert jwt_grant(emu, assertion(emu)).json() == {
        "error": "invalid_grant", "error_description": "expired authorization code"}


def test_without_a_public_key_every_assertion_is_refused(emu: PardotEmulator) -> None:
    assert jwt_grant(emu, assertion(emu)).status_code == 400


# -- x-api-usage ----------------------------------------------------------------------


def upsert(emu: PardotEmulator, token: str, **headers: str) -> requests.Response:
    return requests.post(
        f"{emu.url}/api/v5/objects/prospects/do/upsertLatestByEmail",
        json={"matchEmail": "q@example.com", "prospect": {"email": "q@example.com"},
              "fields": ["id"]},
        headers={"Authorization": f"Bearer {token}", "Pardot-Business-Unit-Id": BU, **headers},
        timeout=10)


def test_usage_is_reported_only_when_asked(emu: PardotEmulator) -> None:
    token = get_token(emu)
    assert "x-api-usage" not in upsert(emu, token).headers
    assert upsert(emu, token, **{"X-Return-Api-Usage": "1"}).headers["x-api-usage"] == (
        "2/100000")
    emu.configure(daily_limit=500, others_daily_calls=100)
    assert upsert(emu, token, **{"X-Return-Api-Usage": "true"}).headers["x-api-usage"] == (
        "103/500")


def test_usage_can_be_unparseable_or_absent(emu: PardotEmulator) -> None:
    token = get_token(emu)
    emu.configure(api_usage_header="raw")
    raw = upsert(emu, token, **{"X-Return-Api-Usage": "1"}).headers["x-api-usage"]
    assert "/" not in raw
    emu.configure(api_usage_header="off")
    assert "x-api-usage" not in upsert(emu, token, **{"X-Return-Api-Usage": "1"}).headers


def test_other_integrations_calls_count_toward_the_daily_limit(emu) -> None:
    token = get_token(emu)
    emu.configure(daily_limit=3, others_daily_calls=2)
    assert upsert(emu, token).status_code == 201
    assert upsert(emu, token).json()["code"] == 122
    requests.post(f"{emu.url}/_emulator/new-day", timeout=10)
    reply = upsert(emu, token, **{"X-Return-Api-Usage": "1"})
    assert reply.status_code == 200 and reply.headers["x-api-usage"] == "1/3"
