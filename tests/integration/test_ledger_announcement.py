"""The run says where its ledger lives and how big it is, once, and warns when the ledger is
new in a run that relies on it (a container that forgets ~/.cache starts over every run)."""

from __future__ import annotations

from tests.helpers import base_config, stream_of

ROWS = [{"email": f"u{i}@example.com", "first_name": "Ann"} for i in range(3)]


def ledger_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "Ledger " in line]


def test_a_new_ledger_is_a_warning_naming_its_path_then_its_size_is_logged(emu, run, tmp_path):
    ledger = tmp_path / "ledger.sqlite3"
    config = base_config(emu, skip_unchanged=True, ledger_path=str(ledger))
    first = run(config, stream_of("prospects", ROWS))
    assert first.exit_code == 0
    [line] = ledger_lines(first.stderr)
    assert "WARNING" in line and str(ledger) in line and "does not exist yet" in line
    assert "ledger_path" in line
    second = run(config, stream_of("prospects", ROWS))
    [line] = ledger_lines(second.stderr)
    size = ledger.stat().st_size
    assert "WARNING" not in line
    # upsert_by_email is on by default, and with it the identity map
    assert f"Ledger {ledger} (skip_unchanged and identity_map): " in line
    assert f"{size} bytes" in line


def test_the_identity_map_is_named_as_a_user_of_the_ledger(emu, run, tmp_path):
    ledger = tmp_path / "ledger.sqlite3"
    config = base_config(emu, upsert_by_email=True, identity_map=True, ledger_path=str(ledger))
    result = run(config, stream_of("prospects", ROWS))
    [line] = ledger_lines(result.stderr)
    assert "(identity_map)" in line and "does not exist yet" in line


def test_a_run_without_skip_unchanged_or_identity_map_says_nothing_of_a_ledger(
    emu, run, tmp_path
):
    config = base_config(emu, upsert_by_email=False, skip_unchanged=False,
                         ledger_path=str(tmp_path / "ledger.sqlite3"))  # fmt: skip
    result = run(config, stream_of("prospects", ROWS))
    assert result.exit_code == 0
    assert ledger_lines(result.stderr) == []
    assert not (tmp_path / "ledger.sqlite3").exists()
