"""The identity map: email-only rows Pardot already gave an id go by batchUpdate, 50 per call,
and every way the map can go stale falls back to upsertLatestByEmail without a duplicate."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest

from target_pardot.errors import ConfigError
from target_pardot.run import identity
from target_pardot.target import TargetPardot
from tests.helpers import base_config, stream_of


def people(n: int, city: str = "Oslo", start: int = 0) -> list[dict]:
    return [{"email": f"u{i}@example.com", "first_name": f"F{i}", "city": city}
            for i in range(start, start + n)]  # fmt: skip


def calls(emu, endpoint: str) -> int:
    return emu.counters()["calls_by_endpoint"].get(endpoint, 0)


def by_email(emu) -> dict[str, dict]:
    found = emu.prospects()
    counts = Counter(p["email"] for p in found)
    assert all(n == 1 for n in counts.values()), f"duplicates: {counts.most_common(3)}"
    return {p["email"]: p for p in found}


def map_rows(path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT email, prospect_id FROM identity").fetchall())


@pytest.fixture
def ledger(tmp_path):
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def config(emu, ledger):
    return base_config(emu, upsert_by_email=True, parallel_tasks=3, ledger_path=str(ledger))


def test_a_second_run_sends_known_emails_in_batch_updates_by_id(emu, run, config, ledger):
    first = run(config, stream_of("prospects", people(120)))
    assert first.exit_code == 0
    assert calls(emu, "prospect/upsertLatestByEmail") == 120
    ids = {p["email"]: p["id"] for p in emu.prospects()}
    assert map_rows(ledger) == ids
    before = dict(emu.counters()["calls_by_endpoint"])
    second = run(config, stream_of("prospects", people(120, city="Bergen")))
    assert second.exit_code == 0
    after = emu.counters()["calls_by_endpoint"]
    assert after["prospect/upsertLatestByEmail"] == before["prospect/upsertLatestByEmail"]
    assert after["prospect/batchUpdate"] - before.get("prospect/batchUpdate", 0) == 3
    # One query for the changes since the last run, one to read back a sample of the map.
    assert after["v5/prospects/query"] - before.get("v5/prospects/query", 0) == 2
    prospects = by_email(emu)
    assert len(prospects) == 120
    assert {p["city"] for p in prospects.values()} == {"Bergen"}
    assert {e: p["id"] for e, p in prospects.items()} == ids
    summary = second.summary
    assert summary["rows_sent"] == 120
    assert summary["rows_sent_by_mapped_id"] == 120
    assert summary["identity_map_hits"] == 120
    assert summary["identity_map_misses"] == 0
    assert summary["identity_map_fallbacks"] == 0
    assert "identity map hits" in second.stderr


def test_mapped_rows_carry_their_list_flags_in_the_same_call(emu, run, config):
    run(config, stream_of("prospects", people(10)))
    before = calls(emu, "prospect/batchUpdate")
    listed = run({**config, "prospect_lists": "7"}, stream_of("prospects", people(10)))
    assert listed.exit_code == 0
    assert calls(emu, "prospect/batchUpdate") - before == 1
    ids = {p["id"] for p in emu.prospects()}
    assert {m["prospect_id"] for m in emu.memberships() if m["list_id"] == 7} == ids


def test_identity_map_false_keeps_no_map(emu, run, config, ledger):
    off = {**config, "identity_map": False}
    run(off, stream_of("prospects", people(5)))
    run(off, stream_of("prospects", people(5, city="Bergen")))
    assert calls(emu, "prospect/upsertLatestByEmail") == 10
    assert calls(emu, "v5/prospects/query") == 0
    assert not ledger.exists()


def test_a_prospect_deleted_in_pardot_between_runs_goes_through_v5(emu, run, config, ledger):
    run(config, stream_of("prospects", people(5)))
    gone = by_email(emu)["u2@example.com"]["id"]
    emu.delete_prospect(gone)
    result = run(config, stream_of("prospects", people(5, city="Bergen")))
    assert result.exit_code == 0
    assert result.summary["identity_map_fallbacks"] == 1
    assert result.summary["rows_sent_by_mapped_id"] == 4
    assert result.summary["rows_rejected"] == 0
    prospects = by_email(emu)
    assert len(prospects) == 5
    assert {p["city"] for p in prospects.values()} == {"Bergen"}
    # search_deleted_prospects (the default) restored the deleted prospect itself.
    assert prospects["u2@example.com"]["id"] == gone
    assert map_rows(ledger)["u2@example.com"] == gone


def test_without_deleted_search_the_map_learns_the_new_prospect(emu, run, config, ledger):
    fresh = {**config, "search_deleted_prospects": False}
    run(fresh, stream_of("prospects", people(3)))
    gone = by_email(emu)["u1@example.com"]["id"]
    emu.delete_prospect(gone)
    run(fresh, stream_of("prospects", people(3, city="Bergen")))
    reborn = by_email(emu)["u1@example.com"]
    assert reborn["id"] != gone and reborn["city"] == "Bergen"
    assert map_rows(ledger)["u1@example.com"] == reborn["id"]
    third = run(fresh, stream_of("prospects", people(3, city="Rome")))
    assert third.summary["rows_sent_by_mapped_id"] == 3
    assert third.summary["identity_map_fallbacks"] == 0
    assert {p["city"] for p in by_email(emu).values()} == {"Rome"}


def test_an_email_changed_in_pardot_between_runs_is_not_overwritten(emu, run, config, ledger):
    run(config, stream_of("prospects", people(4)))
    moved = by_email(emu)["u3@example.com"]["id"]
    emu.edit_prospect(moved, email="new3@example.com")
    result = run(config, stream_of("prospects", people(4, city="Bergen")))
    assert result.exit_code == 0
    assert result.summary["identity_map_dropped"] == 1
    assert result.summary["rows_sent_by_mapped_id"] == 3
    prospects = by_email(emu)
    # The prospect that now has another address keeps it, and the row's own fields went
    # to the prospect upsertLatestByEmail chose for u3 (a new one: none has it now).
    assert prospects["new3@example.com"]["id"] == moved
    assert prospects["new3@example.com"]["city"] == "Oslo"
    assert prospects["u3@example.com"]["city"] == "Bergen"
    assert map_rows(ledger)["u3@example.com"] == prospects["u3@example.com"]["id"]


def test_another_prospect_taking_the_email_drops_the_entry(emu, run, config, ledger):
    run(config, stream_of("prospects", people(2)))
    newer = emu.add_prospect(email="u0@example.com", first_name="Twin")
    result = run(config, stream_of("prospects", people(2, city="Bergen")))
    assert result.summary["identity_map_dropped"] == 1
    # upsertLatestByEmail decides which of the two gets the row: the latest activity.
    assert map_rows(ledger)["u0@example.com"] == newer
    assert [p["city"] for p in emu.prospects() if p["id"] == newer] == ["Bergen"]


def test_match_email_changes_the_address_and_the_map_follows(emu, run, config, ledger):
    run(config, stream_of("prospects", people(2)))
    pid = by_email(emu)["u0@example.com"]["id"]
    other = by_email(emu)["u1@example.com"]["id"]
    schema = {"properties": {"email": {"type": "string"}, "match_email": {"type": "string"},
                             "city": {"type": "string"}}}  # fmt: skip
    change = {"match_email": "u0@example.com", "email": "renamed@example.com", "city": "Rome"}
    result = run(config, stream_of("prospects", [change], schema=schema))
    assert result.exit_code == 0
    assert result.summary["rows_sent_by_mapped_id"] == 1
    assert calls(emu, "prospect/upsertLatestByEmail") == 2  # from the first run only
    prospects = by_email(emu)
    assert prospects["renamed@example.com"]["id"] == pid
    assert prospects["renamed@example.com"]["city"] == "Rome"
    assert "u0@example.com" not in prospects
    assert map_rows(ledger) == {"renamed@example.com": pid, "u1@example.com": other}
    again = run(config, stream_of("prospects", [{"email": "renamed@example.com", "city": "X"}]))
    assert again.summary["rows_sent_by_mapped_id"] == 1


def test_match_email_without_a_map_entry_uses_v5_match_email(emu, run, config, ledger):
    pid = emu.add_prospect(email="old@example.com", first_name="Old")
    change = {"match_email": "old@example.com", "email": "new@example.com"}
    schema = {"properties": {"email": {"type": "string"}, "match_email": {"type": "string"}}}
    result = run(config, stream_of("prospects", [change], schema=schema))
    assert result.exit_code == 0
    assert calls(emu, "prospect/upsertLatestByEmail") == 1
    assert [(p["id"], p["email"]) for p in emu.prospects()] == [(pid, "new@example.com")]
    assert map_rows(ledger) == {"new@example.com": pid}


def test_match_email_needs_upsert_by_email(emu, run, config):
    schema = {"properties": {"email": {"type": "string"}, "match_email": {"type": "string"}}}
    rows = [{"match_email": "a@example.com", "email": "b@example.com"}]
    result = run({**config, "upsert_by_email": False, "skip_invalid_records": True},
                 stream_of("prospects", rows, schema=schema))  # fmt: skip
    assert result.summary["rejected_by_reason"] == {"match_email_needs_upsert_by_email": 1}
    assert emu.prospects() == []


def test_lowercase_emails_applies_to_the_map_keys(emu, run, config, ledger):
    lower = {**config, "lowercase_emails": True}
    run(lower, stream_of("prospects", [{"email": "Ann@Example.com"}]))
    assert list(map_rows(ledger)) == ["ann@example.com"]
    result = run(lower, stream_of("prospects", [{"email": "ANN@example.COM", "city": "Rome"}]))
    assert result.summary["rows_sent_by_mapped_id"] == 1
    assert [(p["email"], p["city"]) for p in emu.prospects()] == [("ann@example.com", "Rome")]


def test_deleting_the_file_is_safe(emu, run, config, ledger):
    run(config, stream_of("prospects", people(6)))
    ids = {e: p["id"] for e, p in by_email(emu).items()}
    ledger.unlink()
    result = run(config, stream_of("prospects", people(6, city="Bergen")))
    assert result.summary["identity_map_misses"] == 6
    assert calls(emu, "prospect/upsertLatestByEmail") == 12
    assert {e: p["id"] for e, p in by_email(emu).items()} == ids
    assert map_rows(ledger) == ids


def test_a_missing_directory_is_a_configuration_error_before_any_call(emu, tmp_path):
    config = base_config(emu, upsert_by_email=True,
                         ledger_path=str(tmp_path / "nowhere" / "ledger.sqlite3"))  # fmt: skip
    with pytest.raises(ConfigError, match="ledger_path"):
        TargetPardot(config=config, validate_config=True)
    assert emu.counters()["calls_by_endpoint"] == {}


def test_an_unwritable_directory_is_a_configuration_error(emu):
    # /proc refuses new files even to root, whom a chmod would not stop.
    config = base_config(emu, upsert_by_email=True, ledger_path="/proc/ledger.sqlite3")
    with pytest.raises(ConfigError, match="ledger_path"):
        TargetPardot(config=config, validate_config=True)
    assert emu.counters()["calls_by_endpoint"] == {}


def test_a_file_locked_by_another_run_fails_clearly_after_a_bounded_wait(
    emu, config, ledger, monkeypatch
):
    identity.open_identity_map(str(ledger), emu.business_unit, pardot_domain=emu.url).close()
    monkeypatch.setattr(identity, "LOCK_WAIT_SECONDS", 0.2)
    holder = sqlite3.connect(ledger)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(identity.StoreLocked, match=r"ledger_path.*locked by another run"):
            TargetPardot(config=config, validate_config=True)
    finally:
        holder.rollback()
        holder.close()


def test_the_map_only_holds_ids_pardot_returned(emu, run, config, ledger):
    rows = [*people(3), {"email": "not-an-email", "first_name": "Bad"}]
    run({**config, "skip_invalid_records": True}, stream_of("prospects", rows))
    assert map_rows(ledger) == {p["email"]: p["id"] for p in emu.prospects()}
