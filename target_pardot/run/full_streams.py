"""Mirror streams must be full streams: one WARNING when one looks incremental.

A mirror removes every member the stream does not name. A stream replicated incrementally
names only the rows changed since its bookmark, so mirroring it would empty the list of
everyone else (the removal guard stops most of that, but not a small list or a high
``mirror_max_removal_percent``). Two signs are visible to a target: a SCHEMA with
``bookmark_properties`` (the Singer spec's replication keys of the stream), and a STATE
whose ``bookmarks.<stream>`` holds a ``replication_key`` or ``replication_key_value``
(the SDK's incremental bookmark). Either gets one WARNING per stream.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("target-pardot")

INCREMENTAL_KEYS = ("replication_key", "replication_key_value")


def incremental_in_state(state: Mapping[str, Any], stream: str) -> bool:
    bookmarks = state.get("bookmarks")
    if not isinstance(bookmarks, Mapping):
        return False
    bookmark = bookmarks.get(stream)
    if not isinstance(bookmark, Mapping):
        return False
    if any(bookmark.get(key) is not None for key in INCREMENTAL_KEYS):
        return True
    partitions = bookmark.get("partitions")
    return isinstance(partitions, list) and any(
        isinstance(p, Mapping) and any(p.get(k) is not None for k in INCREMENTAL_KEYS)
        for p in partitions
    )


class FullStreamCheck:
    """Remembers the signs of each stream and warns once per mirror stream."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bookmarked: dict[str, list[str]] = {}
        self._mirrors: set[str] = set()
        self._warned: set[str] = set()
        self._last_state: Mapping[str, Any] = {}

    def schema(self, stream: str, bookmark_properties: Any) -> None:
        if isinstance(bookmark_properties, list) and bookmark_properties:
            with self._lock:
                self._bookmarked[stream] = [str(p) for p in bookmark_properties]

    def mirror(self, stream: str) -> None:
        with self._lock:
            self._mirrors.add(stream)
            if stream in self._bookmarked:
                self._warn(stream, "its SCHEMA has bookmark_properties "
                           f"{self._bookmarked[stream]}")
            elif incremental_in_state(self._last_state, stream):
                self._warn(stream, "its STATE holds an incremental bookmark")

    def state(self, state: Mapping[str, Any]) -> None:
        with self._lock:
            self._last_state = state
            for stream in self._mirrors:
                if incremental_in_state(state, stream):
                    self._warn(stream, "its STATE holds an incremental bookmark")

    def _warn(self, stream: str, sign: str) -> None:
        if stream in self._warned:
            return
        self._warned.add(stream)
        logger.warning(
            "Stream '%s' is mirrored (list_membership_operation: mirror), but %s: it looks "
            "incremental. Members missing from an incremental stream would be removed from "
            "their list. Replicate this stream full-table (README, Audience sync).",
            stream, sign,
        )
