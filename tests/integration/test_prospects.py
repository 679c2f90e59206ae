"""The prospect path against the emulator: every setting and behaviour of the core target."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

import pytest

from target_pardot.rows.payloads import batch_body
from tests.helpers import (
    base_config,
    record_message,
    schema_message,
    state_message,
    stream_of,
    with_transient_faults,
)


def people(n: int, start: int = 0, domain: str = "example.com") -> list[dict]:
    return [
        {"email": f"user{i}@{domain}", "first_name": f"First{i}", "last_name": "Tester"}
        for i in range(start, start + n)
    ]


def calls(emu, endpoint: str) -> int:
    return emu.counters()["calls_by_endpoint"].get(endpoint, 0)


def test_email_only_rows_are_created_in_batches_of_fifty(emu, run):
    # upsert_by_email: false, Treasure Data's default, sends email-only rows in batches.
    config = base_config(emu, upsert_by_email=False)
    result = run(config, stream_of("prospects", people(120), final_state={"done": 1}))
    assert result.exit_code == 0
    assert sorted(p["email"] for p in emu.prospects()) == sorted(
        f"user{i}@example.com" for i in range(120)
    )
    assert calls(emu, "prospect/batchUpsert") == 3
    summary = result.summary
    assert summary["rows_received"] == 120
    assert summary["rows_sent"] == 120
    assert summary["api_calls_by_endpoint"]["prospect/batchUpsert"] == 3
    assert result.states == [{"done": 1}]


def test_rows_with_id_update_and_do_not_duplicate(emu, run):
    pid = emu.add_prospect(email="old@example.com", first_name="Old", city="Oslo")
    records = [{"id": pid, "first_name": "New", "city": None}]
    result = run(base_config(emu), stream_of("prospects", records))
    assert result.exit_code == 0
    [prospect] = emu.prospects()
    assert prospect["id"] == pid
    assert prospect["first_name"] == "New"
    assert prospect["city"] == "Oslo", "a null value must leave the field unchanged"
    assert result.summary["prospects_updated"] == 1


def test_rows_with_fid_update_the_matching_prospect(emu, run):
    emu.add_prospect(email="crm@example.com", crm_fid="00Q000000000001")
    result = run(
        base_config(emu), stream_of("prospects", [{"fid": "00Q000000000001", "company": "Acme"}])
    )
    assert result.exit_code == 0
    [prospect] = emu.prospects()
    assert prospect["company"] == "Acme"


def test_email_only_rows_duplicate_on_ampsea_without_upsert_by_email(emu, run):
    """Treasure Data's semantics, documented in the README: an email-only row inserts."""
    config = base_config(emu, upsert_by_email=False)
    run(config, stream_of("prospects", people(3)))
    run(config, stream_of("prospects", people(3)))
    assert len(emu.prospects()) == 6


def test_upsert_by_email_never_duplicates(emu, run):
    emu.add_prospect(email="user0@example.com", first_name="Before")
    # Without the identity map, so that both runs go through upsertLatestByEmail.
    config = base_config(emu, upsert_by_email=True, parallel_tasks=3, identity_map=False)
    first = run(config, stream_of("prospects", people(10)))
    second = run(config, stream_of("prospects", people(10)))
    assert first.exit_code == second.exit_code == 0
    prospects = emu.prospects()
    assert len(prospects) == 10
    assert {p["first_name"] for p in prospects if p["email"] == "user0@example.com"} == {"First0"}
    assert first.summary["prospects_created"] == 9
    assert first.summary["prospects_updated"] == 1
    assert second.summary["prospects_updated"] == 10
    assert calls(emu, "prospect/upsertLatestByEmail") == 20


def test_upsert_by_email_is_case_sensitive_unless_lowercased(emu, run):
    emu.add_prospect(email="ann@example.com")
    run(
        base_config(emu, upsert_by_email=True),
        stream_of("prospects", [{"email": "Ann@Example.com "}]),
    )
    assert sorted(p["email"] for p in emu.prospects()) == ["Ann@Example.com", "ann@example.com"]
    emu.reset()
    emu.add_prospect(email="ann@example.com")
    run(
        base_config(emu, upsert_by_email=True, lowercase_emails=True),
        stream_of("prospects", [{"email": " Ann@Example.com"}]),
    )
    assert [p["email"] for p in emu.prospects()] == ["ann@example.com"]


@pytest.mark.parametrize(("search_deleted", "expected_live"), [(True, 1), (False, 2)])
def test_search_deleted_prospects(emu, run, search_deleted, expected_live):
    deleted_id = emu.add_prospect(email="gone@example.com", deleted=True)
    run(
        base_config(emu, upsert_by_email=True, search_deleted_prospects=search_deleted),
        stream_of("prospects", [{"email": "gone@example.com", "first_name": "Back"}]),
    )
    everyone = emu.prospects(include_deleted=True)
    assert len(everyone) == expected_live
    restored = [p for p in emu.prospects() if p["id"] == deleted_id]
    assert bool(restored) is search_deleted


def test_prospect_operation_update_never_creates(emu, run):
    pid = emu.add_prospect(email="a@example.com")
    records = [
        {"id": pid, "company": "Acme"},
        {"id": 999_999, "company": "Nope"},
        {"email": "new@example.com"},
    ]
    result = run(
        base_config(
            emu, prospect_operation="update", skip_invalid_records=True, max_rejected_percent=100
        ),
        stream_of("prospects", records),
    )
    assert result.exit_code == 0
    assert [p["company"] for p in emu.prospects()] == ["Acme"]
    assert calls(emu, "prospect/batchUpdate") == 1
    assert calls(emu, "prospect/batchUpsert") == 0
    assert result.summary["rejected_by_reason"] == {"pardot_rejected": 1, "update_needs_id": 1}


@pytest.mark.parametrize("lists", ["1,2", [1, 2], "[1, 2]"])
def test_prospect_lists_add_every_sent_prospect(emu, run, lists):
    run(
        base_config(emu, upsert_by_email=False, prospect_lists=lists),
        stream_of("prospects", people(60)),
    )
    memberships = {(m["list_id"], m["prospect_id"]) for m in emu.memberships()}
    ids = [p["id"] for p in emu.prospects()]
    assert memberships == {(lst, pid) for pid in ids for lst in (1, 2)}
    assert calls(emu, "prospect/batchUpsert") == 2, "list flags ride inside the batch calls"


def test_prospect_lists_remove(emu, run):
    pid = emu.add_prospect(email="a@example.com")
    emu.add_membership(1, pid)
    emu.add_membership(2, pid)
    run(
        base_config(emu, prospect_lists="1", prospect_list_operation="remove"),
        stream_of("prospects", [{"id": pid}]),
    )
    assert [(m["list_id"], m["prospect_id"]) for m in emu.memberships()] == [(2, pid)]


def test_prospect_lists_for_v5_rows_are_applied_by_id_in_batches(emu, run):
    result = run(
        base_config(emu, upsert_by_email=True, prospect_lists="7"),
        stream_of("prospects", people(60)),
    )
    assert result.exit_code == 0
    ids = {p["id"] for p in emu.prospects()}
    assert {m["prospect_id"] for m in emu.memberships() if m["list_id"] == 7} == ids
    assert calls(emu, "prospect/batchUpdate") == 2


def test_field_names_are_mapped_and_custom_fields_kept(emu, run, caplog):
    schema = {
        "type": "object",
        "properties": {
            "Email": {"type": "string"},
            "FirstName": {"type": "string"},
            "lastName": {"type": "string"},
            "JOB_TITLE": {"type": "string"},
            "Favorite_Color__c": {"type": "string"},
            "updated_at": {"type": "string"},
        },
    }
    record = {
        "Email": " mixed@example.com ",
        "FirstName": "Ann",
        "lastName": "Lee",
        "JOB_TITLE": "CTO",
        "Favorite_Color__c": "teal",
        "updated_at": "2024-01-01",
    }
    result = run(base_config(emu), stream_of("prospects", [record], schema=schema))
    assert result.exit_code == 0
    [p] = emu.prospects()
    assert (p["email"], p["first_name"], p["last_name"], p["job_title"]) == (
        "mixed@example.com",
        "Ann",
        "Lee",
        "CTO",
    )
    # The account's custom field favorite_color, matched by its v5 name in any case.
    assert p["favorite_color__c"] == "teal"
    assert p.get("updated_at") != "2024-01-01"
    assert "updated_at" in result.stderr and "not Pardot" in result.stderr


def test_batches_are_split_by_max_payload(emu, run):
    records = [{**r, "comments": "c" * 400} for r in people(50)]
    result = run(
        base_config(emu, upsert_by_email=False, max_payload=5_000), stream_of("prospects", records)
    )
    assert result.exit_code == 0
    assert len(emu.prospects()) == 50
    assert calls(emu, "prospect/batchUpsert") >= 5


def test_batch_json_travels_in_the_body_not_the_url(emu, run):
    emu.configure(uri_limit=120)
    records = [{**r, "comments": "x" * 300} for r in people(50)]
    result = run(base_config(emu), stream_of("prospects", records))
    assert result.exit_code == 0
    assert len(emu.prospects()) == 50
    assert emu.counters()["http_status_counts"].get("414", 0) == 0


def test_a_413_splits_the_batch_and_warns(emu, run):
    emu.configure(max_body_bytes=6_000)
    records = [{**r, "comments": "y" * 200} for r in people(50)]
    result = run(base_config(emu), stream_of("prospects", records))
    assert result.exit_code == 0
    assert len(emu.prospects()) == 50
    assert "max_payload" in result.stderr
    assert result.summary["retries_by_reason"].get("http_413_split", 0) >= 1


def test_partial_batch_errors_reject_exactly_the_right_rows(emu, run, tmp_path):
    records = people(6)
    records[1]["email"] = "not-an-email"
    records[4]["email"] = "also bad@"
    rejected = tmp_path / "rejected.jsonl"
    result = run(
        base_config(
            emu,
            skip_invalid_records=True,
            max_rejected_percent=100,
            rejected_records_path=str(rejected),
        ),
        stream_of("prospects", records, final_state={"s": 1}),
    )
    assert result.exit_code == 0
    assert sorted(p["email"] for p in emu.prospects()) == sorted(
        r["email"] for i, r in enumerate(records) if i not in (1, 4)
    )
    lines = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert [line["record"]["email"] for line in lines] == ["not-an-email", "also bad@"]
    assert {tuple(sorted(line)) for line in lines} == {
        ("code", "position", "reason", "record", "run_id", "run_started_at", "stream")
    }
    assert all(line["stream"] == "prospects" and line["code"] == 4 for line in lines)
    assert "Invalid prospect email address" in lines[0]["reason"]
    assert result.summary["rejected_by_reason"] == {"pardot_rejected": 2}
    assert result.states == [{"s": 1}]


def test_invalid_rows_are_skipped_counted_and_filed(emu, run, tmp_path):
    rejected = tmp_path / "r.jsonl"
    records = [
        {"email": "ok@example.com"},
        {"first_name": "No key"},
        {"email": "long@example.com", "comments": "z" * 8_000},
        {"email": "typed@example.com", "score": "high"},
    ]
    result = run(
        base_config(
            emu,
            skip_invalid_records=True,
            max_rejected_percent=100,
            rejected_records_path=str(rejected),
        ),
        stream_of("prospects", records),
    )
    assert result.exit_code == 0
    assert [p["email"] for p in emu.prospects()] == ["ok@example.com"]
    assert result.summary["rejected_by_reason"] == {
        "invalid_schema": 1,
        "missing_key": 1,
        "row_too_long": 1,
    }
    reasons = [json.loads(line)["code"] for line in rejected.read_text().splitlines()]
    assert reasons == ["missing_key", "row_too_long", "invalid_schema"]
    assert "Skipped row 2 of stream 'prospects'" in result.stderr


def test_invalid_row_stops_the_run_after_delivering_the_rows_before_it(emu, run):
    messages = [
        schema_message("prospects"),
        *[record_message("prospects", r) for r in people(3)],
        state_message({"upto": 3}),
        record_message("prospects", {"first_name": "no key"}),
        *[record_message("prospects", r) for r in people(2, start=10)],
        state_message({"upto": 6}),
    ]
    result = run(base_config(emu), messages)
    assert result.exit_code == 1
    assert "row 4 of stream 'prospects'" in result.stderr
    assert "no 'id', 'fid' or 'email'" in result.stderr
    assert len(emu.prospects()) == 3
    assert result.states == [{"upto": 3}]


def test_a_row_pardot_rejects_stops_the_run_without_state(emu, run):
    records = people(4)
    records[2]["email"] = "broken"
    result = run(base_config(emu), stream_of("prospects", records, final_state={"s": 9}))
    assert result.exit_code == 1
    assert "row 3 of stream 'prospects' (email=broken)" in result.stderr
    assert "Invalid prospect email address" in result.stderr
    assert result.states == []


def test_summary_lists_calls_and_is_on_stderr_only(emu, run):
    result = run(base_config(emu), stream_of("prospects", people(5), final_state={"k": 1}))
    assert "run summary:" in result.stderr
    assert "run summary" not in result.stdout
    summary = result.summary
    for key in (
        "rows_received",
        "rows_sent",
        "rows_rejected",
        "rejected_by_reason",
        "api_calls",
        "api_calls_by_endpoint",
        "retries",
        "wall_seconds",
        "rows_per_second",
    ):
        assert key in summary
    assert summary["api_calls_by_endpoint"]["oauth/token"] == 1


def test_dry_run_sends_no_write_call(emu, run):
    result = run(
        base_config(emu, dry_run=True, upsert_by_email=True, prospect_lists="3"),
        stream_of("prospects", [*people(7), {"id": 5}]),
    )
    assert result.exit_code == 0
    assert emu.prospects() == []
    endpoints = emu.counters()["calls_by_endpoint"]
    assert set(endpoints) <= {"oauth/token", "v5/custom-fields/query", "v5/lists/read"}  # reads
    assert result.summary["planned_calls_by_endpoint"] == {
        "prospect/batchUpdate": 1,
        "prospect/batchUpsert": 1,
        "prospect/upsertLatestByEmail": 7,
    }


def test_other_streams_follow_data_object(emu, run):
    pid = emu.add_prospect(email="a@example.com")
    schema = {
        "type": "object",
        "properties": {"list_id": {"type": "integer"}, "prospect_id": {"type": "integer"}},
    }
    result = run(
        base_config(emu, data_object="list_memberships"),
        stream_of("crm_segments", [{"list_id": 5, "prospect_id": pid}], schema=schema),
    )
    assert result.exit_code == 0
    assert [(m["list_id"], m["prospect_id"]) for m in emu.memberships()] == [(5, pid)]


def test_concurrency_is_capped_across_streams(emu, run, caplog):
    emu.configure(latency_ms=40)
    messages = []
    for stream in ("prospects", "leads-a", "leads-b"):
        messages += stream_of(stream, people(400, domain=f"{stream}.example.com"))
    # v4 batches (8 per stream): the cap is the subject, not upsert_by_email's call per row.
    with caplog.at_level(logging.WARNING):
        result = run(base_config(emu, parallel_tasks=12, upsert_by_email=False), messages)
    assert result.exit_code == 0
    counters = emu.counters()
    assert counters["calls_by_endpoint"]["prospect/batchUpsert"] == 24
    assert 1 < counters["max_in_flight"] <= 5
    assert counters["errors_by_code"].get("66", 0) == 0
    assert len(emu.prospects()) == 1200
    assert "parallel_tasks=12" in result.stderr


def test_token_expiry_refreshes_once_and_replays(emu, run):
    emu.configure(token_lifetime_calls=10, latency_ms=5)
    result = run(
        base_config(emu, upsert_by_email=False, parallel_tasks=5),
        stream_of("prospects", people(1000)),
    )
    assert result.exit_code == 0, result.stderr[-2000:]
    assert len(emu.prospects()) == 1000
    # 20 batch calls plus their replays, 10 calls per token: three tokens. Refreshing once
    # per thread that saw the expiry would need up to five per expiry.
    assert emu.counters()["tokens_issued"] <= 5
    assert result.summary["retries_by_reason"]["token_refresh"] >= 1


def test_transient_faults_are_retried_and_every_row_lands_once(emu, run):
    with_transient_faults(emu, 0.3, seed=3)
    records = [
        {"id": emu.add_prospect(email=f"k{i}@example.com"), "company": f"C{i}"} for i in range(200)
    ]
    result = run(
        base_config(emu, parallel_tasks=4, maximum_retries=10),
        stream_of("prospects", records, final_state={"ok": True}),
    )
    assert result.exit_code == 0, result.stderr[-2000:]
    prospects = emu.prospects()
    assert len(prospects) == 200
    assert sorted(p["company"] for p in prospects) == sorted(f"C{i}" for i in range(200))
    assert result.summary["retries"] > 0
    assert result.states == [{"ok": True}]


def test_lost_responses_never_duplicate_email_only_rows(emu, run):
    emu.configure(applied_but_lost_rate=0.5, seed=11)
    result = run(
        base_config(emu, upsert_by_email=False, maximum_retries=10),
        stream_of("prospects", people(150)),
    )
    assert result.exit_code == 0, result.stderr[-2000:]
    emails = [p["email"] for p in emu.prospects()]
    assert len(emails) == len(set(emails)) == 150
    assert result.summary["retries_by_reason"].get("ambiguous_failure_rerouted", 0) > 0


@pytest.mark.parametrize("status", [200, 400, 429])
def test_concurrency_errors_are_retried_whatever_their_status(emu, run, status):
    emu.configure(reserved_slots=4, rate_limit_status=status, latency_ms=20)
    # v4 batches: the retry of error 66 is the subject, not upsert_by_email's call per row.
    config = base_config(emu, parallel_tasks=3, maximum_retries=30, upsert_by_email=False)
    result = run(config, stream_of("prospects", people(300)))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert len(emu.prospects()) == 300
    retried = result.summary["retries_by_reason"].get("code_66", 0)
    assert retried > 0
    # Every rejected call came back as a retry of one of the 6 batches.
    assert calls(emu, "prospect/batchUpsert") == 6 + retried


def test_retries_exhausted_fail_the_run_without_state(emu, run):
    emu.configure(fault_rate=1.0, fault_kinds=["http503"])
    result = run(
        base_config(emu, maximum_retries=2), stream_of("prospects", people(3), final_state={"s": 1})
    )
    assert result.exit_code == 1
    assert "after 2 retries" in result.stderr
    assert result.states == []
    assert emu.counters()["calls_by_endpoint"]["prospect/batchUpsert"] == 3


@pytest.mark.parametrize("status", [200, 400, 429])
def test_daily_limit_stops_the_run_whatever_its_status(emu, run, status):
    emu.configure(daily_limit=2, rate_limit_status=status)
    result = run(base_config(emu), stream_of("prospects", people(200), final_state={"s": 1}))
    assert result.exit_code == 3
    assert "daily API limit" in result.stderr
    assert result.states == []


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ({"client_secret": "wrong-secret"}, "client_secret"),
        ({"refresh_token": "revoked-token"}, "refresh_token"),
        ({"client_id": "unknown-app"}, "client_id"),
    ],
)
def test_bad_credentials_fail_fast_naming_the_setting(emu, run, override, setting):
    result = run(base_config(emu, **override), stream_of("prospects", people(2)))
    assert result.exit_code == 2
    assert f"'{setting}'" in result.stderr
    assert emu.prospects() == []
    assert "oauth/token" in emu.counters()["calls_by_endpoint"]
    assert set(emu.counters()["calls_by_endpoint"]) == {"oauth/token"}


def test_wrong_business_unit_fails_fast(emu, run):
    result = run(
        base_config(emu, business_unit="0Uv999999999999ZZZ"), stream_of("prospects", people(200))
    )
    assert result.exit_code == 2
    assert "business_unit" in result.stderr
    # The run's first Pardot call (reading the custom fields) already stops it.
    calls = emu.counters()["calls_by_endpoint"]
    assert calls.get("v5/custom-fields/query") == 1
    assert "prospect/batchUpsert" not in calls


def test_requests_carry_token_in_header_only(emu, run):
    run(base_config(emu, upsert_by_email=True), stream_of("prospects", people(3)))
    assert emu.counters()["token_in_url_violations"] == 0


def test_urlencoded_body_round_trip_is_what_pardot_parses():
    """The body the target builds decodes to exactly the array that was planned."""
    elements = [{"email": "a&b=c@example.com", "comments": "100% + ünïcode"}]
    decoded = json.loads(parse_qs(batch_body(elements))["prospects"][0])
    assert decoded == {"prospects": elements}


def test_calls_in_flight_adapt_to_another_integration_holding_slots(emu, run):
    emu.configure(reserved_slots=2, latency_ms=20)
    result = run(
        base_config(emu, upsert_by_email=False, parallel_tasks=5, maximum_retries=10),
        stream_of("prospects", people(3000)),
    )
    assert result.exit_code == 0, result.stderr[-2000:]
    assert len(emu.prospects()) == 3000
    counters = emu.counters()
    refused = counters["errors_by_code"].get("66", 0)
    assert 1 <= refused <= 6, "one overload lowers the limit; probes back up are rare"
    assert counters["max_in_flight"] <= 5
    assert "Now at most 3 calls in flight" in result.stderr
