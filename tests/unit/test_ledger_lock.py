"""The ledger and identity-map files shared by two runs: a write waits for the other
run's lock (BEGIN IMMEDIATE, tried again up to the lock-wait bound) and succeeds; a lock
held beyond the bound is the one-line configuration error (exit code 2) naming the file."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from target_pardot.errors import EXIT_CONFIG
from target_pardot.run import identity, ledger
from target_pardot.run.identity import IdentityMap
from target_pardot.run.ledger import PROSPECTS, Ledger, StoreLocked

HELD_BRIEFLY = 0.4  # seconds: shorter than the bound the tests set
BOUND = 2.0


@contextmanager
def held(path: Path, seconds: float | None = None) -> Iterator[threading.Event]:
    """Another run writing the file: its write lock taken now, let go after ``seconds``
    (from another thread) or when the block ends. The event is set on release."""
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            holder.rollback()
            released.set()

    timer = threading.Timer(seconds, release) if seconds is not None else None
    if timer is not None:
        timer.start()
    try:
        yield released
    finally:
        if timer is not None:
            timer.join()
        release()
        holder.close()


@pytest.fixture
def bound(monkeypatch) -> Callable[[float], None]:
    def set_bound(seconds: float) -> None:
        monkeypatch.setattr(ledger, "LOCK_WAIT_SECONDS", seconds)
        monkeypatch.setattr(identity, "LOCK_WAIT_SECONDS", seconds)

    return set_bound


def read_ledger(path: Path) -> dict[str, bytes]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT key, fingerprint FROM accepted").fetchall())


def test_a_ledger_write_waits_for_a_brief_lock_and_succeeds(tmp_path, bound):
    bound(BOUND)
    path = tmp_path / "ledger.sqlite3"
    book = Ledger(path, "unit")
    book.accept(PROSPECTS, [("email=a@example.com", b"A")])
    with held(path, HELD_BRIEFLY) as released:
        book.flush()
        assert released.is_set()  # the write went in only after the other run let go
    book.close()
    assert read_ledger(path) == {"email=a@example.com": b"A"}


def test_an_identity_map_write_waits_for_a_brief_lock_and_succeeds(tmp_path, bound):
    bound(BOUND)
    path = tmp_path / "identity.sqlite3"
    book = IdentityMap(path, "unit")
    book.learn("a@example.com", 7)
    with held(path, HELD_BRIEFLY) as released:
        book.flush()
        assert released.is_set()
    book.close()
    assert IdentityMap(path, "unit").lookup(["a@example.com"]) == {"a@example.com": 7}


def test_the_ledger_forgets_keys_at_its_next_write(tmp_path, bound):
    bound(BOUND)
    path = tmp_path / "ledger.sqlite3"
    book = Ledger(path, "unit")
    book.accept(PROSPECTS, [("email=a@example.com", b"A"), ("email=b@example.com", b"B")])
    book.flush()
    book.forget(PROSPECTS, ["email=a@example.com"])
    assert book.unchanged(PROSPECTS, [("email=a@example.com", b"A")]) == [False]
    book.close()
    assert read_ledger(path) == {"email=b@example.com": b"B"}


@pytest.mark.parametrize("kind", ["ledger", "identity map"])
def test_a_lock_held_beyond_the_bound_is_the_one_line_exit_2_error(tmp_path, bound, kind):
    bound(0.3)
    path = tmp_path / "store.sqlite3"
    if kind == "ledger":
        book: Ledger | IdentityMap = Ledger(path, "unit")
        book.accept(PROSPECTS, [("email=a@example.com", b"A")])
    else:
        book = IdentityMap(path, "unit")
        book.learn("a@example.com", 7)
    with held(path), pytest.raises(StoreLocked) as raised:
        book.flush()
    message = str(raised.value)
    assert raised.value.exit_code == EXIT_CONFIG
    assert "\n" not in message and str(path) in message and "0.3 s" in message
