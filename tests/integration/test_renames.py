"""A row that changes a prospect's address (match_email) lands once: sent again after a
lost reply or by a resumed run, it updates the moved prospect instead of creating a
second one; and the old address is forgotten by the skip_unchanged ledger."""

from __future__ import annotations

from collections import Counter

from tests.helpers import base_config, stream_of

SCHEMA = {"properties": {"email": {"type": "string"}, "match_email": {"type": "string"},
                         "city": {"type": "string"}}}  # fmt: skip
RENAME = {"match_email": "old@example.com", "email": "new@example.com", "city": "Moved"}


def by_email(emu) -> Counter[str]:
    return Counter(p["email"] for p in emu.prospects())


def test_a_rename_sent_again_by_a_resumed_run_updates_the_moved_prospect(emu, run, tmp_path):
    """The run stopped after the change reached Pardot and before its STATE: the resumed
    run sends the row again, when the old address names nobody any more."""
    pid = emu.add_prospect(email="old@example.com", city="Start")
    config = base_config(emu, upsert_by_email=True)
    for city in ("Moved", "Moved again"):
        result = run(config, stream_of("prospects", [{**RENAME, "city": city}], schema=SCHEMA))
        assert result.exit_code == 0, result.stderr[-3000:]
    assert by_email(emu) == {"new@example.com": 1}
    [moved] = emu.prospects()
    assert (moved["id"], moved["city"]) == (pid, "Moved again")
    calls = emu.counters()["calls_by_endpoint"]
    assert calls["prospect/upsertLatestByEmail"] == 2
    assert calls["prospect/read"] == 3  # old held; then old gone and new held


def test_a_rename_whose_reply_is_lost_is_not_sent_blindly_again(emu, run):
    """Every reply is lost now and then after Pardot applied the call: the change is
    made once and its prospect is not doubled, whichever attempt lands."""
    emu.configure(applied_but_lost_rate=0.4, seed=3)
    rows = [{"match_email": f"old{i}@example.com", "email": f"new{i}@example.com",
             "city": f"City{i}"} for i in range(8)]  # fmt: skip
    ids = [emu.add_prospect(email=f"old{i}@example.com") for i in range(8)]
    result = run(base_config(emu, upsert_by_email=True, maximum_retries=10),
                 stream_of("prospects", rows, schema=SCHEMA))
    emu.configure(applied_but_lost_rate=0)
    assert result.exit_code == 0, result.stderr[-3000:]
    assert by_email(emu) == {f"new{i}@example.com": 1 for i in range(8)}
    assert {p["email"]: (p["id"], p["city"]) for p in emu.prospects()} == {
        f"new{i}@example.com": (ids[i], f"City{i}") for i in range(8)}
    assert emu.counters()["calls_by_endpoint"]["prospect/read"] >= 8


def test_the_ledger_forgets_the_old_address_of_a_rename(emu, run, tmp_path):
    """A later run's row for the old address names a new prospect: it is sent (and
    creates it), though its payload is the one the ledger holds for that address."""
    config = base_config(emu, upsert_by_email=True, skip_unchanged=True,
                         ledger_path=str(tmp_path / "l.db"))  # fmt: skip
    start = [{"email": "old@example.com", "city": "Start"}]
    steps = (start, [RENAME], start)
    for rows in steps:
        result = run(config, stream_of("prospects", rows, schema=SCHEMA))
        assert result.exit_code == 0, result.stderr[-3000:]
    assert result.summary["rows_unchanged"] == 0
    assert by_email(emu) == {"new@example.com": 1, "old@example.com": 1}
    assert {p["email"]: p["city"] for p in emu.prospects()} == {
        "new@example.com": "Moved", "old@example.com": "Start"}


def test_rows_after_a_mapped_prospects_renames_keep_stream_order(emu, run, tmp_path):
    """With the identity map: the old address renamed away, a row making it again, that
    one renamed too, then a row by its new address. The last row must find the prospect
    the second change made, not create one before that change lands beside it."""
    config = base_config(emu, upsert_by_email=True, identity_map=True,
                         ledger_path=str(tmp_path / "l.db"))  # fmt: skip
    first = run(config, stream_of("prospects", [{"email": "a@example.com", "city": "Start"}]))
    assert first.exit_code == 0, first.stderr[-3000:]
    rows = [{"match_email": "a@example.com", "email": "b@example.com", "city": "B"},
            {"email": "a@example.com", "city": "A again"},
            {"match_email": "a@example.com", "email": "c@example.com", "city": "C"},
            {"email": "c@example.com", "city": "C last"}]  # fmt: skip
    result = run(config, stream_of("prospects", rows, schema=SCHEMA))
    assert result.exit_code == 0, result.stderr[-3000:]
    assert by_email(emu) == {"b@example.com": 1, "c@example.com": 1}
    assert {p["email"]: p["city"] for p in emu.prospects()} == {
        "b@example.com": "B", "c@example.com": "C last"}


def test_a_row_accepted_after_the_rename_of_its_address_is_not_recorded(emu, run, tmp_path):
    """With prospect_lists a row is accepted (into the ledger) once its list call is
    done, after the rename of its address that follows it in the stream: the ledger must
    not keep that row's payload for the old address, or the same load again would skip
    the row that makes the old address's prospect again."""
    config = base_config(emu, upsert_by_email=True, skip_unchanged=True, prospect_lists="3",
                         prospect_list_operation="remove", ledger_path=str(tmp_path / "l.db"))
    rows = [{"email": "old@example.com", "city": "Start"}, RENAME]
    for _ in range(2):
        result = run(config, stream_of("prospects", rows, schema=SCHEMA))
        assert result.exit_code == 0, result.stderr[-3000:]
    assert by_email(emu) == {"new@example.com": 1, "old@example.com": 1}
    assert {p["email"]: p["city"] for p in emu.prospects()} == {
        "new@example.com": "Moved", "old@example.com": "Start"}
