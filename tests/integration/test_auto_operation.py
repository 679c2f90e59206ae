"""prospect_operation auto (the default): the planner's choices against the emulator.

Each run counts its calls at the emulator; the bounds are those of the planner's cost
rule (docs/prospects.md): an import and its id query instead of one call per row."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest

import target_pardot.run.runtime as runtime_module
from target_pardot.run.state import write_state_line
from target_pardot.sinks.streams import PardotSink
from tests.helpers import base_config, stream_of

pytestmark = pytest.mark.usefixtures("quick_import_polls")


def people(n: int, city: str = "Oslo", start: int = 0) -> list[dict]:
    return [{"email": f"u{i}@example.com", "first_name": f"F{i}", "city": city}
            for i in range(start, start + n)]  # fmt: skip


def calls(emu) -> Counter[str]:
    return Counter(emu.counters()["calls_by_endpoint"])


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
    """The defaults, with a campaign for the prospects an import may create."""
    return base_config(emu, default_campaign_id=7, ledger_path=str(ledger))


def test_first_load_and_rerun_of_5000_unknown_rows_stay_within_5_percent_plus_20(
    emu, run_ok, config, ledger
):
    bound = 5_000 * 5 // 100 + 20
    first = run_ok(config, stream_of("prospects", people(5_000), final_state={"s": 1}))
    first_calls = calls(emu)
    assert sum(first_calls.values()) <= bound, first_calls
    assert first_calls["prospect/upsertLatestByEmail"] == 0
    assert first_calls["imports/create"] == 1
    prospects = by_email(emu)
    assert len(prospects) == 5_000
    assert first.states == [{"s": 1}]
    summary = first.summary
    assert summary["rows_by_path"] == {"import": 5_000}
    assert summary["calls_under_sync"] >= 5_000
    # The ids the import created are learned: the map names every prospect.
    assert map_rows(ledger) == {email: p["id"] for email, p in prospects.items()}

    second = run_ok(config, stream_of("prospects", people(5_000, city="Bergen")))
    second_calls = calls(emu) - first_calls
    assert sum(second_calls.values()) <= bound, second_calls
    assert second.summary["rows_by_path"] == {"batch_by_mapped_id": 5_000}
    assert second_calls["prospect/batchUpdate"] == 100
    assert {p["city"] for p in by_email(emu).values()} == {"Bergen"}
    assert len(emu.prospects()) == 5_000


def test_without_a_campaign_auto_sends_what_sync_sends(emu, run_ok, tmp_path):
    rows = stream_of("prospects", people(40))
    # Each run in its own directory: neither remembers the account's API version.
    (tmp_path / "auto").mkdir()
    (tmp_path / "sync").mkdir()
    auto = run_ok(base_config(emu, ledger_path=str(tmp_path / "auto" / "l.sqlite3")), rows)
    auto_calls = calls(emu)
    assert auto_calls["imports/create"] == 0
    assert auto_calls["prospect/upsertLatestByEmail"] == 40
    assert auto.summary["rows_by_path"] == {"upsert_latest_by_email": 40}
    emu.reset()
    other = tmp_path / "sync" / "l.sqlite3"
    run_ok(base_config(emu, prospect_operation="sync", ledger_path=str(other)), rows)
    assert calls(emu) == auto_calls
    assert len(by_email(emu)) == 40


def test_a_few_unknown_rows_go_one_by_one(emu, run_ok, config):
    result = run_ok(config, stream_of("prospects", people(6)))
    assert calls(emu)["imports/create"] == 0
    assert calls(emu)["prospect/upsertLatestByEmail"] == 6
    assert result.summary["rows_by_path"] == {"upsert_latest_by_email": 6}


def test_keyed_rows_go_in_batches_beside_the_import(emu, run_ok, config):
    pid = emu.add_prospect(email="known@example.com", city="Oslo")
    records = [{"id": pid, "city": "Tromsø"}, *people(20)]
    result = run_ok(config, stream_of("prospects", records))
    assert result.summary["rows_by_path"] == {"import": 20, "v4_batch": 1}
    assert by_email(emu)["known@example.com"]["city"] == "Tromsø"
    assert len(emu.prospects()) == 21


def test_a_later_row_of_an_imported_address_lands_after_the_import(emu, run_ok, config):
    records = [*people(20), {"email": "u3@example.com", "city": "Later"},
               {"email": "u5@example.com", "city": "Later"}]  # fmt: skip
    result = run_ok(config, stream_of("prospects", records, final_state={"s": 1}))
    prospects = by_email(emu)
    assert len(prospects) == 20
    assert prospects["u3@example.com"]["city"] == "Later"
    assert prospects["u5@example.com"]["city"] == "Later"
    # Held until the import completed, then sent by the id it learned.
    assert result.summary["rows_by_path"] == {"import": 20, "batch_by_mapped_id": 2}
    assert result.states == [{"s": 1}]


def test_a_later_row_in_a_later_drain_waits_for_the_import(emu, run_ok, config, monkeypatch):
    monkeypatch.setattr(PardotSink, "MAX_SIZE_DEFAULT", 10)  # a drain every 10 rows
    records = [*people(30), {"email": "u1@example.com", "city": "Later"}]
    result = run_ok(config, stream_of("prospects", records))
    prospects = by_email(emu)
    assert prospects["u1@example.com"]["city"] == "Later"
    assert result.summary["rows_by_path"]["import"] == 30
    assert calls(emu)["imports/create"] == 1


RENAME_SCHEMA = {"properties": {"email": {"type": "string"}, "match_email": {"type": "string"},
                                "city": {"type": "string"}}}  # fmt: skip


def test_a_row_by_a_new_address_waits_for_the_rename_that_waits_for_the_import(
    emu, run_ok, config
):
    """The old address goes into the import; the rename of it waits for the import; a
    later row by the new address must wait behind the rename, or it creates a prospect
    there that the rename then doubles."""
    pid = emu.add_prospect(email="old@example.com", city="Start")
    records = [*people(20), {"email": "old@example.com", "city": "Imported"},
               {"match_email": "old@example.com", "email": "new@example.com", "city": "Moved"},
               {"email": "new@example.com", "city": "Later"}]  # fmt: skip
    result = run_ok(config, stream_of("prospects", records, schema=RENAME_SCHEMA,
                                      final_state={"s": 1}))  # fmt: skip
    prospects = by_email(emu)
    assert "old@example.com" not in prospects
    assert (prospects["new@example.com"]["id"], prospects["new@example.com"]["city"]) == (
        pid, "Later")
    assert len(prospects) == 21
    assert result.summary["rows_by_path"]["import"] == 21
    assert result.states == [{"s": 1}]


def test_a_row_by_a_new_address_in_a_later_drain_does_not_go_into_an_import_before_the_rename(
    emu, run_ok, config, monkeypatch
):
    """The rename was sent in an earlier drain; an import of a row by its new address
    could be processed before the rename landed and create a prospect there."""
    monkeypatch.setattr(PardotSink, "MAX_SIZE_DEFAULT", 10)  # a drain every 10 rows
    pid = emu.add_prospect(email="old@example.com", city="Start")
    rename = {"match_email": "old@example.com", "email": "new@example.com", "city": "Moved"}
    records = [rename, *people(9), {"email": "new@example.com", "city": "Later"},
               *people(20, start=9)]  # fmt: skip
    result = run_ok(config, stream_of("prospects", records, schema=RENAME_SCHEMA))
    prospects = by_email(emu)
    assert "old@example.com" not in prospects
    assert (prospects["new@example.com"]["id"], prospects["new@example.com"]["city"]) == (
        pid, "Later")
    assert len(prospects) == 30
    # The row by the new address waited behind the rename, then went by the id learned.
    assert result.summary["rows_by_path"] == {
        "upsert_latest_by_email": 1, "import": 29, "batch_by_mapped_id": 1}


def test_rows_of_an_import_error_file_are_rejected_as_today(emu, run, config, tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    records = [*people(10), {"email": "not an email", "city": "Nowhere"}]
    result = run({**config, "skip_invalid_records": True,
                  "rejected_records_path": str(rejected)},
                 stream_of("prospects", records, final_state={"s": 1}))  # fmt: skip
    assert result.exit_code == 0, result.stderr[-2000:]
    assert result.summary["rejected_by_reason"] == {"pardot_rejected": 1}
    assert "not an email" in rejected.read_text()
    assert len(by_email(emu)) == 10
    assert result.states == [{"s": 1}]


def test_the_dry_run_prints_the_plan(emu, run_ok, config):
    result = run_ok({**config, "dry_run": True}, stream_of("prospects", people(50)))
    summary = result.summary
    assert summary["rows_by_path"] == {"import": 50}
    assert summary["calls_under_sync"] == 50
    assert summary["planned_calls_by_endpoint"]["imports/create"] == 1
    assert "prospect rows by path" in result.stderr
    assert emu.prospects() == []


def test_a_state_is_written_only_once_the_import_before_it_completed(emu, run_ok, config,
                                                                      monkeypatch):
    """The STATE line, as it is written, finds the import of the rows before it Complete
    in Pardot (which takes three status polls to complete it)."""
    emu.configure(import_processing_polls=3)
    seen: list[list[str]] = []

    def write(state):
        seen.append([job["status"] for job in emu.imports()])
        write_state_line(state)

    monkeypatch.setattr(runtime_module, "write_state_line", write)
    result = run_ok(config, stream_of("prospects", people(40), final_state={"s": 1}))
    assert result.states == [{"s": 1}]
    assert seen and all(statuses and set(statuses) == {"Complete"} for statuses in seen), seen
    assert len(by_email(emu)) == 40
