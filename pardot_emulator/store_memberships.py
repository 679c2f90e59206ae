"""List-membership operations of the emulator's store, kept apart from prospects and
imports: the store holds one :class:`Memberships` as ``store.members``. Each operation
takes the store's one lock, as every store operation does."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from .records import OpError


class StoreCore(Protocol):
    """What these operations need of the store (its lock, tables and primitives)."""

    lock: threading.Lock
    prospects: dict[int, dict[str, Any]]
    memberships: dict[int, dict[str, Any]]
    by_pair: dict[tuple[int, int], int]

    def stamp(self) -> str: ...
    def _live(self, pid: int) -> dict[str, Any] | None: ...
    def _add_membership(self, list_id: int, pid: int, opted_out: bool) -> dict[str, Any]: ...
    def _delete_membership(self, mid: int) -> None: ...


class Memberships:
    """Create, find, read, update, delete and query the memberships of ``store``."""

    def __init__(self, store: StoreCore) -> None:
        self._store = store

    def add(self, list_id: int, prospect_id: int, opted_out: bool = False) -> int:
        store = self._store
        with store.lock:
            if prospect_id not in store.prospects:
                raise ValueError(f"no prospect with id {prospect_id}")
            if (list_id, prospect_id) in store.by_pair:
                raise ValueError(f"prospect {prospect_id} is already a member of list {list_id}")
            return store._add_membership(list_id, prospect_id, opted_out)["id"]

    def rows(self) -> list[dict[str, Any]]:
        store = self._store
        with store.lock:
            return [{"id": m["id"], "list_id": m["list_id"], "prospect_id": m["prospect_id"],
                     "opted_out": m["opted_out"]} for m in store.memberships.values()]

    def create(self, list_id: int, prospect_id: int, opted_out: bool,
               lists: frozenset[int]) -> dict[str, Any]:
        store = self._store
        with store.lock:
            if list_id not in lists:
                raise OpError(55, "Invalid list ID")
            if store._live(prospect_id) is None:
                raise OpError(3, "Invalid prospect ID")
            if (list_id, prospect_id) in store.by_pair:
                raise OpError(58, "That prospect is already a member of that list. "
                                  "Update the membership instead.")
            return dict(store._add_membership(list_id, prospect_id, opted_out))

    def find(self, list_id: int, prospect_id: int, lists: frozenset[int]) -> int:
        """The membership id for a (list, prospect) pair. Caller holds no lock."""
        store = self._store
        with store.lock:
            if list_id not in lists:
                raise OpError(55, "Invalid list ID")
            if store._live(prospect_id) is None:
                raise OpError(3, "Invalid prospect ID")
            mid = store.by_pair.get((list_id, prospect_id))
            if mid is None:
                raise OpError(109, "The requested record was not found.")
            return mid

    def get(self, mid: int) -> dict[str, Any]:
        store = self._store
        with store.lock:
            m = store.memberships.get(mid)
            if m is None:
                raise OpError(109, "The requested record was not found.")
            return dict(m)

    def update(self, mid: int, opted_out: bool | None) -> dict[str, Any]:
        store = self._store
        with store.lock:
            m = store.memberships.get(mid)
            if m is None:
                raise OpError(109, "The requested record was not found.")
            if opted_out is not None:
                m["opted_out"] = opted_out
            m["updated_at"] = store.stamp()
            return dict(m)

    def delete(self, mid: int) -> None:
        store = self._store
        with store.lock:
            if mid not in store.memberships:
                raise OpError(109, "The requested record was not found.")
            store._delete_membership(mid)

    def query(self, list_id: int | None, prospect_id: int | None) -> list[dict[str, Any]]:
        store = self._store
        with store.lock:
            out = [dict(m) for m in store.memberships.values()
                   if (list_id is None or m["list_id"] == list_id)
                   and (prospect_id is None or m["prospect_id"] == prospect_id)]
        out.sort(key=lambda m: m["id"])
        return out
