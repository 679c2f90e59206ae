"""Bearer token and business unit checks on every Pardot call."""

from __future__ import annotations

import requests

from pardot_emulator import PardotEmulator

from .conftest import BU, Api, get_token

BATCH = "/api/prospect/version/4/do/batchUpsert?format=json"
V5_UPSERT = "/api/v5/objects/prospects/do/upsertLatestByEmail"
ROWS = {"prospects": '{"prospects":[{"email":"a@example.com"}]}'}
V4_184 = (b'{"@attributes":{"stat":"fail","version":1,"err_code":184},'
          b'"err":"access_token is invalid, unknown, or malformed"}')
V5_184 = b'{"code":184,"message":"access_token is invalid, unknown, or malformed"}'


def post(emu: PardotEmulator, path: str, headers: dict[str, str], **kw: object
         ) -> requests.Response:
    return requests.post(emu.url + path, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


def test_missing_token_is_184_with_401(emu: PardotEmulator) -> None:
    r = post(emu, BATCH, {"Pardot-Business-Unit-Id": BU}, data=ROWS)
    assert r.status_code == 401
    assert r.content == V4_184
    assert emu.prospects() == []


def test_unknown_token_is_184(emu: PardotEmulator) -> None:
    r = post(emu, BATCH, {"Authorization": "Bearer 00Dnope", "Pardot-Business-Unit-Id": BU},
             data=ROWS)
    assert (r.status_code, r.content) == (401, V4_184)


def test_non_bearer_scheme_is_184(emu: PardotEmulator) -> None:
    token = get_token(emu)
    r = post(emu, BATCH, {"Authorization": f"Basic {token}", "Pardot-Business-Unit-Id": BU},
             data=ROWS)
    assert r.status_code == 401


def test_184_status_can_be_400(emu: PardotEmulator) -> None:
    emu.configure(auth_error_status=400)
    r = post(emu, BATCH, {"Authorization": "Bearer nope", "Pardot-Business-Unit-Id": BU},
             data=ROWS)
    assert (r.status_code, r.content) == (400, V4_184)


def test_184_on_v5_uses_the_v5_envelope(emu: PardotEmulator) -> None:
    r = post(emu, V5_UPSERT, {"Authorization": "Bearer nope", "Pardot-Business-Unit-Id": BU},
             json={"matchEmail": "a@example.com", "prospect": {}, "fields": ["id"]})
    assert (r.status_code, r.content) == (401, V5_184)


def test_184_can_come_back_as_xml(emu: PardotEmulator) -> None:
    emu.configure(auth_error_xml=True)
    r = post(emu, BATCH, {"Authorization": "Bearer nope", "Pardot-Business-Unit-Id": BU},
             data=ROWS)
    assert r.status_code == 401
    assert r.headers["Content-Type"].startswith("text/xml")
    assert b'<err code="184">access_token is invalid, unknown, or malformed</err>' in r.content


def test_missing_business_unit_body_is_byte_exact(emu: PardotEmulator) -> None:
    token = get_token(emu)
    r = post(emu, BATCH, {"Authorization": f"Bearer {token}"}, data=ROWS)
    assert r.content == (b'{"@attributes":{"stat":"fail","version":1,"err_code":181},'
                         b'"err":"A required header is missing: Pardot-Business-Unit-Id header '
                         b'not found on request."}')
    assert emu.prospects() == []


def test_wrong_business_unit_is_201(emu: PardotEmulator) -> None:
    token = get_token(emu)
    r = post(emu, BATCH, {"Authorization": f"Bearer {token}",
                          "Pardot-Business-Unit-Id": "0Uv000000000002AAA"}, data=ROWS)
    body = r.json()
    assert body["@attributes"]["err_code"] == 201
    assert body["err"] == ("Business Unit specified in Pardot-Business-Unit-Id header not found "
                           "or inactive.")
    assert emu.prospects() == []


def test_business_unit_is_configurable(emu: PardotEmulator) -> None:
    emu.configure(business_unit="0Uv00000000000XAAA")
    token = get_token(emu)
    r = post(emu, BATCH, {"Authorization": f"Bearer {token}",
                          "Pardot-Business-Unit-Id": "0Uv00000000000XAAA"}, data=ROWS)
    assert r.status_code == 201


def test_token_in_query_string_is_rejected_and_counted(emu: PardotEmulator, api: Api) -> None:
    r = api.post(f"{BATCH}&access_token={api.token}", data=ROWS)
    assert (r.status_code, r.content) == (401, V4_184)
    assert emu.counters()["token_in_url_violations"] == 1
    assert emu.prospects() == []


def test_token_in_form_body_is_rejected_and_counted(emu: PardotEmulator, api: Api) -> None:
    r = api.post(BATCH, data={**ROWS, "access_token": api.token})
    assert r.status_code == 401
    assert emu.counters()["token_in_url_violations"] == 1


def test_api_key_is_rejected_and_counted(emu: PardotEmulator, api: Api) -> None:
    r = api.post(f"{BATCH}&api_key=abc", data=ROWS)
    assert r.status_code == 401
    assert emu.counters()["token_in_url_violations"] == 1


def test_token_in_url_is_checked_before_the_header(emu: PardotEmulator) -> None:
    # Even with no valid header at all, the violation is what gets reported and counted.
    r = post(emu, f"{BATCH}&access_token=x", {}, data=ROWS)
    assert r.status_code == 401
    assert emu.counters()["token_in_url_violations"] == 1


def test_expire_tokens_forces_184(emu: PardotEmulator, api: Api) -> None:
    assert api.batch("batchCreate", []).status_code == 200
    assert emu.expire_tokens() == 1
    assert api.batch("batchCreate", []).status_code == 401
