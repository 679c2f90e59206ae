"""prospect_operation import: bulk loads through the v5 Import API, against the emulator."""

from __future__ import annotations

import json

import pytest

import target_pardot.sinks.bulk_import as imports_module
import target_pardot.sinks.prospects as delivery_module
from target_pardot.errors import ConfigError
from target_pardot.settings import parse_settings
from tests.helpers import (
    base_config,
    record_message,
    schema_message,
    state_message,
    stream_of,
)


def people(n: int, start: int = 0) -> list[dict]:
    return [{"email": f"u{i}@example.com", "first_name": f"F{i}"} for i in range(start, start + n)]


def calls(emu) -> dict[str, int]:
    return {k: v for k, v in emu.counters()["calls_by_endpoint"].items() if k != "oauth/token"}


pytestmark = pytest.mark.usefixtures("quick_import_polls")


@pytest.fixture
def config(emu):
    return base_config(emu, prospect_operation="import", parallel_tasks=3, default_campaign_id=7)


def test_rows_load_in_a_handful_of_calls(emu, run, config):
    result = run(config, stream_of("prospects", people(1_200), final_state={"s": 1}))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert len(emu.prospects()) == 1_200
    # customField/query: the one v3/v4 read that tells an AMPSEA account (imports match
    # emails as it does) from one without (its email rows go as v3 batches).
    assert calls(emu) == {"v5/custom-fields/query": 1, "customField/query": 1,
                          "imports/create": 1, "imports/update": 1, "imports/read": 2}  # fmt: skip
    [job] = emu.imports()
    assert (job["status"], job["rowCount"], job["batchCount"]) == ("Complete", 1_200, 1)
    summary = result.summary
    assert (summary["rows_sent"], summary["prospects_created"]) == (1_200, 1_200)
    assert result.states == [{"s": 1}]


def test_matching_by_email_never_duplicates(emu, run, config):
    emu.add_prospect(email="u0@example.com", first_name="Before")
    run(config, stream_of("prospects", people(10)))
    again = run(config, stream_of("prospects", people(10)))
    assert again.exit_code == 0
    prospects = emu.prospects()
    assert len(prospects) == 10
    assert {p["first_name"] for p in prospects if p["email"] == "u0@example.com"} == {"F0"}
    assert again.summary["prospects_updated"] == 10


def test_rows_match_by_id_and_fid_and_failures_are_rejected(emu, run, config, tmp_path):
    pid = emu.add_prospect(email="id@example.com", city="Oslo")
    emu.add_prospect(email="fid@example.com", crm_fid="00Q000000000001")
    rejected = tmp_path / "rejected.jsonl"
    records = [
        {"id": pid, "city": "Bergen"},
        {"fid": "00Q000000000001", "city": "Tromsø"},
        {"id": 999_999, "city": "Nowhere"},
        {"email": "not an email", "city": "Nowhere"},
    ]
    result = run(
        {**config, "skip_invalid_records": True, "rejected_records_path": str(rejected)},
        stream_of("prospects", records, final_state={"s": 1}),
    )
    assert result.exit_code == 0, result.stderr[-2000:]
    cities = {p["email"]: p["city"] for p in emu.prospects()}
    assert cities == {"id@example.com": "Bergen", "fid@example.com": "Tromsø"}
    lines = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert sorted((str(line["code"]), line["record"].get("id") or 0) for line in lines) == [
        ("4", 0),  # invalid email
        ("None", 999_999),  # matchId found nothing: an id lane never creates
    ]
    assert {line["record"]["city"] for line in lines} == {"Nowhere"}, "the input rows"
    assert result.summary["rejected_by_reason"] == {"pardot_rejected": 2}
    assert result.summary["rows_sent"] == 2
    assert result.states == [{"s": 1}]


def test_the_error_file_is_fetched_without_pardot_headers_in_one_call(emu, run, config):
    # Pardot redirects /imports/<id>/errors to a storage host: the target follows it
    # itself, sending no token, business unit or usage header, and counts one call.
    records = [{"email": "ok@example.com"}, {"email": "not an email"}]
    result = run({**config, "skip_invalid_records": True}, stream_of("prospects", records))
    assert result.exit_code == 0, result.stderr[-2000:]
    counters = emu.counters()
    assert counters["calls_by_endpoint"]["imports/errors"] == 1
    assert (counters["error_file_downloads"], counters["error_file_pardot_headers"]) == (1, 0)
    assert result.summary["api_calls_by_endpoint"]["imports/errors"] == 1
    assert result.summary["rejected_by_reason"] == {"pardot_rejected": 1}


def test_a_failed_row_stops_the_run_without_state(emu, run, config):
    records = people(5)
    records[3]["email"] = "broken"
    result = run(config, stream_of("prospects", records, final_state={"s": 1}))
    assert result.exit_code == 1
    assert "row 4 of stream 'prospects' (email=broken)" in result.stderr
    assert result.states == []


def test_batches_and_imports_stay_within_the_limits(emu, run, config, monkeypatch):
    monkeypatch.setattr(imports_module, "MAX_IMPORT_BATCH_BYTES", 1_000)
    monkeypatch.setattr(imports_module, "MAX_BATCHES_PER_IMPORT", 3)
    result = run(config, stream_of("prospects", people(300)))
    assert result.exit_code == 0, result.stderr[-2000:]
    jobs = emu.imports()
    assert len(jobs) > 3
    assert all(job["batchCount"] <= 3 and job["status"] == "Complete" for job in jobs)
    assert sum(job["rowCount"] for job in jobs) == 300
    assert len(emu.prospects()) == 300


def test_an_import_is_set_ready_after_its_row_quota(emu, run, config, monkeypatch):
    monkeypatch.setattr(imports_module, "ROWS_PER_IMPORT", 40)
    result = run(config, stream_of("prospects", people(100)))
    assert result.exit_code == 0
    assert [job["rowCount"] for job in emu.imports()] == [40, 40, 20]


def test_every_state_waits_for_the_imports_before_it(emu, run, config, monkeypatch):
    # Drain (and write STATE) after every record, as batch_wait_limit_seconds does for a
    # slow tap.
    messages = [schema_message("prospects")]
    for i in range(3):
        messages += [record_message("prospects", people(1, start=i)[0]), state_message({"i": i})]
    result = run({**config, "batch_wait_limit_seconds": 0}, messages)
    assert result.exit_code == 0
    # The first drain has no STATE to write yet, so its row joins the next import.
    assert [job["rowCount"] for job in emu.imports()] == [2, 1]
    assert all(job["status"] == "Complete" for job in emu.imports())
    assert result.states == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_a_new_field_widens_the_header_of_its_drain_once(emu, run, config):
    """The header comes from all the rows of a drain: a row with a new field widens it
    before the first row is written, so both rows share one import."""
    schema = {"type": "object", "properties": {"email": {"type": "string"}}}
    messages = [
        schema_message("prospects", schema),
        record_message("prospects", {"email": "a@example.com"}),
        record_message("prospects", {"email": "b@example.com", "Color__c": "teal"}),
    ]
    result = run(config, messages)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert {p["email"]: p.get("Color__c") for p in emu.prospects()} == {
        "a@example.com": None,
        "b@example.com": "teal",
    }
    assert len(emu.imports()) == 1


BLANKS_SCHEMA = {"type": "object", "properties": {"email": {"type": "string"},
                                                  "city": {"type": ["string", "null"]},
                                                  "fax": {"type": ["string", "null"]}}}  # fmt: skip


def test_blank_cells_leave_fields_as_they_are_by_default(emu, run, config):
    emu.add_prospect(email="keep@example.com", city="Oslo", fax="123")
    records = [{"email": "keep@example.com", "city": "", "fax": "  "}]
    result = run(config, stream_of("prospects", records, schema=BLANKS_SCHEMA))
    assert result.exit_code == 0
    assert [(p["city"], p["fax"]) for p in emu.prospects()] == [("Oslo", "123")]
    assert result.summary["fields_skipped"] == 2


def test_empty_values_clear_clears_through_null_overwrite(emu, run, config):
    emu.add_prospect(email="clear@example.com", city="Oslo", fax="123")
    records = [{"email": "clear@example.com", "city": None, "fax": " "}]
    result = run({**config, "empty_values": "clear"},
                 stream_of("prospects", records, schema=BLANKS_SCHEMA))  # fmt: skip
    assert result.exit_code == 0, result.stderr[-2000:]
    assert [(p["city"], p["fax"]) for p in emu.prospects()] == [(None, None)]
    assert result.summary["fields_cleared"] == 2


def test_empty_values_clear_leaves_fields_a_row_does_not_have(emu, run, config):
    """A database tap leaves a row's nulls out, and rows bring different fields: a field
    a row does not have is left as it is (as a v4 or v5 call leaves it); only the
    row's own blank cells clear."""
    for name in ("a", "b", "c"):
        emu.add_prospect(email=f"{name}@example.com", city="Oslo", fax="123")
    records = [{"email": "a@example.com", "city": None},
               {"email": "b@example.com", "fax": "456"},
               {"email": "c@example.com", "city": "Rome", "fax": None}]  # fmt: skip
    result = run({**config, "empty_values": "clear"},
                 stream_of("prospects", records, schema=BLANKS_SCHEMA))  # fmt: skip
    assert result.exit_code == 0, result.stderr[-2000:]
    assert {p["email"]: (p["city"], p["fax"]) for p in emu.prospects()} == {
        "a@example.com": (None, "123"), "b@example.com": ("Oslo", "456"),
        "c@example.com": ("Rome", None)}
    assert result.summary["fields_cleared"] == 2


@pytest.mark.parametrize("tracked", [imports_module.MAX_TRACKED_PROSPECTS, 0])
def test_empty_values_clear_keeps_a_prospects_rows_in_order_across_imports(
    emu, run, config, monkeypatch, tracked
):
    """Rows of one prospect with different fields travel in different imports: each
    waits for the earlier import carrying its prospect, so the last row wins (also
    when too many prospects are on their way to remember them one by one)."""
    monkeypatch.setattr(imports_module, "MAX_TRACKED_PROSPECTS", tracked)
    emu.add_prospect(email="a@example.com", city="Oslo", fax="123")
    records = [{"email": "a@example.com", "city": "First"},
               {"email": "a@example.com", "city": "Second", "fax": "2"},
               {"email": "a@example.com", "city": "Third"},
               {"email": "a@example.com", "fax": None}]  # fmt: skip
    result = run({**config, "empty_values": "clear"},
                 stream_of("prospects", records, schema=BLANKS_SCHEMA))  # fmt: skip
    assert result.exit_code == 0, result.stderr[-2000:]
    assert [(p["email"], p["city"], p["fax"]) for p in emu.prospects()] == [
        ("a@example.com", "Third", None)]
    assert calls(emu)["imports/create"] == 4  # one per change of column set


def test_dry_run_plans_the_import_calls(emu, run, config):
    result = run({**config, "dry_run": True}, stream_of("prospects", people(30)))
    assert result.exit_code == 0
    assert calls(emu) == {"v5/custom-fields/query": 1}  # a read, not a write
    assert result.summary["planned_calls_by_endpoint"] == {
        "imports/create": 1,
        "imports/update": 1,
    }
    assert result.summary["planned_rows_by_endpoint"]["imports/create"] == 30


def test_skip_unchanged_works_with_imports(emu, run, config, tmp_path):
    ledgered = {**config, "skip_unchanged": True, "ledger_path": str(tmp_path / "l.sqlite3")}
    first = run(ledgered, stream_of("prospects", people(50)))
    assert first.summary["rows_sent"] == 50
    before = calls(emu)
    again = run(ledgered, stream_of("prospects", people(50)))
    assert again.summary["rows_unchanged"] == 50
    # only the run's one custom-field read, no import call
    assert calls(emu) == {**before, "v5/custom-fields/query": 2}


def test_the_daily_import_batch_limit_stops_the_run(emu, run, config):
    emu.configure(import_daily_batch_limit=0)
    result = run(config, stream_of("prospects", people(5), final_state={"s": 1}))
    assert result.exit_code == 3
    assert "daily import batches" in result.stderr
    assert result.states == []


def test_an_import_changes_at_most_twenty_lists_per_prospect(emu):
    lists = ",".join(str(i) for i in range(1, 22))
    with pytest.raises(ConfigError, match="prospect_lists"):
        parse_settings({**base_config(emu, prospect_operation="import"), "prospect_lists": lists})


def test_a_large_upsert_by_email_load_recommends_imports(emu, run, monkeypatch):
    monkeypatch.setattr(delivery_module, "V5_CALLS_BEFORE_IMPORT_HINT", 10)
    result = run(base_config(emu, upsert_by_email=True, parallel_tasks=5),
                 stream_of("prospects", people(30)))  # fmt: skip
    assert result.exit_code == 0
    # With a campaign, prospect_operation auto (the default) imports such rows itself.
    hints = [line for line in result.stderr.splitlines() if "'default_campaign_id'" in line
             and "prospect_operation 'auto'" in line]  # fmt: skip
    assert len(hints) == 1


def test_records_with_decimals_are_reported_as_they_came(emu, run, config, tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    schema = {"type": "object", "properties": {"email": {"type": "string"},
                                               "Amount__c": {"type": "number"}}}  # fmt: skip
    records = [{"email": "ok@example.com", "Amount__c": 1.5},
               {"email": "bad email", "Amount__c": 2.25}]  # fmt: skip
    result = run(
        {**config, "skip_invalid_records": True, "rejected_records_path": str(rejected)},
        stream_of("prospects", records, schema=schema),
    )
    assert result.exit_code == 0
    assert [p["Amount__c"] for p in emu.prospects()] == ["1.5"]
    [line] = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert line["record"] == {"email": "bad email", "Amount__c": 2.25}


def test_email_rows_loaded_twice_leave_each_email_once(emu, run, config):
    rows = people(2_000)
    for _ in range(2):
        result = run(config, stream_of("prospects", rows, final_state={"s": 1}))
        assert result.exit_code == 0, result.stderr[-2000:]
    emails = [p["email"] for p in emu.prospects()]
    assert len(emails) == 2_000 and len(set(emails)) == 2_000
    assert result.summary["prospects_updated"] == 2_000


def test_a_mixed_stream_lands_in_one_import_per_key_kind(emu, run, config):
    a = emu.add_prospect(email="a@example.com")
    emu.add_prospect(email="b@example.com", crm_fid="00Q000000000001")
    records = [
        {"id": a, "city": "Bergen"},
        {"fid": "00Q000000000001", "city": "Oslo"},
        {"email": "c@example.com", "city": "Rome"},
        {"id": a, "company": "Acme"},
        {"email": "d@example.com", "city": "Nice"},
    ]
    result = run(config, stream_of("prospects", records, final_state={"s": 1}))
    assert result.exit_code == 0, result.stderr[-2000:]
    jobs = emu.imports()
    assert sorted(job["rowCount"] for job in jobs) == [1, 2, 2]
    got = {p["email"]: (p["city"], p["company"], p["campaign_id"]) for p in emu.prospects()}
    assert got == {
        "a@example.com": ("Bergen", "Acme", None),
        "b@example.com": ("Oslo", None, None),
        "c@example.com": ("Rome", None, 7),
        "d@example.com": ("Nice", None, 7),
    }
    assert result.states == [{"s": 1}]


def test_fields_arrive_byte_exact_unicode_included(emu, run, config):
    texts = ["Zoë «quoted», \"double\"", "日本語のテキスト", "emoji 🎉 and tab\there",
             "line\nbreak", " leading and trailing "]  # fmt: skip
    records = [{"email": f"u{i}@example.com", "first_name": t} for i, t in enumerate(texts)]
    result = run(config, stream_of("prospects", records))
    assert result.exit_code == 0, result.stderr[-2000:]
    got = {p["email"]: p["first_name"] for p in emu.prospects()}
    assert got == {r["email"]: r["first_name"] for r in records}


def test_prospect_lists_travel_inside_the_import(emu, run, config):
    kept = emu.add_prospect(email="u0@example.com")
    emu.add_membership(5, kept)
    added = run({**config, "prospect_lists": "3,4"}, stream_of("prospects", people(3)))
    assert added.exit_code == 0, added.stderr[-2000:]
    ids = {p["email"]: p["id"] for p in emu.prospects()}
    pairs = {(m["list_id"], m["prospect_id"]) for m in emu.memberships()}
    assert pairs == {(5, kept)} | {(lst, pid) for pid in ids.values() for lst in (3, 4)}
    removed = run({**config, "prospect_lists": [3, 5], "prospect_list_operation": "remove"},
                  stream_of("prospects", people(1)))  # fmt: skip
    assert removed.exit_code == 0
    pairs = {(m["list_id"], m["prospect_id"]) for m in emu.memberships()}
    assert (3, kept) not in pairs and (5, kept) not in pairs and (4, kept) in pairs
    assert calls(emu).get("listMembership/create") is None, "no call per membership"


def test_prospect_lists_by_name_travel_inside_the_import(emu, run, config):
    result = run({**config, "prospect_lists": "Imported, 4"}, stream_of("prospects", people(3)))
    assert result.exit_code == 0, result.stderr[-2000:]
    [created] = [lst["id"] for lst in emu.lists() if lst["name"] == "Imported"]
    ids = {p["id"] for p in emu.prospects()}
    pairs = {(m["list_id"], m["prospect_id"]) for m in emu.memberships()}
    assert pairs == {(lst, pid) for pid in ids for lst in (created, 4)}


def test_no_campaign_for_email_rows_is_a_config_error_before_any_pardot_call(emu, run):
    result = run(base_config(emu, prospect_operation="import"), stream_of("prospects", people(3)))
    assert result.exit_code == 2
    assert "default_campaign_id" in result.stderr
    assert calls(emu) == {}


def test_a_row_without_campaign_is_rejected_when_there_is_no_default(emu, run, tmp_path):
    schema = {"type": "object", "properties": {"email": {"type": "string"},
                                                "campaign_id": {"type": ["integer", "null"]}}}
    rejected = tmp_path / "rejected.jsonl"
    config = base_config(emu, prospect_operation="import", skip_invalid_records=True,
                         rejected_records_path=str(rejected))  # fmt: skip
    records = [{"email": "a@example.com", "campaign_id": 9}, {"email": "b@example.com"}]
    result = run(config, stream_of("prospects", records, schema=schema))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert [(p["email"], p["campaign_id"]) for p in emu.prospects()] == [("a@example.com", 9)]
    [line] = [json.loads(x) for x in rejected.read_text().splitlines()]
    assert line["record"] == {"email": "b@example.com"}
    assert "default_campaign_id" in line["reason"]
