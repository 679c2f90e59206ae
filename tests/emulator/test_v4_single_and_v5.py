"""Single v4 upserts and the v5 upsertLatestByEmail."""

from __future__ import annotations

from typing import Any

import pytest

from pardot_emulator import PardotEmulator

from .conftest import Api, by_email

SINGLE = "/api/prospect/version/4/do/upsert/{by}/{value}?format=json"


# --------------------------------------------------------------------------- v4 single

def test_single_upsert_by_email_creates_with_201(emu: PardotEmulator, api: Api) -> None:
    r = api.post(SINGLE.format(by="email", value="s%40example.com"),
                 data={"first_name": "Sam", "list_9": "1"})
    assert r.status_code == 201
    body = r.json()
    assert body["@attributes"] == {"stat": "ok", "version": 1}
    assert body["prospect"]["email"] == "s@example.com"
    assert body["prospect"]["first_name"] == "Sam"
    [p] = emu.prospects()
    assert body["prospect"]["id"] == p["id"]
    assert [m["list_id"] for m in emu.memberships()] == [9]


def test_single_upsert_by_email_on_ampsea_always_creates(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("s@example.com")
    assert api.post(SINGLE.format(by="email", value="s@example.com")).status_code == 201
    assert len(by_email(emu, "s@example.com")) == 2


def test_single_upsert_by_id_updates_with_200(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("s@example.com")
    r = api.post(SINGLE.format(by="id", value=pid), data={"job_title": "CTO"})
    assert r.status_code == 200
    assert r.json()["prospect"]["job_title"] == "CTO"
    assert emu.prospects()[0]["job_title"] == "CTO"


def test_single_upsert_by_fid(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("s@example.com", crm_fid="003000000000001")
    r = api.post(SINGLE.format(by="fid", value="003000000000001"), data={"city": "Oslo"})
    assert r.status_code == 200
    assert r.json()["prospect"]["crm_contact_fid"] == "003000000000001"


def test_single_upsert_errors_use_the_v4_envelope(emu: PardotEmulator, api: Api) -> None:
    r = api.post(SINGLE.format(by="id", value="777"), data={"city": "Oslo"})
    assert r.status_code == 400
    assert r.json() == {"@attributes": {"stat": "fail", "version": 1, "err_code": 14},
                        "err": "Non-existent prospect ID; No email address provided"}
    r = api.post(SINGLE.format(by="email", value="bad"))
    assert r.json()["@attributes"]["err_code"] == 4


# --------------------------------------------------------------------------- v5

def upsert(api: Api, match: str, prospect: dict[str, Any], *, fields: list[str] | None = None,
           secondary: bool | None = None) -> Any:
    body: dict[str, Any] = {"matchEmail": match, "prospect": prospect,
                            "fields": fields or ["id", "email"]}
    if secondary is not None:
        body["secondaryDeletedSearch"] = secondary
    return api.upsert_v5(body)


def test_v5_creates_with_201_and_returns_the_requested_fields(emu: PardotEmulator,
                                                              api: Api) -> None:
    r = upsert(api, "v@example.com", {"firstName": "Vi", "jobTitle": "Dev"},
               fields=["id", "email", "firstName", "jobTitle", "lastName"])
    assert r.status_code == 201
    [p] = emu.prospects()
    assert r.json() == {"id": p["id"], "email": "v@example.com", "firstName": "Vi",
                        "jobTitle": "Dev", "lastName": None}
    assert (p["first_name"], p["job_title"]) == ("Vi", "Dev")


def test_v5_updates_with_200_and_never_duplicates(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("v@example.com")
    r = upsert(api, "v@example.com", {"city": "Rome"})
    assert (r.status_code, r.json()) == (200, {"id": pid, "email": "v@example.com"})
    assert upsert(api, "v@example.com", {"city": "Milan"}).status_code == 200
    [p] = emu.prospects()
    assert p["city"] == "Milan"


def test_v5_email_matching_is_case_sensitive(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("Ann@example.com")
    assert upsert(api, "ann@example.com", {}).status_code == 201
    assert len(emu.prospects()) == 2


def test_v5_updates_the_prospect_with_the_latest_activity(emu: PardotEmulator,
                                                          api: Api) -> None:
    older = emu.add_prospect("d@example.com", last_activity_at=100.0)
    newer = emu.add_prospect("d@example.com", last_activity_at=200.0)
    emu.add_prospect("d@example.com", deleted=True, last_activity_at=300.0)
    r = upsert(api, "d@example.com", {"company": "Winner"})
    assert r.json()["id"] == newer
    companies = {p["id"]: p["company"] for p in emu.prospects()}
    assert companies == {older: None, newer: "Winner"}


def test_v5_secondary_deleted_search_undeletes_the_latest_deleted(emu: PardotEmulator,
                                                                  api: Api) -> None:
    emu.add_prospect("g@example.com", deleted=True, last_activity_at=1.0)
    latest = emu.add_prospect("g@example.com", deleted=True, last_activity_at=2.0)
    r = upsert(api, "g@example.com", {"city": "Back"}, secondary=True)
    assert (r.status_code, r.json()["id"]) == (200, latest)
    live = emu.prospects()
    assert [(p["id"], p["city"], p["deleted"]) for p in live] == [(latest, "Back", False)]


def test_v5_without_secondary_deleted_search_creates(emu: PardotEmulator, api: Api) -> None:
    gone = emu.add_prospect("g@example.com", deleted=True)
    r = upsert(api, "g@example.com", {}, secondary=False)
    assert r.status_code == 201
    assert r.json()["id"] != gone
    assert len(emu.prospects(include_deleted=True)) == 2


def test_v5_secondary_deleted_search_defaults_to_off(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("g@example.com", deleted=True)
    assert upsert(api, "g@example.com", {}).status_code == 201


def test_v5_changes_an_email_by_matching_the_old_one(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("old@example.com")
    r = upsert(api, "old@example.com", {"email": "new@example.com"})
    assert (r.status_code, r.json()) == (200, {"id": pid, "email": "new@example.com"})
    assert by_email(emu, "old@example.com") == []
    assert upsert(api, "new@example.com", {}).status_code == 200  # found under the new email


CAMEL = {
    "salesforceId": ("crm_fid", "00Q0000000000AB"), "campaignId": ("campaign_id", 5),
    "salutation": ("salutation", "Ms"), "firstName": ("first_name", "F"),
    "lastName": ("last_name", "L"), "password": ("password", "p"), "company": ("company", "C"),
    "prospectAccountId": ("prospect_account_id", 6), "website": ("website", "w"),
    "jobTitle": ("job_title", "J"), "department": ("department", "D"),
    "country": ("country", "FR"), "addressOne": ("address_one", "a1"),
    "addressTwo": ("address_two", "a2"), "city": ("city", "c"), "state": ("state", "s"),
    "territory": ("territory", "t"), "zip": ("zip", "z"), "phone": ("phone", "p"),
    "fax": ("fax", "f"), "source": ("source", "src"), "annualRevenue": ("annual_revenue", "1"),
    "employees": ("employees", "2"), "industry": ("industry", "i"),
    "yearsInBusiness": ("years_in_business", "3"), "comments": ("comments", "co"),
    "notes": ("notes", "n"), "score": ("score", 7), "isDoNotEmail": ("is_do_not_email", True),
    "isDoNotCall": ("is_do_not_call", False), "isReviewed": ("is_reviewed", True),
    "isStarred": ("is_starred", False), "isArchived": ("is_archived", True),
    "favorite_color__c": ("favorite_color__c", "blue"),
}


def test_v5_maps_every_standard_field_to_camel_case(emu: PardotEmulator, api: Api) -> None:
    prospect = {camel: value for camel, (_, value) in CAMEL.items()}
    r = upsert(api, "all@example.com", prospect, fields=["id", "email", *CAMEL])
    assert r.status_code == 201, r.text
    body = r.json()
    [p] = emu.prospects()
    for camel, (snake, value) in CAMEL.items():
        assert p[snake] == value, camel
        assert body[camel] == value, camel


@pytest.mark.parametrize(("prospect", "code"), [
    ({"first_name": "snake_case is v4"}, 154),  # unknown: 154 (pardot/api-docs #235)
    ({"id": 5}, 180),  # known but not writable: 180 (error table)
    ({"nickname": "x"}, 154),
    ({"email": "not-an-email"}, 4),
    ({"score": "7"}, 154),
    ({"isStarred": 1}, 154),
    ({"city": 5}, 154),
])
def test_v5_field_errors_are_400_in_the_v5_envelope(emu: PardotEmulator, api: Api,
                                                    prospect: dict[str, Any], code: int) -> None:
    r = upsert(api, "e@example.com", prospect)
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert emu.prospects() == []


def test_v5_bad_match_email_is_400(api: Api) -> None:
    r = upsert(api, "nope", {})
    assert (r.status_code, r.json()) == (400, {"code": 4,
                                               "message": "Invalid prospect email address"})


def test_v5_unknown_property_is_154_naming_it(api: Api) -> None:
    # Recorded in pardot/api-docs #235: {"code":154,"message":"Invalid property in request:
    # UniqueId__c"}
    r = upsert(api, "a@example.com", {"UniqueId__c": "1"})
    assert (r.status_code, r.json()) == (
        400, {"code": 154, "message": "Invalid property in request: UniqueId__c"})


def test_v5_upsert_without_fields_is_accepted(emu: PardotEmulator, api: Api) -> None:
    # Segment's production client sends matchEmail, prospect, secondaryDeletedSearch only.
    r = api.upsert_v5({"matchEmail": "a@example.com", "prospect": {"city": "Oslo"},
                       "secondaryDeletedSearch": False})
    assert r.status_code == 201, r.text
    [p] = emu.prospects()
    assert r.json() == {"id": p["id"], "email": "a@example.com"}
    assert p["city"] == "Oslo"


@pytest.mark.parametrize("missing", ["matchEmail", "prospect"])
def test_v5_missing_property_is_400(api: Api, missing: str) -> None:
    body: dict[str, Any] = {"matchEmail": "a@example.com", "prospect": {}, "fields": ["id"]}
    del body[missing]
    r = api.upsert_v5(body)
    assert r.status_code == 400
    assert r.json()["code"] == 153
    assert missing in r.json()["message"]


def test_v5_unknown_requested_field_is_400(api: Api) -> None:
    r = upsert(api, "a@example.com", {}, fields=["id", "first_name"])
    assert (r.status_code, r.json()["code"]) == (400, 180)


def test_v5_needs_a_json_body(api: Api) -> None:
    r = api.post("/api/v5/objects/prospects/do/upsertLatestByEmail",
                 data={"matchEmail": "a@example.com"})
    assert (r.status_code, r.json()["code"]) == (400, 151)
    r = api.post("/api/v5/objects/prospects/do/upsertLatestByEmail", data=b"{nope",
                 headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, 150)


def test_v5_wrong_method_is_405(api: Api) -> None:
    r = api.get("/api/v5/objects/prospects/do/upsertLatestByEmail")
    assert r.status_code == 405
    assert r.json()["code"] == 60


def test_v5_unknown_path_is_404(api: Api) -> None:
    r = api.get("/api/v5/objects/nothing-here")
    assert r.status_code == 404
    assert set(r.json()) == {"code", "message"}


def test_v5_null_clears_a_field(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("n@example.com", city="Paris", company="Acme")
    upsert(api, "n@example.com", {"city": None})
    p = emu.prospects()[0]
    assert (p["city"], p["company"]) == (None, "Acme")
