"""dry_run and dry_run_offline: every row validated, every call planned, nothing written."""

from __future__ import annotations

from typing import Any

import pytest
import requests.adapters

from tests.helpers import base_config, record_message, run_cli_inprocess, stream_of

# Invalid before any call: the first fails the schema (score is an integer), the second has
# no key. Rows only Pardot would refuse (a malformed email) cannot show up in a dry run.
INVALID = [
    {"email": "a@example.com", "score": "high"},
    {"first_name": "no key"},
    {"email": "ok@example.com"},
]


def people(n: int) -> list[dict[str, Any]]:
    return [{"email": f"dry{i}@example.com", "first_name": "Dry"} for i in range(n)]


@pytest.fixture
def no_http(monkeypatch):
    """Fails the test on any HTTP request the target makes, whatever the host."""
    attempts: list[str] = []

    def refuse(self, request, *args, **kwargs):
        attempts.append(str(request.url))
        raise AssertionError(f"an offline dry run sent {request.method} {request.url}")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    return attempts


def test_dry_run_plans_writes_nothing_and_checks_the_credentials_once(emu, run):
    pid = emu.add_prospect(email="kept@example.com", city="Oslo")
    result = run(
        base_config(emu, dry_run=True, prospect_lists="7", upsert_by_email=True),
        stream_of("prospects", [*people(120), {"id": pid, "city": "Bergen"}],
                  final_state={"bookmark": 1}),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr[-2000:]
    # the credentials, the account's custom fields, list 7 (checked not dynamic): reads
    assert emu.counters()["calls_by_endpoint"] == {
        "oauth/token": 1, "v5/custom-fields/query": 1, "v5/lists/read": 1}
    assert [(p["email"], p["city"]) for p in emu.prospects()] == [("kept@example.com", "Oslo")]
    summary = result.summary
    assert summary["planned_calls_by_endpoint"] == {
        "prospect/batchUpsert": 1,
        "prospect/batchUpdate": 3,
        "prospect/upsertLatestByEmail": 120,
    }
    assert summary["planned_rows_by_endpoint"] == {
        "prospect/batchUpsert": 1,
        "prospect/batchUpdate": 120,
        "prospect/upsertLatestByEmail": 120,
    }
    assert "dry run, would call prospect/upsertLatestByEmail  120 times, 120 rows" in (
        result.stderr
    )
    # Nothing was loaded, so no STATE: Meltano would otherwise save the bookmark.
    assert result.states == []
    assert "STATE not emitted" in result.stderr


def test_dry_run_reports_every_invalid_row_and_fails_like_the_real_run(emu, run, tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    result = run(
        base_config(emu, dry_run=True, rejected_records_path=str(rejected),
                    upsert_by_email=False),  # one batch plan for the valid rows
        stream_of("prospects", INVALID),
    )
    assert result.exit_code == 1
    assert result.summary["rejected_by_reason"] == {"invalid_schema": 1, "missing_key": 1}
    assert "Dry run: 2 invalid rows" in result.stderr
    assert "row 1 of stream 'prospects'" in result.stderr
    assert "row 2 of stream 'prospects'" in result.stderr
    assert len(rejected.read_text().splitlines()) == 2
    assert result.summary["planned_rows_by_endpoint"] == {"prospect/batchUpsert": 1}
    assert set(emu.counters()["calls_by_endpoint"]) == {"oauth/token", "v5/custom-fields/query"}


def test_dry_run_skipping_invalid_rows_succeeds(emu, run):
    result = run(
        base_config(emu, dry_run=True, skip_invalid_records=True), stream_of("prospects", INVALID)
    )
    assert result.exit_code == 0
    assert result.summary["rows_rejected"] == 2


def test_offline_dry_run_makes_no_call_at_all(emu, run, no_http):
    result = run(
        base_config(emu, dry_run_offline=True, upsert_by_email=True),
        stream_of("prospects", [*people(60), {"id": 5}], final_state={"bookmark": 1}),
    )
    assert result.exit_code == 0, result.stderr[-2000:]
    assert no_http == []
    assert emu.counters()["calls_total"] == 0
    assert result.summary["api_calls"] == 0
    assert result.summary["planned_calls_by_endpoint"] == {
        "prospect/batchUpsert": 1,
        "prospect/upsertLatestByEmail": 60,
    }
    assert result.states == []
    assert "offline" in result.stderr


def test_offline_dry_run_of_list_memberships(emu, run, no_http):
    rows = [{"list_id": 1, "prospect_id": p} for p in range(1, 76)]
    rows.append({"list_id": 2, "prospect_id": 3, "opted_out": True})
    result = run(base_config(emu, dry_run_offline=True), stream_of("list_memberships", rows))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert no_http == []
    assert result.summary["planned_calls_by_endpoint"] == {
        "listMembership/create": 1,
        "prospect/batchUpdate": 2,
    }
    assert result.summary["planned_rows_by_endpoint"]["prospect/batchUpdate"] == 75


def test_offline_dry_run_needs_no_reachable_host(tmp_path):
    # Nothing listens on port 9 of the loopback: any call would be refused and, after the
    # retries, fail the run with exit code 2.
    config = {
        "client_id": "3MVG9-offline",
        "client_secret": "offline-secret-value",
        "refresh_token": "offline-refresh-token",
        "business_unit": "0Uv5g000000ABCDCAA",
        "login_url": "https://127.0.0.1:9",
        "pardot_domain": "https://127.0.0.1:9",
        "dry_run_offline": True,
        "upsert_by_email": False,  # the planned calls below are batches
    }
    messages = stream_of("prospects", people(3), final_state={"bookmark": 1})
    messages.append(record_message("prospects", {"email": "late@example.com"}))
    result = run_cli_inprocess(config, messages, tmp_path)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert result.stdout == ""
    assert result.summary["api_calls"] == 0
    assert result.summary["rows_received"] == 4
    assert result.summary["planned_calls_by_endpoint"] == {"prospect/batchUpsert": 1}


def test_the_same_config_without_offline_does_try_the_host(tmp_path):
    """The counterpart of the test above: it proves port 9 would have failed the run."""
    config = {
        "client_id": "3MVG9-offline",
        "client_secret": "offline-secret-value",
        "refresh_token": "offline-refresh-token",
        "business_unit": "0Uv5g000000ABCDCAA",
        "login_url": "https://127.0.0.1:9",
        "pardot_domain": "https://127.0.0.1:9",
        "dry_run": True,
        "initial_retry_wait": 0.01,
    }
    result = run_cli_inprocess(config, stream_of("prospects", people(1)), tmp_path)
    assert result.exit_code == 2
    assert "Could not get an access token" in result.stderr
