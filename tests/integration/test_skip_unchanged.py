"""skip_unchanged: a row Pardot already accepted, unchanged, costs no call on the next run."""

from __future__ import annotations

import sqlite3

import pytest

from target_pardot.run.ledger import Ledger, default_ledger_path
from tests.helpers import base_config, stream_of


def people(n: int, start: int = 0, city: str = "Oslo") -> list[dict]:
    return [{"email": f"u{i}@example.com", "first_name": f"F{i}", "city": city}
            for i in range(start, start + n)]  # fmt: skip


#: Reads, not writes: the token, and the account's custom fields (once per run).
READS = ("oauth/token", "v5/custom-fields/query")


def writes(emu) -> int:
    return sum(n for k, n in emu.counters()["calls_by_endpoint"].items() if k not in READS)


def ledger_rows(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM accepted").fetchone()[0]


@pytest.fixture
def config(emu, tmp_path):
    return base_config(emu, skip_unchanged=True, ledger_path=str(tmp_path / "ledger.sqlite3"))


def test_a_rerun_of_unchanged_rows_makes_no_write_call(emu, run, config):
    first = run(config, stream_of("prospects", people(120), final_state={"s": 1}))
    assert first.exit_code == 0
    assert first.summary["rows_sent"] == 120
    emu.reset()
    again = run(config, stream_of("prospects", people(120), final_state={"s": 2}))
    assert again.exit_code == 0
    assert writes(emu) == 0
    assert again.summary["rows_unchanged"] == 120
    assert again.summary["rows_sent"] == 0
    assert again.states == [{"s": 2}]
    assert "rows unchanged" in again.stderr


def test_only_changed_rows_are_sent(emu, run, config):
    run(config, stream_of("prospects", people(100)))
    emu.reset()
    rows = people(100)
    rows[7]["city"] = "Bergen"
    rows[42]["first_name"] = "Renamed"
    result = run(config, stream_of("prospects", [*rows, *people(3, start=500)]))
    assert result.exit_code == 0
    assert result.summary["rows_unchanged"] == 98
    assert result.summary["rows_sent"] == 5
    assert sorted(p["email"] for p in emu.prospects()) == sorted(
        ["u7@example.com", "u42@example.com", "u500@example.com", "u501@example.com",
         "u502@example.com"]
    )  # fmt: skip


def test_column_order_and_nulls_do_not_count_as_changes(emu, run, config):
    run(config, stream_of("prospects", [{"email": "a@example.com", "city": "Oslo"}]))
    emu.reset()
    reordered = {"city": "Oslo", "first_name": None, "email": "a@example.com"}
    result = run(config, stream_of("prospects", [reordered]))
    assert result.summary["rows_unchanged"] == 1
    assert writes(emu) == 0


def test_rejected_rows_are_not_recorded(emu, run, config):
    rows = people(5)
    rows[2]["email"] = "not-an-email"
    result = run({**config, "skip_invalid_records": True}, stream_of("prospects", rows))
    assert result.summary["rows_rejected"] == 1
    emu.reset()
    again = run({**config, "skip_invalid_records": True}, stream_of("prospects", rows))
    assert again.summary["rows_unchanged"] == 4
    assert again.summary["rows_rejected"] == 1, "the rejected row is sent again"


def test_a_failed_run_records_nothing_it_did_not_deliver(emu, run, config, tmp_path):
    emu.configure(fault_rate=1.0, fault_kinds=["http503"])
    failed = run({**config, "maximum_retries": 1}, stream_of("prospects", people(60)))
    assert failed.exit_code == 1
    assert ledger_rows(tmp_path / "ledger.sqlite3") == 0
    emu.configure(fault_rate=0.0)
    again = run(config, stream_of("prospects", people(60)))
    assert again.exit_code == 0
    assert again.summary["rows_sent"] == 60
    assert again.summary["rows_unchanged"] == 0


def test_lists_count_as_part_of_the_payload(emu, run, config):
    run({**config, "upsert_by_email": True, "prospect_lists": "3"},
        stream_of("prospects", people(4)))  # fmt: skip
    assert {m["list_id"] for m in emu.memberships()} == {3}
    again = run({**config, "upsert_by_email": True, "prospect_lists": "3"},
                stream_of("prospects", people(4)))  # fmt: skip
    assert again.summary["rows_unchanged"] == 4
    other_list = run({**config, "upsert_by_email": True, "prospect_lists": "4"},
                     stream_of("prospects", people(4)))  # fmt: skip
    assert other_list.summary["rows_unchanged"] == 0
    assert other_list.summary["rows_sent"] == 4


def test_dry_run_reads_the_ledger_but_never_writes_it(emu, run, config, tmp_path):
    config = {**config, "upsert_by_email": False}  # the plans below are batches
    result = run({**config, "dry_run": True}, stream_of("prospects", people(10)))
    assert result.exit_code == 0
    assert not (tmp_path / "ledger.sqlite3").exists()
    run(config, stream_of("prospects", people(10)))
    planned = run({**config, "dry_run": True}, stream_of("prospects", people(12)))
    assert planned.summary["rows_unchanged"] == 10
    assert planned.summary["planned_rows_by_endpoint"] == {"prospect/batchUpsert": 2}


def test_memberships_are_skipped_when_unchanged(emu, run, config):
    ids = [emu.add_prospect(email=f"p{i}@example.com") for i in range(3)]
    rows = [{"list_id": 5, "prospect_id": pid} for pid in ids]
    first = run(config, stream_of("list_memberships", rows))
    assert first.summary["memberships_added"] == 3
    calls_before = writes(emu)
    again = run(config, stream_of("list_memberships", rows))
    assert again.summary["rows_unchanged"] == 3
    assert writes(emu) == calls_before
    removed = run({**config, "list_membership_operation": "delete"},
                  stream_of("list_memberships", rows))  # fmt: skip
    assert removed.summary["memberships_removed"] == 3
    assert emu.memberships() == []


def test_the_ledger_belongs_to_one_business_unit(tmp_path):
    path = tmp_path / "shared.sqlite3"
    first = Ledger(path, "0Uv000000000001AAA")
    first.accept("prospect", [("email=a@x.com", b"1")])
    first.close()
    other = Ledger(path, "0Uv000000000002AAA")
    assert other.unchanged("prospect", [("email=a@x.com", b"1")]) == [False]
    other.close()
    same = Ledger(path, "0Uv000000000001AAA")
    assert same.unchanged("prospect", [("email=a@x.com", b"1")]) == [True]
    same.close()


def test_default_path_is_under_the_cache_dir_per_business_unit(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_ledger_path("0Uv000000000001AAA") == (
        tmp_path / "target-pardot" / "ledger-0Uv000000000001AAA.sqlite3"
    )


def test_an_unusable_ledger_path_is_a_config_error(emu, run, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = base_config(emu, skip_unchanged=True, ledger_path=str(blocker / "ledger.sqlite3"))
    with pytest.raises(Exception, match="ledger_path"):
        run(config, stream_of("prospects", people(1)))


@pytest.mark.parametrize("separate_drains", [False, True])
def test_the_last_value_of_a_run_wins_over_an_equal_ledger_entry(
    emu, run, config, separate_drains
):
    """Run 1 sends A; run 2 sends B then A for the same key: Pardot must end at A, although
    A equals the ledger's entry, because B was sent in between."""
    pid = emu.add_prospect(email="same@example.com", city="start")
    run(config, stream_of("prospects", [{"id": pid, "city": "A"}]))
    assert emu.prospects()[0]["city"] == "A"
    if separate_drains:
        # B's call is still in flight when A is looked up.
        emu.configure(latency_ms=300)
        config = {**config, "batch_size_rows": 1}
    result = run(config, stream_of("prospects", [{"id": pid, "city": "B"},
                                                 {"id": pid, "city": "A"}]))  # fmt: skip
    assert result.exit_code == 0
    assert emu.prospects()[0]["city"] == "A"
    assert result.summary["rows_unchanged"] == 0
    # And a third run of A alone is unchanged again: the ledger followed the last send.
    third = run(config, stream_of("prospects", [{"id": pid, "city": "A"}]))
    assert third.summary["rows_unchanged"] == 1
