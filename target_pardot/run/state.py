"""Which Singer STATE may be emitted: never one that covers a row not yet settled.

A row is settled when Pardot accepted it or it was recorded as rejected. Each STATE from
the tap is remembered with how many rows of each stream had arrived before it; it may be
written once every one of those rows is settled. Rows settle out of order (calls run in
parallel), so each stream keeps the length of its settled prefix plus the settled rows
beyond it.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import IO, Any


def write_state_line(state: dict[str, Any], out: IO[str] | None = None) -> None:
    stream = out or sys.stdout
    stream.write(json.dumps(state) + "\n")
    stream.flush()


class _StreamProgress:
    """Rows of one stream: how many arrived, and how long the settled prefix is."""

    def __init__(self) -> None:
        self.received = 0
        self.settled_prefix = 0
        self.settled_ahead: set[int] = set()

    def settle(self, position: int) -> None:
        if position <= self.settled_prefix:
            return
        self.settled_ahead.add(position)
        while self.settled_prefix + 1 in self.settled_ahead:
            self.settled_prefix += 1
            self.settled_ahead.discard(self.settled_prefix)


class StateTracker:
    """Thread-safe: rows arrive on the reader thread and settle on delivery threads."""

    def __init__(self, write: Callable[[dict[str, Any]], None] = write_state_line) -> None:
        self._write = write
        self._lock = threading.Lock()
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
            progress = self._stream(stream)
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

    def emit_ready(self) -> dict[str, Any] | None:
        """Write the newest STATE whose rows are all settled; return it, if any."""
        with self._lock:
            ready: dict[str, Any] | None = None
            while self._pending and self._covered(self._pending[0][0]):
                ready = self._pending.popleft()[1]
            if ready is None or ready == self._last_written:
                return None
            self._last_written = ready
            self._write(ready)
            return ready

    def _covered(self, watermarks: dict[str, int]) -> bool:
        return all(
            self._stream(name).settled_prefix >= upto and upto < self._held.get(name, upto + 1)
            for name, upto in watermarks.items()
        )
