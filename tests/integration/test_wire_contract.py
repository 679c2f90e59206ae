"""The exact requests the target sends, one test per row of docs/wire-contract.md.

Each request is recorded as it reaches the emulator's HTTP server (method, path, query,
headers, body), before the emulator interprets it, so a test fails on the wrong form even
where the emulator would tolerate it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import pytest

import target_pardot.sinks.bulk_import as bulk_import
from pardot_emulator.wire import parse_multipart
from tests.helpers import base_config, stream_of


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    content_type: str
    body: bytes

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)

    def parts(self) -> dict[str, bytes]:
        return {p.name: p.data for p in parse_multipart(self.body, self.content_type)}


@pytest.fixture
def run(run_ok):
    """Every run in this module must succeed."""
    return run_ok


@pytest.fixture
def sent(emu, monkeypatch, quick_import_polls) -> Iterator[list[Sent]]:
    log: list[Sent] = []
    dispatch = emu.app.dispatch

    def recording(req):
        log.append(Sent(req.method, req.path, parse_qs(req.query, keep_blank_values=True),
                        req.headers, req.content_type, req.body))  # fmt: skip
        return dispatch(req)

    monkeypatch.setattr(emu.app, "dispatch", recording)
    yield log


def only(log: list[Sent], method: str, path_start: str) -> list[Sent]:
    return [s for s in log if s.method == method and s.path.startswith(path_start)]


SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["integer", "null"]},
        "fid": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "loyalty_tier": {"type": ["string", "null"]},
        "Legacy_Code": {"type": ["string", "null"]},
    },
}


def test_r1_token_request_is_a_form_with_the_refresh_grant(emu, run, sent):
    run(base_config(emu), stream_of("prospects", [{"email": "a@example.com"}], schema=SCHEMA))
    [token] = only(sent, "POST", "/services/oauth2/token")
    assert token.query == {}, "no secret in the URL"
    assert token.content_type == "application/x-www-form-urlencoded"
    assert set(token.form()) == {"grant_type", "client_id", "client_secret", "refresh_token"}
    assert token.form()["grant_type"] == ["refresh_token"]


def test_h1_every_pardot_call_carries_bearer_and_business_unit(emu, run, sent):
    run(base_config(emu, upsert_by_email=True),
        stream_of("prospects", [{"email": "a@example.com"}], schema=SCHEMA))  # fmt: skip
    calls = [s for s in sent if s.path.startswith("/api/")]
    assert calls
    for call in calls:
        assert call.headers.get("Authorization", "").startswith("Bearer ")
        assert call.headers.get("Pardot-Business-Unit-Id") == emu.business_unit
        assert "access_token" not in call.query


def test_r3_v4_batch_is_a_form_body_with_one_prospects_field(emu, run, sent):
    pid = emu.add_prospect("a@example.com")
    run(base_config(emu),
        stream_of("prospects", [{"id": pid, "first_name": "Ann", "loyalty_tier": "gold",
                                 "Legacy_Code": "L1"}], schema=SCHEMA))  # fmt: skip
    [batch] = only(sent, "POST", "/api/prospect/version/4/do/batchUpsert")
    assert batch.query == {"format": ["json"]}
    assert batch.content_type == "application/x-www-form-urlencoded"
    form = batch.form()
    assert list(form) == ["prospects"]
    element = json.loads(form["prospects"][0])["prospects"][0]
    # v4 names a custom field by its field_id (fieldId), exactly: no __c added, and the
    # __c of a field_id that has one kept
    assert element == {"id": pid, "first_name": "Ann", "loyalty_tier": "gold",
                       "Legacy_Code__c": "L1"}  # fmt: skip


def test_r4_v5_upsert_body_keys_and_v5_custom_name(emu, run, sent):
    run(base_config(emu, upsert_by_email=True),
        stream_of("prospects", [{"email": "a@example.com", "loyalty_tier": "gold",
                                 "Legacy_Code": "L1"}], schema=SCHEMA))  # fmt: skip
    [upsert] = only(sent, "POST", "/api/v5/objects/prospects/do/upsertLatestByEmail")
    assert upsert.content_type.startswith("application/json")
    body = upsert.json()
    assert set(body) == {"matchEmail", "prospect", "secondaryDeletedSearch", "fields"}
    # v5 names a custom field field_id + "__c" (apiFieldId), also when it has one
    assert body["prospect"] == {"email": "a@example.com", "loyalty_tier__c": "gold",
                                "Legacy_Code__c__c": "L1"}  # fmt: skip
    assert body["matchEmail"] == "a@example.com"


def test_r18_r19_r28_a_known_email_goes_by_id_after_two_queries(emu, run, sent, tmp_path):
    config = base_config(emu, upsert_by_email=True, api_version="4",
                         ledger_path=str(tmp_path / "ledger.sqlite3"))  # fmt: skip
    run(config, stream_of("prospects", [{"email": "a@example.com"}]))
    pid = emu.prospects()[0]["id"]
    sent.clear()
    run(config, stream_of("prospects", [{"email": "a@example.com", "first_name": "A"}]))
    changes, sample = only(sent, "GET", "/api/v5/objects/prospects")
    since = changes.query.pop("updatedAtAfterOrEqualTo")
    assert changes.query == {"fields": ["id,email"], "orderBy": ["id"], "limit": ["1000"]}
    assert since[0].endswith("+00:00") and "T" in since[0]
    assert sample.query == {"fields": ["id,email"], "idGreaterThanOrEqualTo": [str(pid)],
                            "orderBy": ["id"], "deleted": ["all"], "limit": ["1000"]}  # fmt: skip
    [batch] = only(sent, "POST", "/api/prospect/version/4/do/batchUpdate")
    elements = json.loads(batch.form()["prospects"][0])["prospects"]
    assert elements == [{"email": "a@example.com", "first_name": "A", "id": pid}]
    assert only(sent, "POST", "/api/v5/objects/prospects/do/upsertLatestByEmail") == []


def test_r20_match_email_is_the_v5_match_and_email_the_new_address(emu, run, sent):
    schema = {"type": "object", "properties": {"email": {"type": "string"},
                                               "match_email": {"type": "string"}}}  # fmt: skip
    rows = [{"match_email": "old@example.com", "email": "new@example.com"}]
    run(base_config(emu, upsert_by_email=True, api_version="4"),
        stream_of("prospects", rows, schema=schema))  # fmt: skip
    [upsert] = only(sent, "POST", "/api/v5/objects/prospects/do/upsertLatestByEmail")
    body = upsert.json()
    assert body["matchEmail"] == "old@example.com"
    assert body["prospect"] == {"email": "new@example.com"}


def test_r3_memberships_travel_as_list_flags_in_batch_update(emu, run, sent):
    pid = emu.add_prospect("a@example.com")
    run(base_config(emu, data_object="list_memberships"),
        stream_of("list_memberships", [{"list_id": 4, "prospect_id": pid}]))  # fmt: skip
    [batch] = only(sent, "POST", "/api/prospect/version/4/do/batchUpdate")
    assert batch.query == {"format": ["json"]}
    assert json.loads(batch.form()["prospects"][0]) == {"prospects": [{"id": pid, "list_4": 1}]}


def test_r21_a_delete_stream_sends_flag_0_in_batch_update(emu, run, sent):
    pid = emu.add_prospect("a@example.com")
    run(base_config(emu, data_object="list_memberships", list_membership_operation="delete"),
        stream_of("list_memberships", [{"list_id": 4, "prospect_id": pid},
                                       {"list_id": 5, "prospect_id": pid}]))  # fmt: skip
    [batch] = only(sent, "POST", "/api/prospect/version/4/do/batchUpdate")
    assert json.loads(batch.form()["prospects"][0]) == {
        "prospects": [{"id": pid, "list_4": 0, "list_5": 0}]}
    assert only(sent, "POST", "/api/listMembership/") == [], "R5 never deletes"


def test_r22_lists_of_v5_upserted_rows_follow_in_batch_update_by_id(emu, run, sent):
    run(base_config(emu, upsert_by_email=True, prospect_lists=[4]),
        stream_of("prospects", [{"email": "a@example.com"}], schema=SCHEMA))  # fmt: skip
    [upsert] = only(sent, "POST", "/api/v5/objects/prospects/do/upsertLatestByEmail")
    [batch] = only(sent, "POST", "/api/prospect/version/4/do/batchUpdate")
    [p] = emu.prospects()
    assert json.loads(batch.form()["prospects"][0]) == {"prospects": [{"id": p["id"],
                                                                       "list_4": 1}]}
    assert "list_4" not in upsert.json()["prospect"]


def test_r5_explicit_opted_out_uses_the_list_membership_path(emu, run, sent):
    pid = emu.add_prospect("a@example.com")
    run(base_config(emu, data_object="list_memberships"),
        stream_of("list_memberships",
                  [{"list_id": 4, "prospect_id": pid, "opted_out": False}]))  # fmt: skip
    [create] = only(sent, "POST", "/api/listMembership/version/4/do/create")
    assert create.path == f"/api/listMembership/version/4/do/create/list_id/4/prospect_id/{pid}"
    assert create.query == {"format": ["json"]}
    assert create.form() == {"opted_out": ["false"]}


def test_r13_v3_batch_is_keyed_by_id_else_email(emu, run, sent):
    emu.configure(ampsea=False)
    pid = emu.add_prospect("a@example.com")
    rows = [
        {"id": pid, "first_name": "Ann"},
        {"email": "b@example.com", "fid": "00Q000000000001", "loyalty_tier": "gold"},
    ]
    run(base_config(emu, upsert_by_email=False), stream_of("prospects", rows, schema=SCHEMA))
    [_refused_with_89] = only(sent, "POST", "/api/prospect/version/4/do/batchUpsert")
    [batch] = only(sent, "POST", "/api/prospect/version/3/do/batchUpsert")
    assert batch.query == {"format": ["json"]}
    assert batch.content_type == "application/x-www-form-urlencoded"
    form = batch.form()
    assert list(form) == ["prospects"]
    assert json.loads(form["prospects"][0]) == {
        "prospects": {
            str(pid): {"first_name": "Ann"},
            "b@example.com": {"loyalty_tier": "gold"},
        }
    }


def test_r13_r14_v3_memberships(emu, run, sent):
    emu.configure(ampsea=False)
    pid = emu.add_prospect("a@example.com")
    rows = [{"list_id": 4, "prospect_id": pid}, {"list_id": 5, "prospect_id": pid,
                                                  "opted_out": False}]  # fmt: skip
    run(base_config(emu, api_version="3", data_object="list_memberships"),
        stream_of("list_memberships", rows))  # fmt: skip
    [batch] = only(sent, "POST", "/api/prospect/version/3/do/batchUpdate")
    assert json.loads(batch.form()["prospects"][0]) == {"prospects": {str(pid): {"list_4": 1}}}
    [create] = only(sent, "POST", "/api/listMembership/version/3/do/create")
    assert create.path == f"/api/listMembership/version/3/do/create/list_id/5/prospect_id/{pid}"
    assert create.form() == {"opted_out": ["false"]}
    assert not only(sent, "POST", "/api/prospect/version/4/")


def test_r15_to_r17_mirror_reads_members_then_removes_with_flag_0(emu, run, sent):
    pids = [emu.add_prospect(f"m{i}@example.com") for i in range(1001)]
    for pid in pids:
        emu.add_membership(4, pid)
    run(base_config(emu, data_object="list_memberships", list_membership_operation="mirror",
                    mirror_max_removal_percent=100),
        stream_of("list_memberships", [{"list_id": 4, "prospect_id": pids[0]}]))  # fmt: skip
    reads = only(sent, "GET", "/api/v5/objects/list-memberships")
    first = {"fields": ["id,listId,prospectId,optedOut"], "listId": ["4"], "limit": ["1000"],
             "orderBy": ["id asc"]}  # fmt: skip
    assert reads[0].query == first
    assert set(reads[1].query) == {"fields", "nextPageToken"}  # R16: nothing else
    assert reads[1].query["fields"] == ["id,listId,prospectId,optedOut"]
    assert len(reads) == 2  # the second page is short: the list is read
    removals = only(sent, "POST", "/api/prospect/version/4/do/batchUpdate")
    elements = [e for r in removals for e in json.loads(r.form()["prospects"][0])["prospects"]]
    assert all(len(r.form()) == 1 for r in removals)
    assert elements == [{"id": pid, "list_4": 0} for pid in pids[1:]]


def test_r15_a_full_last_page_is_followed_by_an_id_filter(emu, run, sent):
    pids = [emu.add_prospect(f"m{i}@example.com") for i in range(1000)]
    mids = [emu.add_membership(4, pid) for pid in pids]
    run(
        base_config(emu, data_object="list_memberships", list_membership_operation="mirror"),
        stream_of("list_memberships", [{"list_id": 4, "prospect_id": p} for p in pids]),
    )
    reads = only(sent, "GET", "/api/v5/objects/list-memberships")
    assert [r.query.get("idGreaterThan") for r in reads] == [None, [str(max(mids))]]
    assert only(sent, "POST", "/api/prospect/version/4/do/batchUpdate") == []


def test_r11_custom_fields_read_once_with_fields(emu, run, sent):
    run(base_config(emu), stream_of("prospects", [{"email": "a@example.com"}], schema=SCHEMA))
    [read] = only(sent, "GET", "/api/v5/objects/custom-fields")
    # fieldId is the v3/v4 name, apiFieldId the v5 and import name
    assert read.query == {"fields": ["id,fieldId,apiFieldId"]}


def test_r11_offline_dry_run_reads_nothing(emu, run, sent):
    run(base_config(emu, dry_run_offline=True),
        stream_of("prospects", [{"email": "a@example.com"}], schema=SCHEMA))  # fmt: skip
    assert sent == []


def import_config(emu, **overrides):
    return base_config(emu, prospect_operation="import", default_campaign_id=7, **overrides)


def test_r6_to_r10_import_requests(emu, run, sent):
    rows = [{"email": "new@example.com", "first_name": "Zoë", "loyalty_tier": "gold"},
            {"email": "bad address", "first_name": "X"}]  # fmt: skip
    run(import_config(emu, skip_invalid_records=True), stream_of("prospects", rows, schema=SCHEMA))
    [create] = only(sent, "POST", "/api/v5/imports")
    assert create.content_type.startswith("multipart/form-data")
    parts = create.parts()
    assert set(parts) == {"input", "file"}
    assert json.loads(parts["input"]) == {
        "operation": "Upsert", "object": "Prospect", "createOnNoMatch": True,
        "restoreDeleted": True}  # fmt: skip
    header = next(csv.reader(io.StringIO(parts["file"].decode())))
    # custom fields by apiFieldId: Legacy_Code (field_id Legacy_Code__c) is Legacy_Code__c__c
    assert header == ["matchEmail", "salesforceId", "email", "firstName", "loyalty_tier__c",
                      "Legacy_Code__c__c", "campaignId"]  # fmt: skip
    [submit] = only(sent, "PATCH", "/api/v5/imports/")
    assert submit.json() == {"status": "Ready"}
    polls = only(sent, "GET", "/api/v5/imports/")
    reads = [p for p in polls if not p.path.endswith("/errors")]
    assert reads
    asked = "id,status,isExpired,createdCount,updatedCount,errorCount"
    for poll in reads:
        assert poll.query == {"fields": [asked]}
    [errors] = [p for p in polls if p.path.endswith("/errors")]
    assert errors.query == {}
    assert errors.headers.get("Pardot-Business-Unit-Id") == emu.business_unit
    # the redirect was followed to the error file, with none of Pardot's headers
    [download] = only(sent, "GET", "/_emulator/import-errors/")
    for name in ("Authorization", "Pardot-Business-Unit-Id", "X-Return-Api-Usage"):
        assert download.headers.get(name) is None, name


def test_r7_added_batches_carry_one_file_part(emu, run, sent, monkeypatch):
    monkeypatch.setattr(bulk_import, "MAX_IMPORT_BATCH_BYTES", 400)
    rows = [{"email": f"u{i}@example.com", "first_name": "F"} for i in range(40)]
    run(import_config(emu), stream_of("prospects", rows, schema=SCHEMA))
    batches = only(sent, "POST", "/api/v5/imports/")
    assert batches
    headers = set()
    for batch in batches:
        assert batch.path.endswith("/batches")
        parts = batch.parts()
        assert set(parts) == {"file"}
        headers.add(parts["file"].decode().split("\n", 1)[0])
    assert len(headers) == 1, "every batch of an import repeats its header"


def test_import_never_writes_a_refused_column_or_two_match_columns(emu, run, sent):
    pid = emu.add_prospect("a@example.com")
    emu.add_prospect("b@example.com", fid="00Q000000000001")
    rows = [{"id": pid, "email": "a2@example.com", "first_name": "A"},
            {"fid": "00Q000000000001", "first_name": "B"},
            {"email": "c@example.com", "first_name": "C"}]  # fmt: skip
    run(import_config(emu), stream_of("prospects", rows, schema=SCHEMA))
    headers = []
    for create in only(sent, "POST", "/api/v5/imports"):
        if create.path == "/api/v5/imports":
            file = create.parts()["file"].decode()
            headers.append(next(csv.reader(io.StringIO(file))))
    match = sorted(h[0] for h in headers)
    assert match == ["matchEmail", "matchId", "matchSalesforceId"]
    for header in headers:
        assert "id" not in header
        assert sum(name.startswith("match") for name in header) == 1
    by_match = {h[0]: h for h in headers}
    assert "campaignId" in by_match["matchEmail"] and "email" in by_match["matchEmail"]
    assert "salesforceId" not in by_match["matchSalesforceId"]


def test_r29_an_import_asks_the_account_version_with_one_custom_field_read(emu, run, sent):
    emu.configure(ampsea=False)
    config = base_config(emu, prospect_operation="import", default_campaign_id=7)
    run(config, stream_of("prospects", [{"email": "a@example.com"}]))
    v4, v3 = [c for c in sent if c.path.startswith("/api/customField/")]
    assert (v4.method, v4.path) == ("GET", "/api/customField/version/4/do/query")
    assert v4.query == {"format": ["json"], "limit": ["1"]}
    assert v3.path == "/api/customField/version/3/do/query"
    [batch] = only(sent, "POST", "/api/prospect/version/3/do/batchUpsert")
    assert json.loads(batch.form()["prospects"][0]) == {
        "prospects": {"a@example.com": {"campaign_id": 7}}}
