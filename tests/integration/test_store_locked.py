"""A ledger_path file that another run keeps locked: one line naming ledger_path, exit code
2 (a configuration matter: run one at a time, or give each run its own file), the summary,
and never a traceback, whether the lock is met at start or while the run writes."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from target_pardot.errors import EXIT_CONFIG, ConfigError
from target_pardot.run import identity, ledger
from target_pardot.target import TargetPardot
from tests.helpers import base_config, stream_of, to_lines


def people(n: int) -> list[dict]:
    return [{"email": f"k{i}@example.com", "first_name": f"K{i}"} for i in range(n)]


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Another run writing the file: its write lock held until the block ends."""
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


@pytest.fixture(autouse=True)
def short_lock_wait(monkeypatch):
    monkeypatch.setattr(identity, "LOCK_WAIT_SECONDS", 0.3)
    monkeypatch.setattr(ledger, "LOCK_WAIT_SECONDS", 0.3, raising=False)


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "ledger.sqlite3"


def run_while_locked(config: dict, messages: list, path: Path, capsys, caplog) -> tuple[int, str]:
    """Start the target, then lock its file (another run began writing), then run it."""
    caplog.set_level("INFO")
    target = TargetPardot(config=config, validate_config=True)
    capsys.readouterr()
    with held(path):
        code = target.run(io.StringIO(to_lines(messages)))  # raises if anything escapes
    return code, caplog.text


@pytest.mark.parametrize(
    "settings",
    [{"skip_unchanged": True}, {"upsert_by_email": True}],
    ids=["skip_unchanged ledger", "identity map"],
)
def test_a_file_locked_during_the_run_is_one_line_and_exit_2(emu, path, capsys, caplog, settings):
    config = base_config(emu, ledger_path=str(path), **settings)
    messages = stream_of("prospects", people(5), final_state={"s": 1})
    code, log = run_while_locked(config, messages, path, capsys, caplog)
    assert code == EXIT_CONFIG
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1, log
    assert "ledger_path" in errors[0].getMessage()
    assert "locked by another run" in errors[0].getMessage()
    assert "Traceback" not in log and "Unexpected" not in log
    assert "run summary:" in log
    # The rows reached Pardot; only the file could not record them. No STATE claims more.
    assert len(emu.prospects()) == 5


def test_a_ledger_another_run_keeps_from_being_read_is_a_configuration_error(emu, path):
    config = base_config(emu, ledger_path=str(path), skip_unchanged=True)
    ledger.open_ledger(str(path), emu.business_unit, pardot_domain=config["pardot_domain"]).close()
    holder = sqlite3.connect(path)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # not even readers get in
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ConfigError, match=r"ledger_path.*locked by another run"):
            TargetPardot(config=config, validate_config=True)
    finally:
        holder.rollback()
        holder.close()
    assert emu.counters()["calls_by_endpoint"] == {}
