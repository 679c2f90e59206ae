"""The v5 prospect query, and the control endpoints that change prospects between runs."""

from __future__ import annotations

import time

import requests

from pardot_emulator import PardotEmulator

from .conftest import Api

QUERY = "/api/v5/objects/prospects"


def seed(emu: PardotEmulator, n: int) -> list[int]:
    return [emu.add_prospect(f"q{i}@example.com", city="Oslo") for i in range(n)]


def test_fields_are_required_and_only_those_come_back(emu: PardotEmulator, api: Api) -> None:
    seed(emu, 2)
    r = api.get(QUERY)
    assert r.status_code == 400
    assert r.json()["code"] == 153
    r = api.get(QUERY, params={"fields": "id,email"})
    assert r.status_code == 200
    values = r.json()["values"]
    assert [set(v) for v in values] == [{"id", "email"}] * 2
    assert api.get(QUERY, params={"fields": "id,nope"}).json()["code"] == 180


def test_id_filters_combine_and_order_defaults_to_id(emu: PardotEmulator, api: Api) -> None:
    ids = seed(emu, 6)
    r = api.get(QUERY, params={"fields": "id", "idGreaterThan": ids[1],
                               "idLessThanOrEqualTo": ids[4]})  # fmt: skip
    assert [v["id"] for v in r.json()["values"]] == ids[2:5]
    r = api.get(QUERY, params={"fields": "id", "orderBy": "id desc", "limit": 2})
    assert [v["id"] for v in r.json()["values"]] == [ids[5], ids[4]]


def test_updated_at_filter_finds_prospects_changed_since(emu: PardotEmulator, api: Api) -> None:
    ids = []
    for i in range(3):
        ids.append(emu.add_prospect(f"q{i}@example.com"))
        time.sleep(0.005)  # distinct updatedAt values (milliseconds)
    [last] = api.get(QUERY, params={"fields": "updatedAt", "id": ids[2]}).json()["values"]
    since = last["updatedAt"]
    time.sleep(0.005)
    emu.edit_prospect(ids[0], email="moved@example.com")
    r = api.get(QUERY, params={"fields": "id,email", "updatedAtAfter": since})
    assert r.json()["values"] == [{"id": ids[0], "email": "moved@example.com"}]
    r = api.get(QUERY, params={"fields": "id", "updatedAtAfterOrEqualTo": since})
    assert [v["id"] for v in r.json()["values"]] == [ids[0], ids[2]]
    bad = api.get(QUERY, params={"fields": "id", "updatedAtAfter": "yesterday"})
    assert bad.status_code == 400


def test_pages_and_their_token(emu: PardotEmulator, api: Api) -> None:
    ids = seed(emu, 5)
    r = api.get(QUERY, params={"fields": "id", "limit": 2, "idGreaterThan": ids[0]}).json()
    assert [v["id"] for v in r["values"]] == ids[1:3]
    token = r["nextPageToken"]
    nxt = api.get(QUERY, params={"fields": "id", "nextPageToken": token}).json()
    assert [v["id"] for v in nxt["values"]] == ids[3:5]
    assert nxt["nextPageToken"] is None
    refused = api.get(QUERY, params={"fields": "id", "limit": 2, "nextPageToken": token})
    assert refused.status_code == 400
    assert api.get(QUERY, params={"fields": "id", "limit": 1001}).json()["code"] == 23


def test_deleted_prospects_only_on_request(emu: PardotEmulator, api: Api) -> None:
    ids = seed(emu, 2)
    emu.delete_prospect(ids[0])
    live = api.get(QUERY, params={"fields": "id"}).json()["values"]
    assert [v["id"] for v in live] == [ids[1]]
    everything = api.get(QUERY, params={"fields": "id,isDeleted", "deleted": "all"}).json()
    assert everything["values"] == [{"id": ids[0], "isDeleted": True},
                                    {"id": ids[1], "isDeleted": False}]  # fmt: skip


def test_email_filter_returns_every_prospect_with_it(emu: PardotEmulator, api: Api) -> None:
    a = emu.add_prospect("same@example.com")
    b = emu.add_prospect("same@example.com")
    emu.add_prospect("other@example.com")
    r = api.get(QUERY, params={"fields": "id", "email": "same@example.com"})
    assert [v["id"] for v in r.json()["values"]] == [a, b]


def test_control_endpoints_edit_and_delete_a_prospect(emu: PardotEmulator) -> None:
    [pid] = seed(emu, 1)
    url = f"{emu.url}/_emulator/prospects/{pid}"
    r = requests.patch(url, json={"email": "x@example.com", "city": "Rome"}, timeout=5)
    assert r.status_code == 200 and r.json()["email"] == "x@example.com"
    assert requests.patch(url, json={"id": 5}, timeout=5).status_code == 400
    assert requests.delete(url, timeout=5).status_code == 200
    assert emu.prospects() == []
    assert requests.delete(url, timeout=5).status_code == 400
    batch = Api(emu).batch("batchUpdate", [{"id": pid, "city": "Oslo"}])
    assert batch.json()["errors"] == {"0": "Invalid prospect ID"}
