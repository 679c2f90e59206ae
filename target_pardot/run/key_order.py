"""Calls that carry the same prospect are applied in stream order.

Batches go out in parallel, and a retried call can finish after a later one. When two
rows of a stream update the same prospect (the same id, or the same email, in any case:
an account without AMPSEA may match emails ignoring case), the later row must win, in
this run and in every re-run. A call therefore waits for the earlier calls still in
flight that carry one of its prospects; calls with no prospect in common never wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def prospect_identity(element: Mapping[str, Any]) -> str:
    """What identifies the element's prospect: its id, else fid, else email ignoring case."""
    if element.get("id") is not None:
        return f"id:{element['id']}"
    if element.get("fid") is not None:
        return f"fid:{element['fid']}"
    return f"email:{str(element.get('email', '')).lower()}"


class KeyOrder:
    """Hands out, in stream order, the calls each new call must wait for. Thread-safe."""

    def __init__(self) -> None:
        self._last: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def in_order(self, keys: Iterable[str], job: Callable[[], None]) -> Callable[[], None]:
        """``job``, made to wait for the earlier jobs (claimed before this call) that share
        one of ``keys``. Call it on the thread that reads the stream, in stream order."""
        keys = list(dict.fromkeys(keys))
        done = threading.Event()
        earlier: dict[int, threading.Event] = {}
        with self._lock:
            for key in keys:
                previous = self._last.get(key)
                if previous is not None:
                    earlier[id(previous)] = previous
                self._last[key] = done

        def run() -> None:
            try:
                # Earlier jobs were queued first, so they are running or finished already.
                for event in earlier.values():
                    event.wait()
                job()
            finally:
                done.set()
                with self._lock:
                    for key in keys:
                        if self._last.get(key) is done:
                            del self._last[key]

        return run
