"""v4 batchUpsert / batchUpdate / batchCreate."""

from __future__ import annotations

import json

import pytest

from pardot_emulator import PardotEmulator

from .conftest import Api, by_email

OK = b'{"@attributes":{"stat":"ok","version":1},"errors":{}}'


# --------------------------------------------------------------------------- envelopes

def test_success_body_is_byte_exact_and_201_on_create(emu: PardotEmulator, api: Api) -> None:
    r = api.batch("batchUpsert", [{"email": "a@example.com", "first_name": "Ann"}])
    assert r.status_code == 201
    assert r.content == OK
    assert r.headers["Content-Type"].startswith("application/json")
    [p] = emu.prospects()
    assert (p["email"], p["first_name"]) == ("a@example.com", "Ann")
    assert isinstance(p["id"], int)


def test_partial_failure_body_is_byte_exact_and_200_without_creates(
        emu: PardotEmulator, api: Api) -> None:
    a = emu.add_prospect("a@example.com")
    b = emu.add_prospect("b@example.com")
    r = api.batch("batchUpsert", [{"id": a, "first_name": "A"},
                                  {"id": b, "email": "not-an-email"}])
    assert r.status_code == 200
    assert r.content == (b'{"@attributes":{"stat":"fail","version":1},'
                         b'"errors":{"1":"Invalid prospect email address"}}')
    by_id = {p["id"]: p for p in emu.prospects()}
    assert by_id[a]["first_name"] == "A"  # the row without an entry was applied
    assert by_id[b]["email"] == "b@example.com"  # the failed row changed nothing


def test_error_keys_are_zero_based_indexes(api: Api) -> None:
    r = api.batch("batchUpsert", [{"email": "bad"}, {"email": "ok@example.com"},
                                  {"email": "x@"}])
    assert r.status_code == 201  # one row was created
    assert r.json()["errors"] == {"0": "Invalid prospect email address",
                                  "2": "Invalid prospect email address"}


def test_all_updates_answer_200(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("a@example.com")
    r = api.batch("batchUpsert", [{"id": pid, "city": "Lyon"}])
    assert (r.status_code, r.content) == (200, OK)


def test_more_than_50_rows_is_error_70(emu: PardotEmulator, api: Api) -> None:
    rows = [{"email": f"p{i}@example.com"} for i in range(51)]
    r = api.batch("batchUpsert", rows)
    assert r.json() == {"@attributes": {"stat": "fail", "version": 1, "err_code": 70},
                        "err": "Batch processing is limited to 50 prospects at once."}
    assert r.status_code == 400
    assert emu.prospects() == []


def test_exactly_50_rows_is_fine(emu: PardotEmulator, api: Api) -> None:
    r = api.batch("batchUpsert", [{"email": f"p{i}@example.com"} for i in range(50)])
    assert r.status_code == 201
    assert len(emu.prospects()) == 50


@pytest.mark.parametrize("raw", ["{not json", '{"prospects": {"a": 1}}', '["x"]', ""])
def test_bad_json_is_error_71(api: Api, raw: str) -> None:
    r = api.post("/api/prospect/version/4/do/batchUpsert?format=json", data={"prospects": raw})
    assert r.json() == {"@attributes": {"stat": "fail", "version": 1, "err_code": 71},
                        "err": "Input needs to be valid JSON or XML"}


def test_v4_error_status_can_be_200(emu: PardotEmulator, api: Api) -> None:
    emu.configure(v4_error_status=200)
    r = api.post("/api/prospect/version/4/do/batchUpsert?format=json", data={"prospects": "{"})
    assert r.status_code == 200
    assert r.json()["@attributes"]["err_code"] == 71


def test_without_format_json_the_answer_is_xml(api: Api) -> None:
    r = api.post("/api/prospect/version/4/do/batchUpsert",
                 data={"prospects": json.dumps({"prospects": [{"email": "a@example.com"}]})})
    assert r.status_code == 201
    assert r.headers["Content-Type"].startswith("text/xml")
    assert r.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<rsp stat="ok"')


# ------------------------------------------------------------------- transport of `prospects`

def _payload() -> str:
    return json.dumps({"prospects": [{"email": "q@example.com"}]})


def test_prospects_in_the_query_string(emu: PardotEmulator, api: Api) -> None:
    r = api.post("/api/prospect/version/4/do/batchUpsert",
                 params={"format": "json", "prospects": _payload()})
    assert (r.status_code, r.content) == (201, OK)
    assert len(by_email(emu, "q@example.com")) == 1


def test_prospects_in_a_multipart_body(emu: PardotEmulator, api: Api) -> None:
    r = api.post("/api/prospect/version/4/do/batchUpsert",
                 files={"format": (None, "json"), "prospects": (None, _payload())})
    assert (r.status_code, r.content) == (201, OK)
    assert len(by_email(emu, "q@example.com")) == 1


def test_format_json_in_the_form_body(api: Api) -> None:
    r = api.post("/api/prospect/version/4/do/batchUpsert",
                 data={"format": "json", "prospects": _payload()})
    assert r.content == OK


def test_get_works_like_post(emu: PardotEmulator, api: Api) -> None:
    r = api.get("/api/prospect/version/4/do/batchUpsert",
                params={"format": "json", "prospects": _payload()})
    assert r.status_code == 201


def test_utf8_and_reserved_characters_survive(emu: PardotEmulator, api: Api) -> None:
    name = "Zoë & Ünal + 100% = ok \\ \"quoted\""
    r = api.batch("batchUpsert", [{"email": "z@example.com", "first_name": name}])
    assert r.status_code == 201
    assert emu.prospects()[0]["first_name"] == name


# --------------------------------------------------------------------------- matching

def test_ampsea_email_only_rows_always_create(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("dup@example.com")
    api.batch("batchUpsert", [{"email": "dup@example.com"}])
    api.batch("batchUpsert", [{"email": "dup@example.com"}])
    assert len(by_email(emu, "dup@example.com")) == 3


def test_id_updates_that_prospect(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("a@example.com")
    r = api.batch("batchUpsert", [{"id": str(pid), "email": "new@example.com"}])
    assert r.status_code == 200
    [p] = emu.prospects()
    assert (p["id"], p["email"]) == (pid, "new@example.com")


def test_unknown_id_with_email_creates(emu: PardotEmulator, api: Api) -> None:
    r = api.batch("batchUpsert", [{"id": 999999, "email": "a@example.com"}])
    assert r.status_code == 201
    [p] = emu.prospects()
    assert p["id"] != 999999


def test_unknown_id_without_email_is_14(emu: PardotEmulator, api: Api) -> None:
    r = api.batch("batchUpsert", [{"id": 999999, "first_name": "X"}])
    assert r.json()["errors"] == {"0": "Non-existent prospect ID; No email address provided"}
    assert emu.prospects() == []


def test_fid_updates_the_prospect_with_that_crm_fid(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("a@example.com", crm_fid="00Q000000000001")
    r = api.batch("batchUpsert", [{"fid": "00Q000000000001", "company": "Acme"}])
    assert r.status_code == 200
    [p] = emu.prospects()
    assert (p["id"], p["company"]) == (pid, "Acme")


def test_unknown_fid_with_email_creates_with_that_fid(emu: PardotEmulator, api: Api) -> None:
    r = api.batch("batchUpsert", [{"fid": "00Q00000000000Z", "email": "f@example.com"}])
    assert r.status_code == 201
    [p] = emu.prospects()
    assert p["crm_fid"] == "00Q00000000000Z"


def test_unknown_fid_without_email_is_a_row_error(emu: PardotEmulator, api: Api) -> None:
    r = api.batch("batchUpsert", [{"fid": "00Qnope"}])
    assert r.json()["errors"] == {"0": "Invalid prospect fid"}


def test_deleted_prospects_do_not_match_by_id(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("gone@example.com", deleted=True)
    r = api.batch("batchUpdate", [{"id": pid, "city": "X"}])
    assert r.json()["errors"] == {"0": "Invalid prospect ID"}


def test_batch_upsert_by_the_id_of_a_recycled_prospect_restores_it(
    emu: PardotEmulator, api: Api
) -> None:
    # v4 prospects.md, Upserting Prospects: "If the matching prospect is archived, it will
    # be unarchived, and then have the updates applied to it."
    pid = emu.add_prospect("gone@example.com", deleted=True)
    r = api.batch("batchUpsert", [{"id": pid, "email": "gone@example.com", "city": "X"}])
    assert (r.status_code, r.json()["errors"]) == (200, {})
    [p] = emu.prospects(include_deleted=True)
    assert (p["id"], p["deleted"], p["city"]) == (pid, False, "X")


def test_batch_upsert_by_the_fid_of_a_recycled_prospect_restores_it(
    emu: PardotEmulator, api: Api
) -> None:
    pid = emu.add_prospect("gone@example.com", deleted=True, fid="00Q000000000001")
    r = api.batch("batchUpsert", [{"fid": "00Q000000000001", "email": "gone@example.com",
                                   "city": "Y"}])  # fmt: skip
    assert r.json()["errors"] == {}
    [p] = emu.prospects(include_deleted=True)
    assert (p["id"], p["deleted"], p["city"]) == (pid, False, "Y")


def test_batch_update_needs_id_or_fid_and_never_creates(emu: PardotEmulator, api: Api) -> None:
    r = api.batch("batchUpdate", [{"email": "a@example.com"}, {"id": 424242, "email": "b@x.io"},
                                  {"fid": "00Qnope", "email": "c@x.io"}])
    assert r.status_code == 200
    assert r.json()["errors"] == {"0": "Invalid prospect ID", "1": "Invalid prospect ID",
                                  "2": "Invalid prospect fid"}
    assert emu.prospects() == []


def test_batch_update_by_id(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("a@example.com")
    r = api.batch("batchUpdate", [{"id": pid, "last_name": "Lee"}])
    assert (r.status_code, r.content) == (200, OK)
    assert emu.prospects()[0]["last_name"] == "Lee"


def test_batch_create_always_creates(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("a@example.com")
    r = api.batch("batchCreate", [{"email": "a@example.com"},
                                  {"id": pid, "email": "a@example.com"}])
    assert r.status_code == 201
    assert len(by_email(emu, "a@example.com")) == 3


def test_batch_create_without_email_fails(emu: PardotEmulator, api: Api) -> None:
    r = api.batch("batchCreate", [{"first_name": "Nobody"}])
    assert r.json()["errors"] == {"0": "Invalid prospect email address"}


def test_id_and_fid_of_different_prospects_conflict(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("a@example.com", crm_fid="00Q1")
    emu.add_prospect("b@example.com", crm_fid="00Q2")
    r = api.batch("batchUpsert", [{"id": pid, "fid": "00Q2", "city": "X"}])
    assert r.json()["errors"] == {"0": "Prospect ID and FID do not match"}


# --------------------------------------------------------------------------- fields

def test_every_standard_field_is_accepted(emu: PardotEmulator, api: Api) -> None:
    row = {
        "email": "all@example.com", "campaign_id": 11, "salutation": "Dr", "first_name": "F",
        "last_name": "L", "password": "pw", "company": "C", "prospect_account_id": "12",
        "website": "https://example.com", "job_title": "J", "department": "D",
        "country": "FR", "address_one": "1 rue", "address_two": "bis", "city": "Paris",
        "state": "IDF", "territory": "T", "zip": "75001", "phone": "+33", "fax": "+34",
        "source": "S", "annual_revenue": "1M", "employees": "10", "industry": "I",
        "years_in_business": "5", "comments": "c", "notes": "n", "score": 42,
        "is_do_not_email": 1, "is_do_not_call": "0", "is_reviewed": True, "is_starred": "true",
        "is_archived": False,
    }
    r = api.batch("batchCreate", [row])
    assert (r.status_code, r.content) == (201, OK)
    [p] = emu.prospects()
    assert p["prospect_account_id"] == 12 and p["score"] == 42 and p["campaign_id"] == 11
    assert (p["is_do_not_email"], p["is_do_not_call"], p["is_starred"]) == (True, False, True)
    assert p["zip"] == "75001" and p["years_in_business"] == "5"


def test_custom_fields_go_by_their_field_id(emu: PardotEmulator, api: Api) -> None:
    """v4 names a custom field by its field_id exactly, with or without `__c`."""
    r = api.batch("batchUpsert", [{"email": "c@example.com", "favorite_color": "blue",
                                   "Legacy_Code__c": "L7"}])
    assert r.status_code == 201
    p = emu.prospects()[0]
    assert (p["favorite_color__c"], p["Legacy_Code__c__c"]) == ("blue", "L7")


def test_a_v5_custom_name_is_not_a_v4_field(emu: PardotEmulator, api: Api) -> None:
    r = api.batch("batchUpsert", [{"email": "c@example.com", "favorite_color__c": "blue"}])
    assert r.json()["errors"] == {
        "0": "One or more of the specified fields are invalid: favorite_color__c"}
    assert emu.prospects() == []


@pytest.mark.parametrize("field", ["firstName", "crm_fid", "nickname", "__c", "list_x"])
def test_any_other_field_is_a_row_error_naming_it(emu: PardotEmulator, api: Api,
                                                  field: str) -> None:
    r = api.batch("batchUpsert", [{"email": "ok@example.com"},
                                  {"email": "c@example.com", field: "v"}])
    errors = r.json()["errors"]
    assert list(errors) == ["1"]
    assert field in errors["1"]
    assert len(emu.prospects()) == 1


def test_email_over_255_characters_is_rejected(emu: PardotEmulator, api: Api) -> None:
    local = "a" * 64
    domain = ("b" * 60 + ".") * 3 + "c" * (255 - 64 - 1 - 183 - 1) + ".com"
    long_email = f"{local}@{domain}"
    assert len(long_email) > 255
    ok_email = f"{local}@{'b' * 60}.com"
    r = api.batch("batchUpsert", [{"email": long_email}, {"email": ok_email}])
    assert r.json()["errors"] == {"0": "Invalid prospect email address"}


@pytest.mark.parametrize("email", ["plain", "a@b", "a b@example.com", "a@@example.com",
                                   "a@example..com", ".a@example.com", "a@-x.com", ""])
def test_email_syntax_is_checked(api: Api, email: str) -> None:
    r = api.batch("batchUpsert", [{"email": email}])
    assert r.json()["errors"] == {"0": "Invalid prospect email address"}


@pytest.mark.parametrize("email", ["first.last+tag@sub.example.co.uk", "o'neil@example.com",
                                   "UPPER@EXAMPLE.COM", "x_y-z@ex-ample.io"])
def test_valid_emails_pass(api: Api, email: str) -> None:
    assert api.batch("batchUpsert", [{"email": email}]).content == OK


@pytest.mark.parametrize(("field", "value", "message"), [
    ("id", "12a", "Invalid prospect ID"),
    ("id", 1.5, "Invalid prospect ID"),
    ("campaign_id", "x", "Invalid campaign ID"),
    ("prospect_account_id", True, "Invalid prospect account id"),
    ("score", "ten", "Invalid value specified for score"),
    ("is_starred", "maybe", "Invalid boolean"),
])
def test_typed_fields_are_checked(api: Api, field: str, value: object, message: str) -> None:
    r = api.batch("batchUpsert", [{"email": "t@example.com", field: value}])
    assert r.json()["errors"] == {"0": message}


def test_null_leaves_the_field_unchanged(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("a@example.com", first_name="Ann", city="Paris")
    r = api.batch("batchUpsert", [{"id": pid, "first_name": None, "city": "Lyon"}])
    assert r.status_code == 200
    p = emu.prospects()[0]
    assert (p["first_name"], p["city"]) == ("Ann", "Lyon")


def test_non_object_row_is_a_row_error(api: Api) -> None:
    r = api.batch("batchUpsert", ["a@example.com", {"email": "b@example.com"}])
    assert list(r.json()["errors"]) == ["0"]


# --------------------------------------------------------------------------- list flags

def test_list_flag_1_adds_and_0_removes(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("a@example.com")
    emu.add_membership(3, pid)
    r = api.batch("batchUpsert", [{"id": pid, "list_7": 1, "list_3": 0}])
    assert r.status_code == 200
    assert [(m["list_id"], m["prospect_id"], m["opted_out"]) for m in emu.memberships()] == [
        (7, pid, False)]


def test_list_flag_on_a_new_prospect(emu: PardotEmulator, api: Api) -> None:
    api.batch("batchUpsert", [{"email": "n@example.com", "list_12": "1"}])
    [p] = emu.prospects()
    assert [(m["list_id"], m["prospect_id"]) for m in emu.memberships()] == [(12, p["id"])]


def test_adding_an_existing_member_and_removing_a_non_member_are_no_ops(
        emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("a@example.com")
    mid = emu.add_membership(4, pid, opted_out=True)
    r = api.batch("batchUpsert", [{"id": pid, "list_4": 1, "list_5": 0}])
    assert (r.status_code, r.content) == (200, OK)
    assert emu.memberships() == [{"id": mid, "list_id": 4, "prospect_id": pid, "opted_out": True}]


def test_unknown_list_fails_the_whole_row(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("a@example.com", city="Paris")
    r = api.batch("batchUpsert", [{"id": pid, "city": "Lyon", "list_5": 1, "list_5000": 1}])
    assert r.json()["errors"] == {"0": "Invalid list ID"}
    assert emu.prospects()[0]["city"] == "Paris"  # atomic: nothing of the row applied
    assert emu.memberships() == []


def test_existing_lists_are_configurable(emu: PardotEmulator, api: Api) -> None:
    emu.configure(lists="1-3,7000")
    r = api.batch("batchUpsert", [{"email": "a@example.com", "list_7000": 1},
                                  {"email": "b@example.com", "list_4": 1}])
    assert r.json()["errors"] == {"1": "Invalid list ID"}
