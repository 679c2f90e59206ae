"""A signal handler that interrupts the main thread inside the ledger's or the STATE
tracker's lock must give up its final commit at once, not wait for a lock only the
interrupted code can release (the run would hang until the exit timer, saying nothing)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from target_pardot.run.ledger import Ledger
from target_pardot.run.owned_lock import HeldByThisThread, OwnedLock
from target_pardot.run.state import StateTracker


def _returns_within(seconds: float, call: Any) -> BaseException | None:
    """Run ``call`` on a thread; fail if it has not returned in time (a deadlock)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # the outcome is what the test inspects
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the call waited for a lock its own thread holds"
    return outcome[0]


def test_the_lock_knows_its_holder():
    lock = OwnedLock()
    assert not lock.held_by_this_thread()
    with lock:
        assert lock.held_by_this_thread()
        seen_elsewhere: list[bool] = []
        other = threading.Thread(target=lambda: seen_elsewhere.append(lock.held_by_this_thread()))
        other.start()
        other.join()
        assert seen_elsewhere == [False]
    assert not lock.held_by_this_thread()


def test_a_ledger_flush_inside_its_own_lock_refuses_at_once(tmp_path: Path):
    ledger = Ledger(tmp_path / "ledger.sqlite", "unit")
    ledger.accept("prospects", [("a@x.com", b"1")])

    def interrupted_inside_the_lock() -> None:
        with ledger._lock:  # the main thread's place when the signal came
            ledger.flush()  # what the handler's final STATE does first

    error = _returns_within(5, interrupted_inside_the_lock)
    assert isinstance(error, HeldByThisThread)
    assert "resumes from the last STATE" in str(error)
    # Outside the lock the same flush commits as always.
    ledger.flush()
    assert ledger.unchanged("prospects", [("a@x.com", b"1")]) == [True]
    ledger.close()


def test_a_state_emit_inside_the_trackers_lock_refuses_and_writes_nothing():
    written: list[dict[str, Any]] = []
    tracker = StateTracker(write=written.append)
    tracker.settle("prospects", [tracker.row_received("prospects")])
    tracker.state_received({"n": 0})

    def interrupted_inside_the_lock() -> None:
        with tracker._lock:
            tracker.emit()

    error = _returns_within(5, interrupted_inside_the_lock)
    assert isinstance(error, HeldByThisThread)
    assert written == []
    assert tracker.emit() == {"n": 0}
    assert written == [{"n": 0}]


def test_a_lock_another_thread_holds_is_waited_for(tmp_path: Path):
    ledger = Ledger(tmp_path / "ledger.sqlite", "unit")
    ledger.accept("prospects", [("b@x.com", b"2")])
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with ledger._lock:
            entered.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    entered.wait(5)
    threading.Timer(0.2, release.set).start()
    assert _returns_within(5, ledger.flush) is None  # waited, then committed
    holder.join()
    assert ledger.unchanged("prospects", [("b@x.com", b"2")]) == [True]
    ledger.close()
