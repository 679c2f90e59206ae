"""Accounts without AMPSEA: API v3, found from error 89, with true upserts by email."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from tests.helpers import base_config, stream_of, with_transient_faults


def row_calls_by_version(counters: dict) -> dict[str, int]:
    """Calls by API version, without the run's v5 reads of the account's custom fields
    and of the lists it writes to (v5 serves every account kind; they carry no row)."""
    versions = dict(counters["calls_by_api_version"])
    endpoints = counters["calls_by_endpoint"]
    reads = endpoints.get("v5/custom-fields/query", 0) + endpoints.get("v5/lists/read", 0)
    if reads:
        versions["5"] -= reads
    return {version: n for version, n in versions.items() if n}


def email_rows_with_case_variants(n: int) -> list[dict]:
    """n email-only rows; every 7th repeats an earlier address in another case, some in
    the same call of 50, some in an earlier call."""
    rows = []
    for i in range(n):
        if i % 7 == 6:
            j = i - (3 if i % 2 else 60) if i >= 60 else i - 3
            rows.append({"email": rows[j]["email"].upper(), "first_name": f"Variant{i}"})
        else:
            rows.append({"email": f"user{i}@example.com", "first_name": f"User{i}"})
    return rows


def comparable(prospects: list[dict]) -> list[tuple]:
    return sorted((p["id"], p["email"], p["first_name"]) for p in prospects)


@pytest.mark.parametrize("case_insensitive", [True, False])
def test_email_only_rows_land_once_under_faults_and_a_rerun_changes_nothing(
    emu, run, case_insensitive
):
    with_transient_faults(
        emu,
        0.10,
        seed=11,
        ampsea=False,
        v3_email_case_insensitive=case_insensitive,
        applied_but_lost_rate=0.02,
    )
    rows = email_rows_with_case_variants(2_000)
    config = base_config(emu, parallel_tasks=5, maximum_retries=15)
    first = run(config, stream_of("prospects", rows, final_state={"done": 1}))
    assert first.exit_code == 0, first.stderr[-3000:]
    assert first.summary["api_version"] == "v3"
    assert first.stderr.count("uses API v3 from now on") == 1
    counters = emu.counters()
    assert sum(counters["faults_injected"].values()) > 0
    assert row_calls_by_version(counters).get("5", 0) == 0, "no row goes through v5"
    assert counters["calls_total"] < 3 * math.ceil(len(rows) / 50) + 20

    prospects = emu.prospects()
    fold = (lambda e: e.lower()) if case_insensitive else (lambda e: e)
    landed = Counter(fold(p["email"]) for p in prospects)
    assert set(landed) == {fold(r["email"]) for r in rows}
    assert max(landed.values()) == 1, "no address may land twice"
    assert first.states == [{"done": 1}]

    before = comparable(prospects)
    emu.configure(fault_rate=0, applied_but_lost_rate=0)
    second = run(config, stream_of("prospects", rows, final_state={"done": 2}))
    assert second.exit_code == 0, second.stderr[-3000:]
    assert comparable(emu.prospects()) == before


def test_a_lost_call_before_the_version_is_known_never_goes_through_v5(emu, run):
    """Each run starts on v4 until Pardot answers error 89. A v4 batch lost before then
    was never applied on a v3 account, and v5 would create a second prospect for a case
    variant there: its email-only rows go as a v3 batch instead. Faults in both runs."""
    with_transient_faults(emu, 0.10, seed=7, ampsea=False)
    rows = email_rows_with_case_variants(2_000)
    config = base_config(emu, parallel_tasks=5, maximum_retries=15, initial_retry_wait=0.05)
    first = run(config, stream_of("prospects", rows))
    assert first.exit_code == 0, first.stderr[-3000:]
    before = comparable(emu.prospects())
    second = run(config, stream_of("prospects", rows))
    assert second.exit_code == 0, second.stderr[-3000:]
    counters = emu.counters()
    assert sum(counters["faults_injected"].values()) > 0
    assert row_calls_by_version(counters).get("5", 0) == 0, "no row goes through v5"
    assert comparable(emu.prospects()) == before


def test_upsert_by_email_makes_no_difference_on_v3(emu, run):
    emu.configure(ampsea=False)
    stored = emu.add_prospect(email="ann@example.com")
    rows = [{"email": "Ann@Example.com", "first_name": "Ann"}] + [
        {"email": f"p{i}@example.com"} for i in range(99)
    ]
    config = base_config(emu, upsert_by_email=True, prospect_lists="3")
    result = run(config, stream_of("prospects", rows))
    assert result.exit_code == 0, result.stderr[-3000:]
    counters = emu.counters()
    assert row_calls_by_version(counters) == {"3": 2}, "tried in v3 first: no 89, no v5"
    prospects = {p["email"]: p for p in emu.prospects()}
    assert len(prospects) == 100
    assert prospects["ann@example.com"]["id"] == stored
    assert prospects["ann@example.com"]["first_name"] == "Ann"
    assert len(emu.memberships()) == 100
    assert result.summary["api_version"] == "v3"


def test_upsert_by_email_on_ampsea_goes_through_v5_after_one_88(emu, run):
    emu.add_prospect(email="ann@example.com")
    rows = [{"email": "ann@example.com", "first_name": "Ann"}] + [
        {"email": f"p{i}@example.com"} for i in range(9)
    ]
    config = base_config(emu, upsert_by_email=True, prospect_lists="3")
    result = run(config, stream_of("prospects", rows))
    assert result.exit_code == 0, result.stderr[-3000:]
    counters = emu.counters()
    assert counters["errors_by_code"] == {"88": 1}
    assert counters["calls_by_endpoint"]["prospect/upsertLatestByEmail"] == 10
    emails = Counter(p["email"] for p in emu.prospects())
    assert len(emails) == 10 and max(emails.values()) == 1
    assert len(emu.memberships()) == 10
    assert result.summary["api_version"] == "v4"


def test_ampsea_accounts_start_on_v4_and_stay_there(emu, run):
    rows = [{"email": f"p{i}@example.com"} for i in range(120)]
    # v4 batches by email (upsert_by_email: false) show which version the batches use.
    result = run(base_config(emu, upsert_by_email=False), stream_of("prospects", rows))
    assert result.exit_code == 0, result.stderr[-3000:]
    assert row_calls_by_version(emu.counters()) == {"4": 3}
    assert emu.counters()["errors_by_code"] == {}
    assert result.summary["api_version"] == "v4"


def test_a_fixed_version_that_the_account_refuses_names_the_setting(emu, run):
    emu.configure(ampsea=False)
    rows = [{"email": "a@example.com"}]
    # A batch call (not v5, which both kinds of account take) meets the refusal.
    config = base_config(emu, api_version="4", upsert_by_email=False)
    result = run(config, stream_of("prospects", rows))
    assert result.exit_code == 2
    assert "'api_version'" in result.stderr and "takes API v3" in result.stderr
    assert emu.prospects() == []
    assert result.states == []


def test_api_version_3_is_used_from_the_first_call(emu, run):
    emu.configure(ampsea=False)
    result = run(base_config(emu, api_version=3), stream_of("prospects", [{"email": "a@x.com"}]))
    assert result.exit_code == 0, result.stderr[-3000:]
    assert row_calls_by_version(emu.counters()) == {"3": 1}


def test_rows_keyed_by_id_and_fid_on_v3(emu, run, tmp_path):
    emu.configure(ampsea=False)
    pid = emu.add_prospect(email="a@example.com")
    emu.add_prospect(email="b@example.com")
    rows = [
        {"id": pid, "city": "Nice"},
        {"fid": "00Q000000000001", "email": "b@example.com", "city": "Oslo"},
        {"fid": "00Q000000000002", "city": "Rome"},
    ]
    rejected = tmp_path / "rejected.jsonl"
    config = base_config(emu, skip_invalid_records=True, rejected_records_path=str(rejected))
    result = run(config, stream_of("prospects", rows))
    assert result.exit_code == 0, result.stderr[-3000:]
    cities = {p["email"]: p["city"] for p in emu.prospects()}
    assert cities == {"a@example.com": "Nice", "b@example.com": "Oslo"}
    [line] = rejected.read_text().splitlines()
    assert json.loads(line)["code"] == "fid_needs_v4"
    assert result.summary["rejected_by_reason"] == {"fid_needs_v4": 1}


def test_per_row_errors_of_a_v3_batch_reject_only_their_rows(emu, run, tmp_path):
    emu.configure(ampsea=False)
    rows = [{"email": "good@example.com"}, {"email": "not-an-email"}, {"id": 999999}]
    rejected = tmp_path / "rejected.jsonl"
    config = base_config(emu, skip_invalid_records=True, rejected_records_path=str(rejected),
                         max_rejected_percent=100)  # two of three rows are meant to fail

    result = run(config, stream_of("prospects", rows))
    assert result.exit_code == 0, result.stderr[-3000:]
    assert [p["email"] for p in emu.prospects()] == ["good@example.com"]
    reasons = sorted(json.loads(line)["reason"] for line in rejected.read_text().splitlines())
    assert reasons == [
        "Invalid prospect email address",
        "Non-existent prospect ID; No email address provided",
    ]


def test_memberships_work_the_same_on_v3(emu, run):
    emu.configure(ampsea=False)
    ids = [emu.add_prospect(email=f"m{i}@example.com") for i in range(60)]
    records = [{"list_id": lst, "prospect_id": pid} for pid in ids for lst in (1, 2)]
    records.append({"list_id": 9, "prospect_id": ids[0], "opted_out": True})
    result = run(base_config(emu), stream_of("list_memberships", records))
    assert result.exit_code == 0, result.stderr[-3000:]
    members = {(m["list_id"], m["prospect_id"]): m["opted_out"] for m in emu.memberships()}
    assert len(members) == 121
    assert members[(9, ids[0])] is True
    counters = emu.counters()
    # Calls already past the version check when the first 89 came back get one too.
    assert set(counters["errors_by_code"]) == {"89"}
    assert counters["calls_by_api_version"]["4"] == counters["errors_by_code"]["89"]
    assert counters["calls_by_api_version"]["3"] == 3  # two batches, one opt-out
    assert result.summary["api_version"] == "v3"
