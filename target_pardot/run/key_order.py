"""Calls that carry the same prospect are applied in stream order (used on API v3).

Batches go out in parallel, and a retried call can finish after a later one. When two
rows of a stream update the same prospect (the same id, or the same email, in any case:
an account without AMPSEA may match emails ignoring case), the later row must win, in
this run and in every re-run. A call therefore waits for the earlier calls still in
flight that carry one of its prospects; calls with no prospect in common never wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any


def prospect_identity(element: Mapping[str, Any]) -> Hashable:
    """What identifies the element's prospect: its id (an int), else ("fid", fid), else
    its email ignoring case (a str): three kinds of key that cannot collide."""
    prospect_id = element.get("id")
    if prospect_id is not None:
        return prospect_id
    fid = element.get("fid")
    if fid is not None:
        return ("fid", fid)
    return str(element.get("email", "")).lower()


class KeyOrder:
    """Hands out, in stream order, the calls each new call must wait for. Thread-safe."""

    def __init__(self) -> None:
        self._last: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def in_order(self, keys: Iterable[Hashable], job: Callable[[], None]) -> Callable[[], None]:
        """``job``, made to wait for the earlier jobs (claimed before this call) that share
        one of ``keys``. Call it on the thread that reads the stream, in stream order."""
        keys = list(keys)
        done = threading.Event()
        with self._lock:
            last = self._last
            earlier = {e for e in map(last.get, keys) if e is not None}
            last.update(dict.fromkeys(keys, done))

        def run() -> None:
            try:
                # Earlier jobs were queued first, so they are running or finished already.
                for event in earlier:
                    event.wait()
                job()
            finally:
                done.set()
                with self._lock:
                    last = self._last
                    for key in keys:
                        if last.get(key) is done:
                            del last[key]

        return run
