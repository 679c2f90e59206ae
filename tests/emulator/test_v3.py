"""API v3 on accounts without AMPSEA; errors 88 and 89 on the wrong version."""

from __future__ import annotations

import json
from typing import Any

import requests

from pardot_emulator import PardotEmulator

from .conftest import Api, by_email

V3_BATCH = "/api/prospect/version/3/do/{op}?format=json"


def v3_batch(api: Api, op: str, rows: dict[str, Any]) -> requests.Response:
    return api.post(V3_BATCH.format(op=op), data={"prospects": json.dumps({"prospects": rows})})


def test_v4_calls_get_89_without_ampsea(emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    pid = emu.add_prospect("a@example.com")
    r = api.batch("batchUpsert", [{"email": "b@example.com"}])
    assert r.json() == {"@attributes": {"stat": "fail", "version": 1, "err_code": 89},
                        "err": "Your account is unable to use version 4 of the API."}
    r = api.post(f"/api/listMembership/version/4/do/create/list_id/1/prospect_id/{pid}"
                 "?format=json")
    assert r.json()["@attributes"]["err_code"] == 89
    assert [p["email"] for p in emu.prospects()] == ["a@example.com"]
    assert emu.memberships() == []


def test_v3_calls_get_88_with_ampsea(emu: PardotEmulator, api: Api) -> None:
    r = v3_batch(api, "batchUpsert", {"a@example.com": {"first_name": "A"}})
    assert r.json() == {"@attributes": {"stat": "fail", "version": 1, "err_code": 88},
                        "err": "Your account must use version 4 of the API."}
    assert emu.prospects() == []
    assert emu.counters()["calls_by_api_version"] == {"3": 1}


def test_v5_works_on_both_kinds(emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    r = api.upsert_v5({"matchEmail": "a@example.com", "prospect": {"email": "a@example.com"},
                       "fields": ["id"]})
    assert r.status_code == 201


def test_email_only_v3_rows_upsert(emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    old = emu.add_prospect("dup@example.com")
    r = v3_batch(api, "batchUpsert", {"dup@example.com": {"city": "Nice"},
                                      "new@example.com": {"city": "Oslo"}})
    assert r.status_code == 201
    assert r.content == b'{"@attributes":{"stat":"ok","version":1},"errors":{}}'
    r = v3_batch(api, "batchUpsert", {"dup@example.com": {"city": "Rome"},
                                      "new@example.com": {"city": "Oslo"}})
    assert r.status_code == 200  # all updates: nothing created twice
    cities = {p["email"]: (p["id"], p["city"]) for p in emu.prospects()}
    assert cities["dup@example.com"] == (old, "Rome")
    assert len(emu.prospects()) == 2


def test_case_insensitive_matching_updates_the_stored_prospect(
        emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    emu.add_prospect("ann@example.com")
    r = v3_batch(api, "batchUpsert", {"Ann@Example.com": {"first_name": "Ann"}})
    assert r.status_code == 200
    [p] = emu.prospects()
    assert (p["email"], p["first_name"]) == ("ann@example.com", "Ann")


def test_case_sensitive_matching_creates_a_second_prospect(
        emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False, v3_email_case_insensitive=False)
    emu.add_prospect("ann@example.com")
    r = v3_batch(api, "batchUpsert", {"Ann@example.com": {"first_name": "Ann"}})
    assert r.status_code == 201
    assert sorted(p["email"] for p in emu.prospects()) == ["Ann@example.com", "ann@example.com"]


def test_errors_are_keyed_by_identifier(emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    pid = emu.add_prospect("a@example.com")
    r = v3_batch(api, "batchUpsert", {
        str(pid): {"first_name": "A", "list_5": 1},
        "not-an-email": {"first_name": "X"},
        "999999": {"first_name": "Nobody"},
        "b@example.com": {"fid": "00Q1"},
    })
    assert r.status_code == 200
    assert r.json()["errors"] == {
        "not-an-email": "Invalid prospect email address",
        "999999": "Non-existent prospect ID; No email address provided",
        "b@example.com": "One or more of the specified fields are invalid: fid",
    }
    assert [(p["id"], p["first_name"]) for p in emu.prospects()] == [(pid, "A")]
    assert [(m["list_id"], m["prospect_id"]) for m in emu.memberships()] == [(5, pid)]


def test_unknown_id_upserts_by_the_rows_email(emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    pid = emu.add_prospect("a@example.com")
    r = v3_batch(api, "batchUpsert", {"999999": {"email": "a@example.com", "city": "Nice"}})
    assert r.status_code == 200
    assert [(p["id"], p["city"]) for p in by_email(emu, "a@example.com")] == [(pid, "Nice")]


def test_update_and_create_by_email(emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    emu.add_prospect("a@example.com")
    r = v3_batch(api, "batchUpdate", {"b@example.com": {"city": "Nice"}})
    assert r.json()["errors"] == {"b@example.com": "Invalid prospect email address"}
    r = v3_batch(api, "batchCreate", {"a@example.com": {"city": "Nice"}})
    assert r.json()["errors"] == {
        "a@example.com": "A prospect with the specified email address already exists"}


def test_v3_batch_takes_the_documented_keyed_object_only(
        emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    r = api.post(V3_BATCH.format(op="batchUpsert"),
                 data={"prospects": json.dumps({"prospects": [{"email": "a@example.com"}]})})
    assert r.json()["@attributes"]["err_code"] == 71
    rows = {f"p{i}@example.com": {} for i in range(51)}
    assert v3_batch(api, "batchUpsert", rows).json()["@attributes"]["err_code"] == 70


def test_v3_list_memberships_work_without_ampsea(emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    pid = emu.add_prospect("a@example.com")
    r = api.post(f"/api/listMembership/version/3/do/create/list_id/7/prospect_id/{pid}"
                 "?format=json")
    assert r.status_code == 201
    r = v3_batch(api, "batchUpdate", {str(pid): {"list_8": 1, "list_7": 0}})
    assert r.status_code == 200
    assert [(m["list_id"], m["prospect_id"]) for m in emu.memberships()] == [(8, pid)]


V3_SINGLE = "/api/prospect/version/3/do/upsert/{by}/{value}?format=json"


def test_single_upsert_by_unknown_id_updates_the_prospect_with_the_email(
        emu: PardotEmulator, api: Api) -> None:
    # v3 prospects.md, upsert by id: "If a prospect with the provided ID is not found,
    # Pardot searches for a prospect identified by <email>" (wire contract V6).
    emu.configure(ampsea=False)
    pid = emu.add_prospect("a@example.com")
    r = api.post(V3_SINGLE.format(by="id", value="999999"),
                 data={"email": "a@example.com", "city": "Nice"})
    assert r.status_code == 200
    assert r.json()["prospect"]["id"] == pid
    assert [(p["id"], p["city"]) for p in emu.prospects()] == [(pid, "Nice")]


def test_single_upsert_by_unknown_id_creates_when_no_prospect_has_the_email(
        emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    emu.add_prospect("a@example.com")
    r = api.post(V3_SINGLE.format(by="id", value="999999"),
                 data={"email": "b@example.com", "city": "Oslo"})
    assert r.status_code == 201
    assert [p["city"] for p in by_email(emu, "b@example.com")] == ["Oslo"]
    assert len(emu.prospects()) == 2


def test_single_upsert_by_email_matches_the_stored_prospect(
        emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    pid = emu.add_prospect("ann@example.com")
    r = api.post(V3_SINGLE.format(by="email", value="Ann%40Example.com"), data={"city": "Nice"})
    assert r.status_code == 200
    assert [(p["id"], p["email"], p["city"]) for p in emu.prospects()] == [
        (pid, "ann@example.com", "Nice")]


def test_single_upsert_by_fid_is_refused_on_v3(emu: PardotEmulator, api: Api) -> None:
    emu.configure(ampsea=False)
    emu.add_prospect("a@example.com", crm_fid="003000000000001")
    r = api.post(V3_SINGLE.format(by="fid", value="003000000000001"), data={"city": "Oslo"})
    assert r.json()["err"] == "One or more of the specified fields are invalid: fid"
    assert emu.prospects()[0]["city"] is None
