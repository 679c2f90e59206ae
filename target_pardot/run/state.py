"""Which Singer STATE may be emitted: never one that covers a row not yet settled.

A row is settled when Pardot accepted it or it was recorded as rejected. Each STATE from
the tap is remembered with how many rows of each stream had arrived before it; it may be
written once every one of those rows is settled. Rows settle out of order (calls run in
parallel), so each stream keeps the length of its settled prefix plus the settled rows
beyond it.

:meth:`StateTracker.emit` is the one place that writes a settled STATE. Before it writes
one, it commits what Pardot accepted (the skip_unchanged ledger, ``before_write``): a
STATE line tells the orchestrator never to send those rows again, so the ledger must
already know their payloads, or a later run that sends an older payload of the same
prospect would skip it as unchanged (a SIGTERM or a crash right after the line would
otherwise lose the entries).
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable
from typing import IO, Any

from target_pardot.errors import TargetPardotError
from target_pardot.run.owned_lock import OwnedLock, refuse_if_interrupted_inside


class StdoutClosed(TargetPardotError):
    """The reader of stdout went away: STATE can no longer reach the orchestrator, so the
    run cannot claim success."""


STDOUT_CLOSED = StdoutClosed("stdout closed: the downstream stopped reading STATE")


def write_state_line(state: dict[str, Any], out: IO[str] | None = None) -> None:
    stream = out or sys.stdout
    try:
        stream.write(json.dumps(state, allow_nan=False) + "\n")
        stream.flush()
    except (BrokenPipeError, ConnectionResetError, ValueError) as exc:
        if isinstance(exc, ValueError) and not stream.closed:
            raise
        _silence(stream)
        raise STDOUT_CLOSED from None


def _silence(stream: IO[str]) -> None:
    """Point the closed stdout at /dev/null, so that the interpreter's last flush at exit
    does not print a second error about it (Python's documented recipe for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError):
        pass


class _StreamProgress:
    """Rows of one stream: how many arrived, and how long the settled prefix is."""

    def __init__(self) -> None:
        self.received = 0
        self.settled_prefix = 0
        self.settled_ahead: set[int] = set()

    def settle(self, position: int) -> None:
        if position <= self.settled_prefix:
            return
        if position == self.settled_prefix + 1 and not self.settled_ahead:
            self.settled_prefix = position  # the next row, none ahead: nearly every row
            return
        self.settled_ahead.add(position)
        while self.settled_prefix + 1 in self.settled_ahead:
            self.settled_prefix += 1
            self.settled_ahead.discard(self.settled_prefix)


class StateTracker:
    """Thread-safe: rows arrive on the reader thread and settle on delivery threads.

    ``write`` puts one STATE on its way (stdout); ``before_write`` runs right before each
    write, and commits what the rows the STATE covers left behind (the ledger). Should it
    fail, that STATE and every later one stay unwritten: the rows are sent again on a
    resume, which is safe, where a STATE without its ledger entries is not.
    """

    def __init__(
        self,
        write: Callable[[dict[str, Any]], None] = write_state_line,
        before_write: Callable[[], None] | None = None,
    ) -> None:
        self._write = write
        self._before_write = before_write
        self._commit_failed = False
        self._lock = OwnedLock()
        self._streams: dict[str, _StreamProgress] = {}
        self._pending: deque[tuple[dict[str, int], dict[str, Any]]] = deque()
        self._last_written: dict[str, Any] | None = None
        #: stream -> first held position: no STATE may cover rows from there on (a
        #: mirrored stream, until its removals are done).
        self._held: dict[str, int] = {}

    def _stream(self, name: str) -> _StreamProgress:
        progress = self._streams.get(name)
        if progress is None:
            progress = self._streams[name] = _StreamProgress()
        return progress

    def row_received(self, stream: str) -> int:
        """Register a row; return its 1-based position in its stream."""
        with self._lock:
            # Every row: the dict's own get first, the method only for a stream's first row.
            progress = self._streams.get(stream) or self._stream(stream)
            progress.received += 1
            return progress.received

    def settle(self, stream: str, positions: Iterable[int]) -> None:
        with self._lock:
            progress = self._stream(stream)
            for position in positions:
                progress.settle(position)

    def hold(self, stream: str, from_position: int) -> None:
        """No STATE may cover this stream's rows from ``from_position`` on, until release."""
        with self._lock:
            self._held.setdefault(stream, from_position)

    def release(self, stream: str) -> None:
        with self._lock:
            self._held.pop(stream, None)

    def state_received(self, state: dict[str, Any]) -> None:
        with self._lock:
            watermarks = {name: p.received for name, p in self._streams.items()}
            self._pending.append((watermarks, state))

    def unsettled_rows(self) -> int:
        with self._lock:
            return sum(
                p.received - p.settled_prefix - len(p.settled_ahead) for p in self._streams.values()
            )

    def has_unwritten(self) -> bool:
        """True while a STATE received is not written yet."""
        with self._lock:
            return bool(self._pending)

    def emit(self) -> dict[str, Any] | None:
        """Write the newest STATE whose rows are all settled, if not written yet; return
        it. The only writer of STATE: whoever settles rows, or waits for them, calls this."""
        refuse_if_interrupted_inside(self._lock, "STATE")
        with self._lock:
            if self._commit_failed:
                return None
            ready: dict[str, Any] | None = None
            while self._pending and self._covered(self._pending[0][0]):
                ready = self._pending.popleft()[1]
            if ready is None or ready == self._last_written:
                return None
            if self._before_write is not None:
                try:
                    # Every settled row's ledger entry (and those of rows settled since,
                    # which only makes the ledger more current) is committed first.
                    self._before_write()
                except BaseException:
                    self._commit_failed = True
                    raise
            self._last_written = ready
            self._write(ready)
            return ready

    def _covered(self, watermarks: dict[str, int]) -> bool:
        return all(
            self._stream(name).settled_prefix >= upto and upto < self._held.get(name, upto + 1)
            for name, upto in watermarks.items()
        )
