"""v4 reads: prospect query and read, lists as objects, list-membership query, describe.

The expectations restate pardot/api-docs (docs/kb/api-version-4/prospects.md, lists.md,
list-memberships.md, bulk-data-pull.md, object-field-references.md, error-codes-messages.md),
the recorded prospect read of grouparoo's Pardot plugin (fixtures/export-profiles.js),
and what tap-pardot (streams.py, discover.py) and PyPardotSF (objects/*.py) parse.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from pardot_emulator import PardotEmulator
from tests.emulator.conftest import Api

QUERY = "/api/prospect/version/4/do/query"
PARDOT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
#: The recorded v4 prospect read's fields, in its order (grouparoo fixture, 2021).
RECORDED_FIELDS = [
    "id", "campaign_id", "salutation", "first_name", "last_name", "email", "password",
    "company", "website", "job_title", "department", "country", "address_one", "address_two",
    "city", "state", "territory", "zip", "phone", "fax", "source", "annual_revenue",
    "employees", "industry", "years_in_business", "comments", "notes", "score", "grade",
    "last_activity_at", "recent_interaction", "crm_lead_fid", "crm_contact_fid",
    "crm_owner_fid", "crm_account_fid", "salesforce_fid", "crm_last_sync", "crm_url",
    "is_do_not_email", "is_do_not_call", "opted_out", "is_reviewed", "is_starred",
    "created_at", "updated_at",
]  # fmt: skip


def at(emu: PardotEmulator, moment: str | None) -> None:
    emu.configure(frozen_time=moment)


def load(api: Api, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 50):
        reply = api.batch("batchUpsert", rows[start:start + 50])
        assert reply.status_code in (200, 201), reply.text
        assert reply.json()["errors"] == {}


def people(first: int, count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"email": f"p{i}@example.com", "first_name": f"F{i}", **extra}
            for i in range(first, first + count)]


def query(api: Api, method: str = "GET", **params: Any) -> dict[str, Any]:
    reply = api.request(method, QUERY, params={"format": "json", **params})
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    return dict(reply.json())


def ids_of(result: dict[str, Any] | None, key: str = "prospect") -> list[int]:
    if result is None or key not in result:
        return []
    items = result[key]
    return [item["id"] for item in ([items] if isinstance(items, dict) else items)]


def test_query_pages_by_updated_after_strictly_after_the_second(emu: PardotEmulator,
                                                                 api: Api) -> None:
    at(emu, "2024-03-01 10:00:00")
    load(api, people(0, 3))
    at(emu, "2024-03-01 10:00:01")
    load(api, people(3, 2))
    body = query(api, updated_after="2024-03-01 10:00:00", sort_by="updated_at",
                 sort_order="ascending")
    assert body["@attributes"] == {"stat": "ok", "version": 1}
    assert body["result"]["total_results"] == 2
    assert [p["email"] for p in body["result"]["prospect"]] == ["p3@example.com",
                                                                "p4@example.com"]
    assert body["result"]["prospect"][0]["updated_at"] == "2024-03-01 10:00:01"
    # GNU date input with a T and a zone, and a keyword, are accepted too.
    assert query(api, updated_after="2024-03-01T09:59:59Z")["result"]["total_results"] == 5
    assert query(api, updated_after="yesterday")["result"]["total_results"] in (0, 5)


def test_a_single_match_is_an_object_several_an_array_none_only_a_count(
        emu: PardotEmulator, api: Api) -> None:
    load(api, people(0, 2))
    one = query(api, limit=1)["result"]
    assert one["total_results"] == 2
    assert isinstance(one["prospect"], dict)
    assert isinstance(query(api)["result"]["prospect"], list)
    assert query(api, id_greater_than=10**9)["result"] == {"total_results": 0}


def test_bulk_output_omits_total_results_and_answers_null_when_empty(emu: PardotEmulator,
                                                                     api: Api) -> None:
    load(api, people(0, 3))
    bulk = query(api, output="bulk", sort_by="id")["result"]
    assert "total_results" not in bulk
    assert len(bulk["prospect"]) == 3
    assert "campaign" not in bulk["prospect"][0]
    last = bulk["prospect"][-1]["id"]
    assert query(api, output="bulk", id_greater_than=last)["result"] is None


def test_id_paging_limit_offset_and_sort_order(emu: PardotEmulator, api: Api) -> None:
    at(emu, "2024-03-01 10:00:00")
    load(api, people(0, 200))
    at(emu, "2024-03-01 10:00:07")
    load(api, people(200, 50))
    first = query(api, sort_by="id", sort_order="ascending")["result"]
    assert first["total_results"] == 250
    assert len(first["prospect"]) == 200  # "200 prospects will be returned with each query"
    rest = query(api, sort_by="id", id_greater_than=ids_of(first)[-1])["result"]
    assert ids_of(first) + ids_of(rest) == sorted(ids_of(first) + ids_of(rest))
    assert len(set(ids_of(first) + ids_of(rest))) == 250
    assert ids_of(query(api, sort_by="id", offset=240)["result"]) == ids_of(rest)[-10:]
    descending = ids_of(query(api, sort_by="id", sort_order="descending", limit=3)["result"])
    assert descending == sorted(ids_of(rest), reverse=True)[:3]
    # updated_at sorts descending unless asked otherwise (prospects.md, sorting options);
    # within one second, by id.
    newest = query(api, sort_by="updated_at", limit=1)["result"]["prospect"]
    assert newest["id"] == min(ids_of(rest))
    assert newest["updated_at"] == "2024-03-01 10:00:07"


@pytest.mark.parametrize(("params", "code", "message"), [
    ({"limit": 201}, 23, "Invalid value specified for limit"),
    ({"limit": "x"}, 23, "Invalid value specified for limit"),
    ({"offset": "x"}, 21, "Invalid value specified for offset"),
    ({"sort_by": "email"}, 19, "Invalid value specified for sort_by"),
    ({"sort_order": "up"}, 20, "Invalid value specified for sort_order"),
    ({"updated_after": "not a time"}, 7, "Invalid timestamp"),
    ({"id_greater_than": "abc"}, 16, "Invalid ID"),
])
def test_bad_search_criteria_get_the_documented_errors(emu: PardotEmulator, api: Api,
                                                       params: dict[str, Any], code: int,
                                                       message: str) -> None:
    reply = api.get(QUERY, params={"format": "json", **params})
    assert reply.status_code == 400
    assert reply.json() == {"@attributes": {"stat": "fail", "version": 1, "err_code": code},
                            "err": message}


def test_prospect_has_the_recorded_fields_and_pardot_timestamps(emu: PardotEmulator,
                                                                api: Api) -> None:
    at(emu, "2021-03-05 14:48:02")
    load(api, [{"email": "ann@example.com", "first_name": "Ann", "company": "Acme",
                "fid": "00Q000000000001AAA", "favorite_color": "green",
                "is_do_not_email": True}])
    prospect = query(api)["result"]["prospect"]
    assert list(prospect)[: len(RECORDED_FIELDS) - 2] == RECORDED_FIELDS[:-2]
    assert prospect["score"] == 0
    assert prospect["grade"] is None
    assert prospect["opted_out"] is None
    assert prospect["recent_interaction"] == "Never active."
    assert prospect["crm_lead_fid"] == "00Q000000000001AAA"
    assert prospect["crm_contact_fid"] is None
    assert prospect["is_do_not_email"] is True
    assert prospect["favorite_color"] == "green"  # v4 names a custom field by its field_id
    assert prospect["password"] is None
    assert prospect["created_at"] == prospect["updated_at"] == "2021-03-05 14:48:02"
    assert PARDOT_TIME.match(prospect["created_at"])


def test_timestamps_are_in_the_accounts_time_zone(emu: PardotEmulator, api: Api) -> None:
    emu.configure(timezone="America/Los_Angeles", frozen_time="2021-03-05 14:48:02")
    load(api, people(0, 1))
    prospect = query(api)["result"]["prospect"]
    # Recorded: Date header 14:48:02 GMT, created_at "2021-03-05 06:48:02" (Pacific).
    assert prospect["created_at"] == "2021-03-05 06:48:02"
    # A search time without a zone is read in the account's zone too.
    assert query(api, updated_after="2021-03-05 06:48:01")["result"]["total_results"] == 1
    assert query(api, updated_after="2021-03-05 06:48:02")["result"]["total_results"] == 0


@pytest.mark.parametrize("by", ["id", "email", "fid"])
def test_read_by_id_email_and_fid(emu: PardotEmulator, api: Api, by: str) -> None:
    load(api, [{"email": "bo@example.com", "fid": "0031x00000ABCDEAAA", "last_name": "Bo"}])
    [stored] = emu.prospects()
    key = {"id": str(stored["id"]), "email": "bo@example.com", "fid": "0031x00000ABCDEAAA"}[by]
    reply = api.get(f"/api/prospect/version/4/do/read/{by}/{key}", params={"format": "json"})
    assert reply.status_code == 200, reply.text
    prospect = reply.json()["prospect"]
    assert prospect["id"] == stored["id"]
    assert prospect["last_name"] == "Bo"
    assert prospect["crm_contact_fid"] == "0031x00000ABCDEAAA"
    assert prospect["lists"] is None
    assert prospect["visitor_activities"] is None


@pytest.mark.parametrize(("by", "key", "code", "message"), [
    ("id", "99999999", 3, "Invalid prospect ID"),
    ("email", "nobody@example.com", 4, "Invalid prospect email address"),
])
def test_read_of_an_unknown_prospect(emu: PardotEmulator, api: Api, by: str, key: str,
                                     code: int, message: str) -> None:
    reply = api.get(f"/api/prospect/version/4/do/read/{by}/{key}", params={"format": "json"})
    # Recorded: HTTP 400, err_code 4 "Invalid prospect email address".
    assert reply.status_code == 400
    assert reply.json()["@attributes"]["err_code"] == code
    assert reply.json()["err"] == message


def test_read_shows_list_subscriptions(emu: PardotEmulator, api: Api) -> None:
    load(api, [{"email": "cy@example.com", "list_7": 1, "list_8": 1}])
    reply = api.get("/api/prospect/version/4/do/read/email/cy@example.com",
                    params={"format": "json"})
    subscriptions = reply.json()["prospect"]["lists"]["list_subscription"]
    assert [s["list"]["id"] for s in subscriptions] == [7, 8]
    assert {s["opted_out"] for s in subscriptions} == {False}


def test_lists_are_objects_created_read_updated_and_queried(emu: PardotEmulator,
                                                           api: Api) -> None:
    emu.configure(lists=[], frozen_time="2024-05-01 08:00:00")
    created = api.post("/api/list/version/4/do/create",
                       params={"format": "json", "name": "Newsletter", "title": "News"})
    assert created.status_code == 201, created.text
    record = created.json()["list"]
    assert record["name"] == "Newsletter"
    assert record["title"] == "News"
    assert record["is_dynamic"] is False
    assert record["created_at"] == record["updated_at"] == "2024-05-01 08:00:00"
    list_id = record["id"]
    emu.configure(frozen_time="2024-05-01 08:00:05")
    updated = api.post(f"/api/list/version/4/do/update/id/{list_id}",
                       params={"format": "json", "title": "Weekly news", "is_public": "true"})
    assert updated.json()["list"]["title"] == "Weekly news"
    assert updated.json()["list"]["is_public"] is True
    assert updated.json()["list"]["updated_at"] == "2024-05-01 08:00:05"
    read = api.get(f"/api/list/version/4/do/read/id/{list_id}", params={"format": "json"})
    assert read.json()["list"]["name"] == "Newsletter"
    result = api.get("/api/list/version/4/do/query",
                     params={"format": "json", "updated_after": "2024-05-01 08:00:00"}).json()
    assert result["result"]["total_results"] == 1
    assert result["result"]["list"]["id"] == list_id
    # The new list takes memberships like a configured one.
    load(api, [{"email": "dee@example.com", f"list_{list_id}": 1}])
    assert [m["list_id"] for m in emu.state()["memberships"]] == [list_id]
    unknown = api.get("/api/list/version/4/do/read/id/424242", params={"format": "json"})
    assert unknown.json()["@attributes"]["err_code"] == 55


def test_list_query_uses_at_most_200(emu: PardotEmulator, api: Api) -> None:
    emu.configure(lists="1-250")
    result = api.get("/api/list/version/4/do/query",
                     params={"format": "json", "limit": 500, "sort_by": "id"}).json()["result"]
    # lists.md: "If a number larger than 200 is specified, 200 will be used"
    assert result["total_results"] == 250
    assert len(result["list"]) == 200
    assert result["list"][0] == {**result["list"][0], "id": 1, "name": "List 1"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_list_membership_query_by_list_and_id(emu: PardotEmulator, api: Api,
                                              method: str) -> None:
    load(api, [{"email": f"m{i}@example.com", "list_5": 1, "list_6": 1} for i in range(210)])
    path = "/api/listMembership/version/4/do/query"
    params = {"format": "json", "list_id": 5, "sort_by": "id", "sort_order": "ascending"}
    first = api.request(method, path, params=params).json()["result"]
    assert first["total_results"] == 210
    assert len(first["list_membership"]) == 200
    assert {m["list_id"] for m in first["list_membership"]} == {5}
    last = first["list_membership"][-1]["id"]
    rest = api.request(method, path, params={**params, "id_greater_than": last}).json()
    items = rest["result"]["list_membership"]
    assert len(items) == 10
    assert set(items[0]) == {"id", "list_id", "prospect_id", "opted_out", "created_at",
                             "updated_at"}
    assert items[0]["opted_out"] is False
    assert PARDOT_TIME.match(items[0]["created_at"])


def test_prospect_query_by_list_id(emu: PardotEmulator, api: Api) -> None:
    load(api, [{"email": "in@example.com", "list_9": 1}, {"email": "out@example.com"}])
    result = query(api, list_id=9)["result"]
    assert result["total_results"] == 1
    assert result["prospect"]["email"] == "in@example.com"


def test_prospect_account_describe_lists_fields_with_attributes(emu: PardotEmulator,
                                                                api: Api) -> None:
    reply = api.get("/api/prospectAccount/version/4/do/describe",
                    params={"format": "json", "output": "bulk"})
    assert reply.status_code == 200
    fields = reply.json()["result"]["field"]
    assert {f["@attributes"]["id"] for f in fields} >= {"name"}
    assert all(set(f["@attributes"]) >= {"id", "label", "type", "required"} for f in fields)


def test_reads_count_as_calls_by_name(emu: PardotEmulator, api: Api) -> None:
    query(api)
    api.get("/api/list/version/4/do/query", params={"format": "json"})
    api.post("/api/listMembership/version/4/do/query", params={"format": "json"})
    calls = emu.counters()["calls_by_endpoint"]
    assert calls["prospect/query"] == 1
    assert calls["list/query"] == 1
    assert calls["listMembership/query"] == 1
