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


def create(api: Api, csv_text: str | None = None, **input_overrides: Any) -> requests.Response:
    files: dict[str, Any] = {
        "input": (None, json.dumps({**INPUT, **input_overrides}), "application/json")}
    if csv_text is not None:
        files["file"] = ("batch.csv", csv_text.encode(), "text/csv")
    return api.post(IMPORTS, files=files)


def add_batch(api: Api, import_id: int, csv_text: str, name: str = "file") -> requests.Response:
    return api.post(f"{IMPORTS}/{import_id}/batches",
                    files={name: ("batch.csv", csv_text.encode(), "text/csv")})


def ready(api: Api, import_id: int) -> requests.Response:
    return api.request("PATCH", f"{IMPORTS}/{import_id}", json={"state": "Ready"})


def poll_until_complete(api: Api, import_id: int, max_polls: int = 10) -> dict[str, Any]:
    for _ in range(max_polls):
        status = api.get(f"{IMPORTS}/{import_id}").json()
        if status["state"] == "Complete":
            return dict(status)
    raise AssertionError("import never completed")


def test_full_flow_creates_updates_and_reports_errors(emu: PardotEmulator, api: Api) -> None:
    existing = emu.add_prospect("old@example.com", first_name="Old")
    r = create(api, "email,firstName,score\nold@example.com,Updated,3\nnew@example.com,New,\n")
    assert r.status_code == 201
    job = r.json()
    assert job["state"] == "Open"
    assert add_batch(api, job["id"], "email,firstName,score\nbad-email,X,1\n"
                                     "n2@example.com,N2,notanumber\n").status_code == 200
    r = ready(api, job["id"])
    assert (r.status_code, r.json()["state"]) == (200, "Ready")
    status = poll_until_complete(api, job["id"])
    assert (status["createdCount"], status["updatedCount"], status["errorCount"]) == (1, 1, 2)
    assert {p["email"]: p["first_name"] for p in emu.prospects()} == {
        "old@example.com": "Updated", "new@example.com": "New"}
    assert emu.prospects()[0]["id"] == existing
    r = api.get(f"{IMPORTS}/{job['id']}/errors")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "email,firstName,score,error"
    assert lines[1] == "bad-email,X,1,Invalid prospect email address"
    assert lines[2].startswith("n2@example.com,N2,notanumber,")


def test_processing_shows_for_the_configured_number_of_polls(emu: PardotEmulator,
                                                             api: Api) -> None:
    emu.configure(import_processing_polls=2)
    job = create(api, "email\na@example.com\n").json()
    ready(api, job["id"])
    states = [api.get(f"{IMPORTS}/{job['id']}").json()["state"] for _ in range(3)]
    assert states == ["Processing", "Processing", "Complete"]
    assert len(emu.prospects()) == 1


def test_nothing_is_applied_before_complete(emu: PardotEmulator, api: Api) -> None:
    job = create(api, "email\na@example.com\n").json()
    ready(api, job["id"])
    assert emu.prospects() == []
    poll_until_complete(api, job["id"])
    assert len(emu.prospects()) == 1


def test_import_matches_the_latest_by_email_so_it_never_duplicates(emu: PardotEmulator,
                                                                   api: Api) -> None:
    emu.add_prospect("a@example.com", last_activity_at=1.0)
    latest = emu.add_prospect("a@example.com", last_activity_at=2.0)
    for _ in range(2):
        job = create(api, "email,city\na@example.com,Rome\n").json()
        ready(api, job["id"])
        assert poll_until_complete(api, job["id"])["updatedCount"] == 1
    assert len(by_email(emu, "a@example.com")) == 2
    assert {p["id"]: p["city"] for p in emu.prospects()}[latest] == "Rome"


def test_import_matching_is_case_sensitive(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("A@example.com")
    job = create(api, "email\na@example.com\n").json()
    ready(api, job["id"])
    assert poll_until_complete(api, job["id"])["createdCount"] == 1


def test_import_matches_by_id_then_salesforce_id(emu: PardotEmulator, api: Api) -> None:
    a = emu.add_prospect("a@example.com")
    b = emu.add_prospect("b@example.com", crm_fid="00Q0000000000BB")
    job = create(api, f"id,salesforceId,email,company\n{a},,other@example.com,A\n"
                      ",00Q0000000000BB,,B\n").json()
    ready(api, job["id"])
    status = poll_until_complete(api, job["id"])
    assert (status["createdCount"], status["updatedCount"]) == (0, 2)
    got = {p["id"]: (p["email"], p["company"]) for p in emu.prospects()}
    assert got == {a: ("other@example.com", "A"), b: ("b@example.com", "B")}


def test_empty_cells_do_not_clear_fields(emu: PardotEmulator, api: Api) -> None:
    emu.add_prospect("a@example.com", first_name="Keep", city="Old")
    job = create(api, "email,firstName,city\na@example.com,,New\n").json()
    ready(api, job["id"])
    poll_until_complete(api, job["id"])
    p = emu.prospects()[0]
    assert (p["first_name"], p["city"]) == ("Keep", "New")


def test_match_columns(emu: PardotEmulator, api: Api) -> None:
    a = emu.add_prospect("a@example.com")
    job = create(api, f"matchId,matchEmail,email,city\n{a},,,X\n"
                      ",b@example.com,,Y\n,,c@example.com,Z\n1,a@example.com,,W\n").json()
    ready(api, job["id"])
    status = poll_until_complete(api, job["id"])
    assert (status["createdCount"], status["updatedCount"], status["errorCount"]) == (2, 1, 1)


def test_restore_deleted(emu: PardotEmulator, api: Api) -> None:
    gone = emu.add_prospect("g@example.com", deleted=True)
    job = create(api, "email,city\ng@example.com,Back\n", restoreDeleted=True).json()
    ready(api, job["id"])
    assert poll_until_complete(api, job["id"])["updatedCount"] == 1
    assert [(p["id"], p["city"]) for p in emu.prospects()] == [(gone, "Back")]


def test_create_and_ready_in_one_call(emu: PardotEmulator, api: Api) -> None:
    r = create(api, "email\na@example.com\n", state="Ready")
    assert r.json()["state"] == "Ready"
    poll_until_complete(api, r.json()["id"])
    assert len(emu.prospects()) == 1


def test_v4_part_names_are_accepted(emu: PardotEmulator, api: Api) -> None:
    r = api.post(IMPORTS, files={
        "importInput": (None, json.dumps(INPUT), "application/json"),
        "importFile": ("b.csv", b"email\na@example.com\n", "text/csv")})
    assert r.status_code == 201
    assert r.json()["batchCount"] == 1


def test_at_most_ten_batches(api: Api) -> None:
    job = create(api, "email\na0@example.com\n").json()
    for i in range(1, 10):
        assert add_batch(api, job["id"], f"email\na{i}@example.com\n").status_code == 200
    r = add_batch(api, job["id"], "email\na10@example.com\n")
    assert r.status_code == 400
    assert r.json() == {"code": 160, "message": "The limit of batches per import has been reached"}


def test_batch_after_ready_is_161(api: Api) -> None:
    job = create(api, "email\na@example.com\n").json()
    ready(api, job["id"])
    assert add_batch(api, job["id"], "email\nb@example.com\n").json()["code"] == 161


def test_ready_without_data_is_156(api: Api) -> None:
    job = create(api).json()
    r = ready(api, job["id"])
    assert (r.status_code, r.json()["code"]) == (400, 156)


def test_ready_twice_is_155(api: Api) -> None:
    job = create(api, "email\na@example.com\n").json()
    ready(api, job["id"])
    assert ready(api, job["id"]).json()["code"] == 155


def test_only_ready_can_be_set(api: Api) -> None:
    job = create(api, "email\na@example.com\n").json()
    r = api.request("PATCH", f"{IMPORTS}/{job['id']}", json={"state": "Complete"})
    assert r.json()["code"] == 154


@pytest.mark.parametrize("csv_text", [
    "first_name\nAnn\n",            # v4 name: the Import API takes v5 names
    "email,nickname\na@example.com,x\n",
    "email,email\na@example.com,b@example.com\n",
    "email,city\na@example.com\n",  # ragged row
    "",
])
def test_invalid_csv_is_159(emu: PardotEmulator, api: Api, csv_text: str) -> None:
    r = create(api, csv_text)
    assert (r.status_code, r.json()["code"]) == (400, 159)
    assert emu.imports() == []


def test_batches_must_share_the_header(api: Api) -> None:
    job = create(api, "email,city\na@example.com,X\n").json()
    assert add_batch(api, job["id"], "city,email\nY,b@example.com\n").json()["code"] == 159


def test_batch_without_a_file_is_162(api: Api) -> None:
    job = create(api).json()
    r = api.post(f"{IMPORTS}/{job['id']}/batches", files={"other": ("x.csv", b"email\n")})
    assert r.json()["code"] == 162


def test_two_files_is_163(api: Api) -> None:
    job = create(api).json()
    r = api.post(f"{IMPORTS}/{job['id']}/batches",
                 files=[("file", ("a.csv", b"email\na@example.com\n")),
                        ("file", ("b.csv", b"email\nb@example.com\n"))])
    assert r.json()["code"] == 163


def test_batch_over_10_mb_is_refused(api: Api) -> None:
    job = create(api).json()
    big = "email,comments\n" + ("a@example.com," + "x" * 1000 + "\n") * 10_500
    assert len(big) > 10 * 1024 * 1024
    r = add_batch(api, job["id"], big)
    assert r.status_code == 400
    assert r.json()["code"] == 204


def test_daily_batch_limit_is_164(emu: PardotEmulator, api: Api) -> None:
    emu.configure(import_daily_batch_limit=2)
    job = create(api, "email\na@example.com\n").json()
    assert add_batch(api, job["id"], "email\nb@example.com\n").status_code == 200
    assert add_batch(api, job["id"], "email\nc@example.com\n").json()["code"] == 164


def test_bad_input(api: Api) -> None:
    assert create(api, operation="Insert").json()["code"] == 154
    assert create(api, object="List").json()["code"] == 154
    r = api.post(IMPORTS, files={"file": ("a.csv", b"email\na@example.com\n")})
    assert r.json()["code"] == 153
    r = api.post(IMPORTS, json=INPUT)
    assert r.json()["code"] == 151


def test_unknown_import_is_404(api: Api) -> None:
    r = api.get(f"{IMPORTS}/999")
    assert (r.status_code, r.json()["code"]) == (404, 192)


def test_errors_before_complete_is_refused(api: Api) -> None:
    job = create(api, "email\na@example.com\n").json()
    assert api.get(f"{IMPORTS}/{job['id']}/errors").json()["code"] == 161


def test_imports_are_listed_in_state(emu: PardotEmulator, api: Api) -> None:
    job = create(api, "email\na@example.com\n").json()
    [listed] = emu.imports()
    assert (listed["id"], listed["state"], listed["rowCount"]) == (job["id"], "Open", 1)
