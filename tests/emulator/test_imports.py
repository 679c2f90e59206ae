"""The v5 Import API."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from pardot_emulator import PardotEmulator

from .conftest import Api, by_email

IMPORTS = "/api/v5/imports"
INPUT = {"operation": "Upsert", "object": "Prospect", "createOnNoMatch": True,
         "restoreDeleted": False}
READ_FIELDS = {"fields": "id,status,createdCount,updatedCount,errorCount,isExpired"}


def create(api: Api, csv_text: str | None = None, **input_overrides: Any) -> requests.Response:
    files: dict[str, Any] = {
        "input": (None, json.dumps({**INPUT, **input_overrides}), "application/json")}
    if csv_text is not None:
        files["file"] = ("batch.csv", csv_text.encode(), "text/csv")
    return api.post(IMPORTS, files=files)


def add_batch(api: Api, import_id: int, csv_text: str, name: str = "file") -> requests.Response:
    return api.post(f"{IMPORTS}/{import_id}/batches",
                    files={name: ("batch.csv", csv_text.encode(), "text/csv")})


def ready(api: Api, import_id: int, **params: str) -> requests.Response:
    return api.request("PATCH", f"{IMPORTS}/{import_id}", json={"status": "Ready"},
                       params=params)


def read(api: Api, import_id: int) -> requests.Response:
    return api.get(f"{IMPORTS}/{import_id}", params=READ_FIELDS)


def poll_until_complete(api: Api, import_id: int, max_polls: int = 10) -> dict[str, Any]:
    for _ in range(max_polls):
        status = read(api, import_id).json()
        if status["status"] == "Complete":
            return dict(status)
    raise AssertionError("import never completed")


def run(api: Api, csv_text: str, **input_overrides: Any) -> dict[str, Any]:
    job = create(api, csv_text, **input_overrides)
    assert job.status_code == 201, job.text
    assert ready(api, job.json()["id"]).status_code == 204
    return poll_until_complete(api, job.json()["id"])


def test_full_flow_creates_updates_and_reports_errors(emu: PardotEmulator, api: Api) -> None:
    existing = emu.add_prospect("old@example.com", first_name="Old")
    r = create(api, "matchEmail,email,campaignId,firstName,score\n"
                    "old@example.com,old@example.com,7,Updated,3\n"
                    "new@example.com,new@example.com,7,New,\n")
    assert r.status_code == 201
    job = r.json()
    assert job == {"id": job["id"]}  # a create answers the default `fields`: id
    r = add_batch(api, job["id"], "matchEmail,email,campaignId,firstName,score\n"
                                  "bad-email,bad-email,7,X,1\n"
                                  "n2@example.com,n2@example.com,7,N2,notanumber\n")
    assert (r.status_code, r.content) == (204, b"")
    r = ready(api, job["id"], fields="id,status")
    assert (r.status_code, r.json()) == (200, {"id": job["id"], "status": "Waiting"})
    status = poll_until_complete(api, job["id"])
    assert (status["createdCount"], status["updatedCount"], status["errorCount"]) == (1, 1, 2)
    assert {p["email"]: p["first_name"] for p in emu.prospects()} == {
        "old@example.com": "Updated", "new@example.com": "New"}
    assert emu.prospects()[0]["id"] == existing
    r = api.get(f"{IMPORTS}/{job['id']}/errors", allow_redirects=False)
    assert r.status_code == 302
    r = api.get(f"{IMPORTS}/{job['id']}/errors")  # follows the redirect to the file
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "matchEmail,email,campaignId,firstName,score,error"
    assert lines[1] == "bad-email,bad-email,7,X,1,Invalid prospect email address"
    assert lines[2].startswith("n2@example.com,n2@example.com,7,N2,notanumber,")


def test_state_is_refused_status_is_the_word(api: Api) -> None:
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    r = api.request("PATCH", f"{IMPORTS}/{job['id']}", json={"state": "Ready"})
    assert (r.status_code, r.json()["code"]) == (400, 154)
    assert create(api, "email,campaignId\na@example.com,7\n", state="Ready").json()["code"] == 154
    assert ready(api, job["id"]).status_code == 204


def test_a_read_answers_only_the_requested_fields(api: Api) -> None:
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    r = api.get(f"{IMPORTS}/{job['id']}", params={"fields": "status,isExpired"})
    assert r.json() == {"status": "Open", "isExpired": False}
    r = api.get(f"{IMPORTS}/{job['id']}")
    assert (r.status_code, r.json()["code"]) == (400, 153)
    assert api.get(f"{IMPORTS}/{job['id']}", params={"fields": "state"}).json()["code"] == 154


def test_json_replies_say_exactly_application_json(api: Api) -> None:
    r = create(api, "email,campaignId\na@example.com,7\n")
    assert r.headers["Content-Type"] == "application/json"
    assert read(api, r.json()["id"]).headers["Content-Type"] == "application/json"


def test_processing_shows_for_the_configured_number_of_polls(emu: PardotEmulator,
                                                             api: Api) -> None:
    emu.configure(import_processing_polls=2)
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    ready(api, job["id"])
    states = [read(api, job["id"]).json()["status"] for _ in range(3)]
    assert states == ["Processing", "Processing", "Complete"]
    assert len(emu.prospects()) == 1


def test_nothing_is_applied_before_complete(emu: PardotEmulator, api: Api) -> None:
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    ready(api, job["id"])
    assert emu.prospects() == []
    poll_until_complete(api, job["id"])
    assert len(emu.prospects()) == 1


def test_without_a_match_column_every_row_creates(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("a@example.com")
    status = run(api, "email,campaignId,city\na@example.com,7,Rome\n")
    assert (status["createdCount"], status["updatedCount"]) == (1, 0)
    assert len(by_email(emu, "a@example.com")) == 2


def test_match_email_updates_the_latest_so_it_never_duplicates(emu: PardotEmulator,
                                                               api: Api) -> None:
    emu.add_prospect("a@example.com", last_activity_at=1.0)
    latest = emu.add_prospect("a@example.com", last_activity_at=2.0)
    for _ in range(2):
        status = run(api, "matchEmail,city\na@example.com,Rome\n", createOnNoMatch=False)
        assert status["updatedCount"] == 1
    assert len(by_email(emu, "a@example.com")) == 2
    assert {p["id"]: p["city"] for p in emu.prospects()}[latest] == "Rome"


def test_match_email_is_case_sensitive(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("A@example.com")
    status = run(api, "matchEmail,email,campaignId\na@example.com,a@example.com,7\n")
    assert status["createdCount"] == 1


def test_match_id_and_match_salesforce_id(emu: PardotEmulator, api: Api) -> None:
    a = emu.add_prospect("a@example.com")
    b = emu.add_prospect("b@example.com", crm_fid="00Q0000000000BB")
    status = run(api, f"matchId,email,company\n{a},other@example.com,A\n",
                 createOnNoMatch=False)
    assert (status["createdCount"], status["updatedCount"]) == (0, 1)
    status = run(api, "matchSalesforceId,company\n00Q0000000000BB,B\n00Q0000000000ZZ,Z\n",
                 createOnNoMatch=False)
    assert (status["updatedCount"], status["errorCount"]) == (1, 1)
    got = {p["id"]: (p["email"], p["company"]) for p in emu.prospects()}
    assert got == {a: ("other@example.com", "A"), b: ("b@example.com", "B")}


@pytest.mark.parametrize("header", [
    "id,email,campaignId",                 # a Pardot id goes in matchId only
    "matchId,matchEmail,email,campaignId",  # one match column per import
    "matchEmail,salesforceId,optedOut",
])
def test_refused_and_conflicting_columns(emu: PardotEmulator, api: Api, header: str) -> None:
    cells = ",".join("1" if "Id" in h or h == "id" else "a@example.com" for h in header.split(","))
    r = create(api, f"{header}\n{cells}\n")
    assert r.status_code == 400
    assert emu.imports() == []


@pytest.mark.parametrize(("header", "create_on_no_match"), [
    ("email", True), ("campaignId,firstName", True), ("email,firstName", False),
    ("matchEmail,email", True),
])
def test_creating_needs_email_and_campaign(api: Api, header: str,
                                           create_on_no_match: bool) -> None:
    cells = ",".join("x" for _ in header.split(","))
    r = create(api, f"{header}\n{cells}\n", createOnNoMatch=create_on_no_match)
    assert (r.status_code, r.json()["code"]) == (400, 153)
    # with a match column and no creation, neither is needed
    ok = create(api, "matchEmail,firstName\na@example.com,A\n", createOnNoMatch=False)
    assert ok.status_code == 201


def test_add_to_list_and_remove_from_list(emu: PardotEmulator, api: Api) -> None:
    a = emu.add_prospect("a@example.com")
    emu.add_membership(3, a)
    status = run(api, "matchEmail,email,campaignId,addToList,removeFromList\n"
                      "a@example.com,a@example.com,7,1;2,3\n"
                      "n@example.com,n@example.com,7,2,\n")
    assert status["errorCount"] == 0
    pairs = {(m["list_id"], m["prospect_id"]) for m in emu.memberships()}
    [n] = [p["id"] for p in emu.prospects() if p["email"] == "n@example.com"]
    assert pairs == {(1, a), (2, a), (2, n)}


def test_custom_fields_by_v5_name_with_and_without_c(emu: PardotEmulator, api: Api) -> None:
    status = run(api, "email,campaignId,loyalty_tier__c,Legacy_Code__c__c\n"
                      "a@example.com,7,gold,L1\n")
    assert status["createdCount"] == 1
    p = emu.prospects()[0]
    assert (p["loyalty_tier__c"], p["Legacy_Code__c__c"]) == ("gold", "L1")
    # v4 names (the field_id) are not v5 import columns; unknown custom fields neither
    assert create(api, "email,campaignId,loyalty_tier\na@example.com,7,x\n").status_code == 400
    assert create(api, "email,campaignId,Nope__c\na@example.com,7,x\n").status_code == 400


def test_empty_cells_do_not_clear_fields(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("a@example.com", first_name="Keep", city="Old")
    run(api, "matchEmail,firstName,city\na@example.com,,New\n", createOnNoMatch=False)
    p = emu.prospects()[0]
    assert (p["first_name"], p["city"]) == ("Keep", "New")


def test_null_overwrite_option_lets_blank_cells_clear(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("a@example.com", first_name="Keep", city="Old", fax="1")
    run(api, "matchEmail,firstName,city,fax\na@example.com,, ,2\n", createOnNoMatch=False,
        fields={"firstName": {"nullOverwrite": True}, "city": {"nullOverwrite": True}})
    p = emu.prospects()[0]
    assert (p["first_name"], p["city"], p["fax"]) == (None, None, "2")


def test_restore_deleted(emu: PardotEmulator, api: Api) -> None:
    gone = emu.add_prospect("g@example.com", deleted=True)
    status = run(api, "matchEmail,city\ng@example.com,Back\n", restoreDeleted=True,
                 createOnNoMatch=False)
    assert status["updatedCount"] == 1
    assert [(p["id"], p["city"]) for p in emu.prospects()] == [(gone, "Back")]


def test_create_and_ready_in_one_call(emu: PardotEmulator, api: Api) -> None:
    r = create(api, "email,campaignId\na@example.com,7\n", status="Ready")
    poll_until_complete(api, r.json()["id"])
    assert len(emu.prospects()) == 1


def test_v4_part_names_are_not_v5(emu: PardotEmulator, api: Api) -> None:
    r = api.post(IMPORTS, files={
        "importInput": (None, json.dumps(INPUT), "application/json"),
        "importFile": ("b.csv", b"email,campaignId\na@example.com,7\n", "text/csv")})
    assert (r.status_code, r.json()["code"]) == (400, 153)


def test_an_eleventh_batch_is_429(api: Api) -> None:
    job = create(api, "email,campaignId\na0@example.com,7\n").json()
    for i in range(1, 10):
        assert add_batch(api, job["id"], f"email,campaignId\na{i}@example.com,7\n"
                         ).status_code == 204
    r = add_batch(api, job["id"], "email,campaignId\na10@example.com,7\n")
    assert (r.status_code, r.json()["code"]) == (429, 160)


def test_batch_after_ready_is_161(api: Api) -> None:
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    ready(api, job["id"])
    assert add_batch(api, job["id"], "email,campaignId\nb@example.com,7\n").json()["code"] == 161


def test_ready_without_data_is_156(api: Api) -> None:
    job = create(api).json()
    r = ready(api, job["id"])
    assert (r.status_code, r.json()["code"]) == (400, 156)


def test_ready_twice_is_155(api: Api) -> None:
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    ready(api, job["id"])
    assert ready(api, job["id"]).json()["code"] == 155


def test_only_ready_can_be_set(api: Api) -> None:
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    r = api.request("PATCH", f"{IMPORTS}/{job['id']}", json={"status": "Complete"})
    assert r.json()["code"] == 154


@pytest.mark.parametrize("csv_text", [
    "first_name,email,campaignId\nAnn,a@example.com,7\n",  # v4 name: imports take v5 names
    "email,campaignId,nickname\na@example.com,7,x\n",
    "email,campaignId,EMAIL\na@example.com,7,b@example.com\n",  # duplicate, any case
    "email,campaignId,city\na@example.com\n",  # ragged row
    "",
])
def test_invalid_csv_is_159(emu: PardotEmulator, api: Api, csv_text: str) -> None:
    r = create(api, csv_text)
    assert (r.status_code, r.json()["code"]) == (400, 159)
    assert emu.imports() == []


def test_batches_must_share_the_header(api: Api) -> None:
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    assert add_batch(api, job["id"], "campaignId,email\n7,b@example.com\n").json()["code"] == 159


def test_batch_without_a_file_is_162(api: Api) -> None:
    job = create(api).json()
    r = api.post(f"{IMPORTS}/{job['id']}/batches", files={"other": ("x.csv", b"email\n")})
    assert r.json()["code"] == 162


def test_two_files_is_163(api: Api) -> None:
    job = create(api).json()
    r = api.post(f"{IMPORTS}/{job['id']}/batches",
                 files=[("file", ("a.csv", b"email,campaignId\na@example.com,7\n")),
                        ("file", ("b.csv", b"email,campaignId\nb@example.com,7\n"))])
    assert r.json()["code"] == 163


def test_batch_over_10_mb_is_413(api: Api) -> None:
    job = create(api).json()
    big = "email,campaignId,comments\n" + ("a@example.com,7," + "x" * 1000 + "\n") * 10_500
    assert len(big) > 10 * 1024 * 1024
    r = add_batch(api, job["id"], big)
    assert r.status_code == 413


def test_daily_batch_limit_is_164(emu: PardotEmulator, api: Api) -> None:
    emu.configure(import_daily_batch_limit=2)
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    assert add_batch(api, job["id"], "email,campaignId\nb@example.com,7\n").status_code == 204
    assert add_batch(api, job["id"], "email,campaignId\nc@example.com,7\n").json()["code"] == 164


def test_bad_input(api: Api) -> None:
    assert create(api, operation="Insert").json()["code"] == 154
    assert create(api, object="List").json()["code"] == 154
    r = api.post(IMPORTS, files={"file": ("a.csv", b"email,campaignId\na@example.com,7\n")})
    assert r.json()["code"] == 153
    r = api.post(IMPORTS, json=INPUT)
    assert r.json()["code"] == 151


def test_unknown_import_is_404(api: Api) -> None:
    r = read(api, 999)
    assert (r.status_code, r.json()["code"]) == (404, 192)


def test_errors_before_complete_is_refused(api: Api) -> None:
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    assert api.get(f"{IMPORTS}/{job['id']}/errors").json()["code"] == 161


def test_imports_are_listed_in_state(emu: PardotEmulator, api: Api) -> None:
    job = create(api, "email,campaignId\na@example.com,7\n").json()
    [listed] = emu.imports()
    assert (listed["id"], listed["status"], listed["rowCount"]) == (job["id"], "Open", 1)
