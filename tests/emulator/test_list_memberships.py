"""List memberships, v4 and v5."""

from __future__ import annotations

from pardot_emulator import PardotEmulator

from .conftest import Api

V4 = "/api/listMembership/version/4/do/{action}/list_id/{list_id}/prospect_id/{pid}?format=json"
V4_ID = "/api/listMembership/version/4/do/{action}/id/{mid}?format=json"
V5 = "/api/v5/objects/list-memberships"


def v4_err(code: int, message: str) -> dict[str, object]:
    return {"@attributes": {"stat": "fail", "version": 1, "err_code": code}, "err": message}


# --------------------------------------------------------------------------- v4

def test_v4_create_is_201_with_the_membership(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com")
    r = api.post(V4.format(action="create", list_id=3, pid=pid))
    assert r.status_code == 201
    body = r.json()
    assert body["@attributes"] == {"stat": "ok", "version": 1}
    lm = body["list_membership"]
    assert (lm["list_id"], lm["prospect_id"], lm["opted_out"]) == (3, pid, False)
    assert emu.memberships() == [{"id": lm["id"], "list_id": 3, "prospect_id": pid,
                                  "opted_out": False}]


def test_v4_create_with_opted_out(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com")
    r = api.post(V4.format(action="create", list_id=3, pid=pid), data={"opted_out": "true"})
    assert r.json()["list_membership"]["opted_out"] is True


def test_v4_duplicate_create_is_58(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com")
    emu.add_membership(3, pid)
    r = api.post(V4.format(action="create", list_id=3, pid=pid))
    assert r.status_code == 400
    assert r.json() == v4_err(58, "That prospect is already a member of that list. "
                                  "Update the membership instead.")
    assert len(emu.memberships()) == 1


def test_v4_unknown_prospect_is_3(emu: PardotEmulator, api: Api) -> None:
    r = api.post(V4.format(action="create", list_id=3, pid=424242))
    assert r.json() == v4_err(3, "Invalid prospect ID")


def test_v4_deleted_prospect_is_3(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com", deleted=True)
    r = api.post(V4.format(action="create", list_id=3, pid=pid))
    assert r.json()["@attributes"]["err_code"] == 3


def test_v4_unknown_list_is_55(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com")
    r = api.post(V4.format(action="create", list_id=1001, pid=pid))
    assert r.json() == v4_err(55, "Invalid list ID")
    assert emu.memberships() == []


def test_v4_read_update_delete_by_list_and_prospect(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com")
    mid = emu.add_membership(8, pid)
    r = api.post(V4.format(action="read", list_id=8, pid=pid))
    assert (r.status_code, r.json()["list_membership"]["id"]) == (200, mid)
    r = api.post(V4.format(action="update", list_id=8, pid=pid), data={"opted_out": "1"})
    assert r.json()["list_membership"]["opted_out"] is True
    r = api.post(V4.format(action="delete", list_id=8, pid=pid))
    assert (r.status_code, r.content) == (204, b"")
    assert emu.memberships() == []


def test_v4_read_update_delete_by_id(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com")
    mid = emu.add_membership(8, pid, opted_out=True)
    r = api.get(V4_ID.format(action="read", mid=mid))
    assert r.json()["list_membership"]["opted_out"] is True
    r = api.post(V4_ID.format(action="update", mid=mid), data={"opted_out": "false"})
    assert r.json()["list_membership"]["opted_out"] is False
    r = api.post(V4_ID.format(action="delete", mid=mid))
    assert (r.status_code, r.content) == (204, b"")
    r = api.post(V4_ID.format(action="read", mid=mid))
    assert r.status_code == 400
    assert r.json()["@attributes"]["err_code"] == 109


def test_v4_update_without_opted_out_changes_nothing(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com")
    mid = emu.add_membership(8, pid, opted_out=True)
    r = api.post(V4_ID.format(action="update", mid=mid))
    assert r.json()["list_membership"]["opted_out"] is True


def test_v4_missing_membership_by_pair(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com")
    r = api.post(V4.format(action="delete", list_id=8, pid=pid))
    assert r.json()["@attributes"]["err_code"] == 109


def test_v4_lists_are_configurable(emu: PardotEmulator, api: Api) -> None:
    emu.configure(lists=[2000])
    pid = emu.add_prospect("m@example.com")
    assert api.post(V4.format(action="create", list_id=2000, pid=pid)).status_code == 201
    assert api.post(V4.format(action="create", list_id=1, pid=pid)).json()[
        "@attributes"]["err_code"] == 55


# --------------------------------------------------------------------------- v5

def test_v5_create_patch_delete(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com")
    r = api.post(V5, json={"listId": 4, "prospectId": pid, "optedOut": False})
    assert r.status_code == 201
    created = r.json()
    assert created == {"id": created["id"], "listId": 4, "prospectId": pid, "optedOut": False}
    r = api.request("PATCH", f"{V5}/{created['id']}", json={"optedOut": True})
    assert (r.status_code, r.json()["optedOut"]) == (200, True)
    assert emu.memberships()[0]["opted_out"] is True
    r = api.request("DELETE", f"{V5}/{created['id']}")
    assert (r.status_code, r.content) == (204, b"")
    assert emu.memberships() == []
    r = api.request("DELETE", f"{V5}/{created['id']}")
    assert r.status_code == 404
    assert r.json()["code"] == 192


def test_v5_create_errors(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("m@example.com")
    emu.add_membership(4, pid)
    assert api.post(V5, json={"listId": 4, "prospectId": pid}).json()["code"] == 58
    assert api.post(V5, json={"listId": 4, "prospectId": 1}).json()["code"] == 3
    assert api.post(V5, json={"listId": 99999, "prospectId": pid}).json()["code"] == 55
    r = api.post(V5, json={"listId": 4})
    assert (r.status_code, r.json()["code"]) == (400, 153)
    r = api.post(V5, json={"listId": "4", "prospectId": pid})
    assert (r.status_code, r.json()["code"]) == (400, 154)


def test_v5_query_by_list_and_prospect(emu: PardotEmulator, api: Api) -> None:
    a = emu.add_prospect("a@example.com")
    b = emu.add_prospect("b@example.com")
    m1 = emu.add_membership(4, a)
    m2 = emu.add_membership(4, b, opted_out=True)
    emu.add_membership(5, a)
    r = api.get(V5, params={"fields": "id,listId,prospectId,optedOut", "listId": 4})
    assert r.status_code == 200
    assert r.json() == {"values": [
        {"id": m1, "listId": 4, "prospectId": a, "optedOut": False},
        {"id": m2, "listId": 4, "prospectId": b, "optedOut": True}],
        "nextPageToken": None, "nextPageUrl": None}
    r = api.get(V5, params={"fields": "id", "listId": 4, "prospectId": b})
    assert r.json()["values"] == [{"id": m2}]


def test_v5_query_pages(emu: PardotEmulator, api: Api) -> None:
    ids = [emu.add_membership(4, emu.add_prospect(f"p{i}@example.com")) for i in range(5)]
    r = api.get(V5, params={"fields": "id", "listId": 4, "limit": 2})
    seen = [v["id"] for v in r.json()["values"]]
    while r.json()["nextPageToken"]:
        r = api.get(V5, params={"fields": "id", "listId": 4, "limit": 2,
                                "nextPageToken": r.json()["nextPageToken"]})
        seen += [v["id"] for v in r.json()["values"]]
    assert seen == ids


def test_v5_query_needs_fields(api: Api) -> None:
    r = api.get(V5, params={"listId": 4})
    assert (r.status_code, r.json()["code"]) == (400, 153)
    r = api.get(V5, params={"listId": 4, "fields": "id,list_id"})
    assert (r.status_code, r.json()["code"]) == (400, 180)
