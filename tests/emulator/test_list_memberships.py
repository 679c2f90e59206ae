"""List memberships, v4 and v5."""

from __future__ import annotations

import time

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


def seed_list(emu: PardotEmulator, list_id: int, count: int, *, other_list: int = 0) -> list[int]:
    """``count`` members of ``list_id`` (ids ascending); with ``other_list``, every prospect is
    also a member of that list, so that the two lists' memberships interleave."""
    ids = []
    for i in range(count):
        pid = emu.add_prospect(f"l{list_id}-{i}@example.com")
        ids.append(emu.add_membership(list_id, pid))
        if other_list:
            emu.add_membership(other_list, pid)
    return ids


def test_v5_query_follows_tokens_over_several_pages(emu: PardotEmulator, api: Api) -> None:
    ids = seed_list(emu, 4, 3500, other_list=5)
    r = api.get(V5, params={"fields": "id,listId", "listId": 4, "limit": 1000})
    pages = [r.json()["values"]]
    while r.json()["nextPageToken"]:
        r = api.get(V5, params={"fields": "id,listId", "nextPageToken": r.json()["nextPageToken"]})
        assert r.status_code == 200
        pages.append(r.json()["values"])
    assert [len(p) for p in pages] == [1000, 1000, 1000, 500]
    assert [v["id"] for p in pages for v in p] == ids  # "id asc" by default
    assert {v["listId"] for p in pages for v in p} == {4}


def test_v5_query_next_page_url_is_a_complete_request(emu: PardotEmulator, api: Api) -> None:
    ids = seed_list(emu, 4, 450)
    r = api.get(V5, params={"fields": "id", "listId": 4})  # limit defaults to 200
    seen = [v["id"] for v in r.json()["values"]]
    while r.json()["nextPageUrl"]:
        r = api.session.get(r.json()["nextPageUrl"], headers=api.headers)
        seen += [v["id"] for v in r.json()["values"]]
    assert seen == ids


def test_v5_query_token_takes_no_other_parameter(emu: PardotEmulator, api: Api) -> None:
    seed_list(emu, 4, 5)
    token = api.get(V5, params={"fields": "id", "listId": 4, "limit": 2}).json()["nextPageToken"]
    r = api.get(V5, params={"fields": "id", "limit": 2, "nextPageToken": token})
    assert (r.status_code, r.json()["code"]) == (400, 154)
    r = api.get(V5, params={"fields": "id", "listId": 4, "nextPageToken": token})
    assert (r.status_code, r.json()["code"]) == (400, 154)
    r = api.get(V5, params={"fields": "id", "nextPageToken": "garbage!"})
    assert (r.status_code, r.json()) == (400, {"code": 211, "message": "Page token is invalid."})


def test_v5_query_token_expires(emu: PardotEmulator, api: Api) -> None:
    seed_list(emu, 4, 5)
    emu.configure(page_token_ttl_seconds=0)
    token = api.get(V5, params={"fields": "id", "listId": 4, "limit": 2}).json()["nextPageToken"]
    time.sleep(0.01)
    r = api.get(V5, params={"fields": "id", "nextPageToken": token})
    # Pardot's error table: 210 "Page token has expired." (211 is an invalid token)
    assert (r.status_code, r.json()) == (400, {"code": 210, "message": "Page token has expired."})


def test_v5_query_token_sequence_stops_and_id_filter_goes_on(emu: PardotEmulator,
                                                              api: Api) -> None:
    ids = seed_list(emu, 4, 2500, other_list=6)
    emu.configure(page_token_max_records=1000)
    params = {"fields": "id", "listId": 4, "limit": 400, "orderBy": "id asc"}
    seen: list[int] = []
    sequences = []
    while True:
        r = api.get(V5, params={**params, **({"idGreaterThan": seen[-1]} if seen else {})})
        sequence = [v["id"] for v in r.json()["values"]]
        while r.json()["nextPageToken"]:
            r = api.get(V5, params={"fields": "id", "nextPageToken": r.json()["nextPageToken"]})
            sequence += [v["id"] for v in r.json()["values"]]
        seen += sequence
        sequences.append(len(sequence))
        if "Pardot-Warning" not in r.headers:
            break
        assert r.headers["Pardot-Warning"].startswith("203")
        assert r.json()["nextPageUrl"] is None
    # Three pages of 400 per sequence: the cap of 1,000 falls inside the third.
    assert sequences == [1200, 1200, 100]
    assert seen == ids


def test_v5_query_id_filters_and_order(emu: PardotEmulator, api: Api) -> None:
    ids = seed_list(emu, 4, 10)
    r = api.get(V5, params={"fields": "id", "listId": 4, "idGreaterThan": ids[2],
                            "idLessThanOrEqualTo": ids[6], "orderBy": "id DESC"})
    assert [v["id"] for v in r.json()["values"]] == ids[6:2:-1]
    r = api.get(V5, params={"fields": "id", "idGreaterThanOrEqualTo": ids[8],
                            "idLessThan": ids[9]})
    assert [v["id"] for v in r.json()["values"]] == [ids[8]]
    r = api.get(V5, params={"fields": "id", "id": ids[3]})
    assert [v["id"] for v in r.json()["values"]] == [ids[3]]


def test_v5_query_refuses_bad_parameters(emu: PardotEmulator, api: Api) -> None:
    for params, code in (({"listid": 4}, 154), ({"limit": 1001}, 23), ({"limit": 0}, 23),
                         ({"offset": 2001}, 24), ({"orderBy": "email"}, 154),
                         ({"orderBy": "id sideways"}, 154), ({"idGreaterThan": "x"}, 154)):
        r = api.get(V5, params={"fields": "id", **params})
        assert (r.status_code, r.json()["code"]) == (400, code), params


def test_v5_query_needs_fields(api: Api) -> None:
    r = api.get(V5, params={"listId": 4})
    assert (r.status_code, r.json()["code"]) == (400, 153)
    r = api.get(V5, params={"listId": 4, "fields": "id,list_id"})
    assert (r.status_code, r.json()["code"]) == (400, 180)
