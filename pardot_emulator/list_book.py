"""The account's lists: the configured ids, and the lists created or changed through the
API over them (the handlers are in lists.py and v5_lists.py)."""

from __future__ import annotations

import threading
from typing import Any

from .records import OpError, iso_now


def default_list(list_id: int, stamp: str) -> dict[str, Any]:
    return {"id": list_id, "name": f"List {list_id}", "is_public": False, "is_dynamic": False,
            "title": f"List {list_id}", "description": None, "is_crm_visible": False,
            "created_at": stamp, "updated_at": stamp}


class ListBook:
    """Lists created or changed through the API, over the configured ids. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset(iso_now())

    def reset(self, stamp: str) -> None:
        """Forget API-made changes; the configured lists are stamped ``stamp``."""
        self.changed: dict[int, dict[str, Any]] = {}
        self.created: set[int] = set()
        self.seeded_at = stamp

    def get(self, list_id: int, existing: frozenset[int]) -> dict[str, Any]:
        with self.lock:
            if list_id not in existing:
                raise OpError(55, "Invalid list ID")
            return dict(self.changed.get(list_id) or default_list(list_id, self.seeded_at))

    def all(self, existing: frozenset[int]) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(self.changed.get(i) or default_list(i, self.seeded_at))
                    for i in sorted(existing)]

    def create(self, values: dict[str, Any], existing: frozenset[int],
               stamp: str) -> dict[str, Any]:
        with self.lock:
            list_id = max(existing | self.created, default=0) + 1
            record = {**default_list(list_id, stamp), "name": None, "title": None, **values}
            self.changed[list_id] = record
            self.created.add(list_id)
            return dict(record)

    def is_dynamic(self, list_id: int) -> bool:
        with self.lock:
            return bool((self.changed.get(list_id) or {}).get("is_dynamic"))

    def update(self, list_id: int, values: dict[str, Any], existing: frozenset[int],
               stamp: str) -> dict[str, Any]:
        with self.lock:
            if list_id not in existing:
                raise OpError(55, "Invalid list ID")
            record = self.changed.get(list_id) or default_list(list_id, self.seeded_at)
            record.update(values)
            record["updated_at"] = stamp
            self.changed[list_id] = record
            return dict(record)
