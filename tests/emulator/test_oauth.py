"""POST /services/oauth2/token: grants, bodies, errors."""

from __future__ import annotations

import base64
import threading
import time

import requests

from pardot_emulator import PardotEmulator

from .conftest import BU, get_token


def token_post(emu: PardotEmulator, **form: str) -> requests.Response:
    return requests.post(f"{emu.url}/services/oauth2/token", data=form, timeout=10)


def refresh_form(emu: PardotEmulator, **override: str) -> dict[str, str]:
    form = {"grant_type": "refresh_token", "client_id": emu.client_id,
            "client_secret": emu.client_secret, "refresh_token": emu.refresh_token}
    form.update(override)
    return form


def test_refresh_grant_returns_documented_fields_only(emu: PardotEmulator) -> None:
    r = token_post(emu, **refresh_form(emu))
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at",
                         "signature", "scope"}
    assert "expires_in" not in body and "refresh_token" not in body
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == emu.url
    assert isinstance(body["issued_at"], str) and body["issued_at"].isdigit()
    assert abs(int(body["issued_at"]) - time.time() * 1000) < 60_000
    assert r.headers["Content-Type"].startswith("application/json")


def test_client_credentials_grant(emu: PardotEmulator) -> None:
    r = token_post(emu, grant_type="client_credentials", client_id=emu.client_id,
                   client_secret=emu.client_secret)
    assert r.status_code == 200
    assert r.json()["access_token"]


def test_tokens_are_random_and_all_stay_valid(emu: PardotEmulator) -> None:
    tokens = [get_token(emu) for _ in range(3)]
    assert len(set(tokens)) == 3
    assert emu.issued_tokens() == tokens
    for token in tokens:  # an older token keeps working after a new one is issued
        r = requests.post(f"{emu.url}/api/prospect/version/4/do/batchCreate?format=json",
                          data={"prospects": '{"prospects":[]}'},
                          headers={"Authorization": f"Bearer {token}",
                                   "Pardot-Business-Unit-Id": BU}, timeout=10)
        assert r.status_code == 200, r.text
    assert emu.counters()["tokens_issued"] == 3


def test_bad_refresh_token_body_is_byte_exact(emu: PardotEmulator) -> None:
    r = token_post(emu, **refresh_form(emu, refresh_token="nope"))
    assert r.status_code == 400
    assert r.content == (b'{"error":"invalid_grant",'
                         b'"error_description":"expired access/refresh token"}')


def test_bad_client_id_body_is_byte_exact(emu: PardotEmulator) -> None:
    r = token_post(emu, **refresh_form(emu, client_id="nope"))
    assert r.status_code == 400
    assert r.content == (b'{"error":"invalid_client_id",'
                         b'"error_description":"client identifier invalid"}')


def test_bad_client_secret(emu: PardotEmulator) -> None:
    r = token_post(emu, **refresh_form(emu, client_secret="nope"))
    assert r.status_code == 400
    assert r.content == (b'{"error":"invalid_client",'
                         b'"error_description":"invalid client credentials"}')


def test_unsupported_grant(emu: PardotEmulator) -> None:
    r = token_post(emu, **refresh_form(emu, grant_type="password"))
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


def test_get_is_refused(emu: PardotEmulator) -> None:
    r = requests.get(f"{emu.url}/services/oauth2/token", timeout=10)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_configured_credentials_replace_the_defaults(emu: PardotEmulator) -> None:
    emu.configure(client_id="cid", client_secret="sec", refresh_token="rt")
    assert emu.client_id == "cid"
    assert token_post(emu, grant_type="refresh_token", client_id="cid", client_secret="sec",
                      refresh_token="rt").status_code == 200
    old = token_post(emu, grant_type="refresh_token", client_id="emulator-client-id",
                     client_secret="emulator-client-secret",
                     refresh_token="emulator-refresh-token")
    assert old.json()["error"] == "invalid_client_id"


def test_credentials_in_the_url_are_accepted_and_counted(emu: PardotEmulator) -> None:
    # Salesforce takes grant parameters from the query string (tap-pardot, in production,
    # sends refresh_token there); a secret in a URL ends up in logs, so it is counted.
    r = requests.post(f"{emu.url}/services/oauth2/token?refresh_token={emu.refresh_token}",
                      data=refresh_form(emu), timeout=10)
    assert r.status_code == 200
    assert emu.counters()["token_in_url_violations"] == 1
    assert len(emu.issued_tokens()) == 1


def test_tap_pardots_token_request_basic_client_and_query_grant(emu: PardotEmulator) -> None:
    """tap_pardot/client.py refresh_credentials(): client id and secret as HTTP Basic,
    grant_type and refresh_token as query parameters, no body."""
    basic = base64.b64encode(f"{emu.client_id}:{emu.client_secret}".encode()).decode()
    r = requests.post(f"{emu.url}/services/oauth2/token",
                      params={"grant_type": "refresh_token", "refresh_token": emu.refresh_token},
                      headers={"Authorization": f"Basic {basic}",
                               "Content-Type": "application/x-www-form-urlencoded"},
                      timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["token_type"] == "Bearer"
    assert emu.counters()["token_in_url_violations"] == 1


def test_a_wrong_basic_secret_is_an_invalid_client(emu: PardotEmulator) -> None:
    basic = base64.b64encode(f"{emu.client_id}:wrong".encode()).decode()
    r = requests.post(f"{emu.url}/services/oauth2/token",
                      data={"grant_type": "refresh_token", "refresh_token": emu.refresh_token},
                      headers={"Authorization": f"Basic {basic}"}, timeout=10)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_client",
                        "error_description": "invalid client credentials"}
    assert emu.counters()["token_in_url_violations"] == 0


def test_overlapping_token_requests_get_the_transient_race_error(emu: PardotEmulator) -> None:
    # The "slow" token fault holds the first request in flight for 400 ms.
    emu.configure(token_fault_rate=1.0, fault_kinds="slow", slow_ms=400)
    first: list[requests.Response] = []
    t = threading.Thread(target=lambda: first.append(token_post(emu, **refresh_form(emu))))
    t.start()
    deadline = time.time() + 2
    while emu.app.tokens.requests_in_flight == 0 and time.time() < deadline:
        time.sleep(0.005)
    second = token_post(emu, **refresh_form(emu))
    t.join()
    assert first[0].status_code == 200
    assert second.status_code == 400
    assert second.content == (b'{"error":"invalid_grant",'
                              b'"error_description":"token request is already being processed"}')


def test_race_errors_can_be_switched_off(emu: PardotEmulator) -> None:
    emu.configure(token_fault_rate=1.0, fault_kinds="slow", slow_ms=300, token_race_errors=False)
    results: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: results.append(token_post(emu, **refresh_form(emu))))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200, 200]


def test_token_endpoint_fault(emu: PardotEmulator) -> None:
    emu.configure(token_fault_rate=1.0, fault_kinds="http503")
    r = token_post(emu, **refresh_form(emu))
    assert r.status_code == 503
    assert emu.counters()["faults_injected"] == {"token_http503": 1}
    assert emu.issued_tokens() == []
