"""A lock that knows which thread holds it.

SIGTERM's handler runs on the main thread, between two of its bytecodes. If the main
thread was inside the ledger's or the STATE tracker's lock at that moment (checking
rows against the ledger, committing it, writing a STATE), the handler's own final
commit would wait for a lock only its own thread can release: the process would hang
until the exit timer, and say nothing. With the owner known, the handler sees the lock
is its own and gives up at once, with a reason (the rows are sent again on resume)."""

from __future__ import annotations

import threading
from types import TracebackType

from target_pardot.errors import TargetPardotError


class OwnedLock:
    """A non-reentrant lock for ``with`` blocks that records its holder's thread id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def __enter__(self) -> OwnedLock:
        self._lock.acquire()
        self._owner = threading.get_ident()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._owner = None
        self._lock.release()

    def held_by_this_thread(self) -> bool:
        """True when the calling thread is inside this lock (a signal handler that
        interrupted it): acquiring it again would never return."""
        return self._owner == threading.get_ident()


class HeldByThisThread(TargetPardotError):
    """The lock a final commit or STATE needs is held by the code the signal interrupted."""


def refuse_if_interrupted_inside(lock: OwnedLock, what: str) -> None:
    if lock.held_by_this_thread():
        raise HeldByThisThread(
            f"the signal came while the {what} was being written; its rows are sent "
            "again when the run resumes from the last STATE"
        )
