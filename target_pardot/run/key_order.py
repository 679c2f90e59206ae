"""Calls that carry the same prospect are applied in stream order, on every API version.

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


def prospect_identities(element: Mapping[str, Any]) -> list[Hashable]:
    """Every key the element names its prospect by: its id, its fid, its email ignoring
    case. A call waits for any earlier call sharing one of them: a row sent by a mapped
    id and a later row of the same email must not overtake each other either."""
    keys: list[Hashable] = []
    if element.get("id") is not None:
        keys.append(element["id"])
    if element.get("fid") is not None:
        keys.append(("fid", element["fid"]))
    if element.get("email"):
        keys.append(str(element["email"]).lower())
    return keys


def email_identities(*emails: str | None) -> list[Hashable]:
    """The keys of a row sent by email (a v5 upsert): its address and, when it changes
    the prospect's address, the old one, ignoring case as prospect_identities does."""
    return [email.lower() for email in emails if email]


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
