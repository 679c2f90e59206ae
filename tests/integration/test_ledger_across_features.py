"""The skip_unchanged ledger and the identity map where features meet: imports, mirrors
and dry runs each keep the local files true, or leave them alone."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

import target_pardot.run.runtime as runtime_module
from target_pardot.run.ledger import PROSPECTS, prospect_ledger_key
from target_pardot.run.state import write_state_line
from tests.helpers import base_config, record_message, state_message, stream_of


def people(n: int, start: int = 0) -> list[dict]:
    return [{"email": f"u{i}@example.com", "first_name": f"F{i}"} for i in range(start, start + n)]


def members(emu, list_id: int) -> set[int]:
    return {m["prospect_id"] for m in emu.memberships() if m["list_id"] == list_id}


pytestmark = pytest.mark.usefixtures("quick_import_polls")


@pytest.fixture
def ledger(tmp_path) -> Path:
    return tmp_path / "ledger.sqlite3"


def test_an_import_with_new_lists_sends_every_row_again(emu, run, ledger):
    config = base_config(emu, prospect_operation="import", default_campaign_id=7,
                         skip_unchanged=True, ledger_path=str(ledger), prospect_lists="3")
    first = run(config, stream_of("prospects", people(30)))
    assert first.exit_code == 0, first.stderr[-2000:]
    assert len(members(emu, 3)) == 30
    again = run({**config, "prospect_lists": "4"}, stream_of("prospects", people(30)))
    assert again.exit_code == 0, again.stderr[-2000:]
    assert again.summary["rows_unchanged"] == 0
    assert len(members(emu, 4)) == 30
    same = run({**config, "prospect_lists": "4"}, stream_of("prospects", people(30)))
    assert same.summary["rows_unchanged"] == 30


def test_an_import_and_a_sync_run_share_one_fingerprint_rule(emu, run, ledger):
    """The same row with the same lists is unchanged whichever path sent it last."""
    common = {"skip_unchanged": True, "ledger_path": str(ledger), "prospect_lists": "3",
              "upsert_by_email": True}  # fmt: skip
    imported = run(base_config(emu, prospect_operation="import", default_campaign_id=7, **common),
                   stream_of("prospects", people(5)))  # fmt: skip
    assert imported.summary["rows_sent"] == 5
    synced = run(base_config(emu, **common), stream_of("prospects", people(5)))
    assert synced.summary["rows_unchanged"] == 5


def test_a_membership_removed_by_a_mirror_is_added_again_by_a_later_upsert(emu, run, ledger):
    ids = [emu.add_prospect(email=f"p{i}@example.com") for i in range(10)]
    config = base_config(emu, skip_unchanged=True, ledger_path=str(ledger))
    rows = [{"list_id": 5, "prospect_id": pid} for pid in ids]
    added = run(config, stream_of("list_memberships", rows))
    assert added.summary["memberships_added"] == 10
    mirrored = run({**config, "list_membership_operation": "mirror",
                    "mirror_max_removal_percent": 100},
                   stream_of("list_memberships", rows[:8]))  # fmt: skip
    assert mirrored.exit_code == 0, mirrored.stderr[-2000:]
    assert members(emu, 5) == set(ids[:8])
    again = run(config, stream_of("list_memberships", rows))
    assert again.exit_code == 0
    assert members(emu, 5) == set(ids)
    assert again.summary["rows_unchanged"] == 8
    assert again.summary["memberships_added"] == 2


def test_a_mirror_records_its_additions(emu, run, ledger):
    ids = [emu.add_prospect(email=f"p{i}@example.com") for i in range(4)]
    config = base_config(emu, skip_unchanged=True, ledger_path=str(ledger))
    rows = [{"list_id": 5, "prospect_id": pid} for pid in ids]
    delete = {**config, "list_membership_operation": "delete"}
    run(delete, stream_of("list_memberships", rows))  # the ledger: removed
    run({**config, "list_membership_operation": "mirror"}, stream_of("list_memberships", rows))
    assert members(emu, 5) == set(ids)
    removed = run(delete, stream_of("list_memberships", rows))
    assert removed.summary["rows_unchanged"] == 0
    assert members(emu, 5) == set()


@pytest.mark.parametrize(
    "settings",
    [
        {"skip_unchanged": True},
        {"upsert_by_email": True},  # the identity map, on by default
        {"skip_unchanged": True, "upsert_by_email": True, "dry_run_offline": True},
    ],
)
def test_a_dry_run_creates_no_ledger_and_writes_no_watermark(emu, run, ledger, settings):
    config = base_config(emu, ledger_path=str(ledger), dry_run=True, **settings)
    result = run(config, stream_of("prospects", people(3), final_state={"s": 1}))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert not ledger.exists()
    assert list(ledger.parent.iterdir()) == []


def test_a_dry_run_writes_nothing_into_an_existing_ledger(emu, run, ledger):
    config = base_config(emu, ledger_path=str(ledger), skip_unchanged=True, upsert_by_email=True)
    run(config, stream_of("prospects", people(3)))
    with sqlite3.connect(ledger) as db:
        before = db.execute("SELECT checked_until FROM identity_checked").fetchall()
    files_before = sorted(p.name for p in ledger.parent.iterdir())
    mtime = ledger.stat().st_mtime_ns
    planned = run({**config, "dry_run": True}, stream_of("prospects", people(6)))
    assert planned.exit_code == 0, planned.stderr[-2000:]
    assert planned.summary["rows_unchanged"] == 3
    assert ledger.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in ledger.parent.iterdir()) == files_before
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT checked_until FROM identity_checked").fetchall() == before


def test_a_dry_run_creates_no_cache_directory_for_the_default_ledger(emu, run, tmp_path,
                                                                      monkeypatch):  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = base_config(emu, dry_run=True, skip_unchanged=True, upsert_by_email=True)
    result = run(config, stream_of("prospects", people(3)))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert not (tmp_path / "cache").exists()


STATE_PATHS = {
    "v4-batch": {},
    "v5-upsert": {"upsert_by_email": True},
    "import": {"prospect_operation": "import", "default_campaign_id": 7},
}


@pytest.mark.parametrize("config", STATE_PATHS.values(), ids=STATE_PATHS.keys())
def test_every_state_line_follows_the_ledger_commit_of_its_rows(emu, run, ledger, monkeypatch,
                                                                config):  # fmt: skip
    # A STATE line tells the orchestrator never to send its rows again: the ledger on
    # disk must know them when it is written, or a run stopped right after the line (a
    # SIGTERM, a crash) leaves a later run to skip an older payload as unchanged.
    rows = people(240)
    messages = stream_of("prospects", [])
    for upto in range(10, len(rows) + 1, 10):
        messages += [record_message("prospects", r) for r in rows[upto - 10 : upto]]
        messages.append(state_message({"upto": upto}))
    seen: list[int] = []

    def committed() -> set[str]:
        with contextlib.closing(sqlite3.connect(ledger)) as db:
            return {key for (key,) in db.execute("SELECT key FROM accepted WHERE scope = ?",
                                                 (PROSPECTS,))}  # fmt: skip

    def checked_write(state: dict, out=None) -> None:
        upto, known = state["upto"], committed()
        missing = [r["email"] for r in rows[:upto]
                   if prospect_ledger_key(f"email={r['email']}") not in known]  # fmt: skip
        assert not missing, f"STATE {state} written before the ledger knew {missing[:3]}"
        seen.append(upto)
        write_state_line(state, out)

    monkeypatch.setattr(runtime_module, "write_state_line", checked_write)
    result = run(base_config(emu, skip_unchanged=True, ledger_path=str(ledger),
                             batch_size_rows=40, **config), messages)  # fmt: skip
    assert result.exit_code == 0, result.stderr[-2000:]
    assert seen and seen[-1] == len(rows)
    assert result.states[-1] == {"upto": len(rows)}
