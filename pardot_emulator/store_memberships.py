"""List-membership operations of the emulator's store, kept apart from prospects and
imports. Each takes the store's one lock, as every store operation does."""

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


class MembershipOperations:
    """Mixed into Store: create, find, read, update, delete and query memberships."""

    def add_membership(self: StoreCore, list_id: int, prospect_id: int,
                       opted_out: bool = False) -> int:
        with self.lock:
            if prospect_id not in self.prospects:
                raise ValueError(f"no prospect with id {prospect_id}")
            if (list_id, prospect_id) in self.by_pair:
                raise ValueError(f"prospect {prospect_id} is already a member of list {list_id}")
            return self._add_membership(list_id, prospect_id, opted_out)["id"]

    def membership_list(self: StoreCore) -> list[dict[str, Any]]:
        with self.lock:
            return [{"id": m["id"], "list_id": m["list_id"], "prospect_id": m["prospect_id"],
                     "opted_out": m["opted_out"]} for m in self.memberships.values()]

    def membership_create(self: StoreCore, list_id: int, prospect_id: int, opted_out: bool,
                          lists: frozenset[int]) -> dict[str, Any]:
        with self.lock:
            if list_id not in lists:
                raise OpError(55, "Invalid list ID")
            if self._live(prospect_id) is None:
                raise OpError(3, "Invalid prospect ID")
            if (list_id, prospect_id) in self.by_pair:
                raise OpError(58, "That prospect is already a member of that list. "
                                  "Update the membership instead.")
            return dict(self._add_membership(list_id, prospect_id, opted_out))

    def membership_find(self: StoreCore, list_id: int, prospect_id: int,
                        lists: frozenset[int]) -> int:
        """The membership id for a (list, prospect) pair. Caller holds no lock."""
        with self.lock:
            if list_id not in lists:
                raise OpError(55, "Invalid list ID")
            if self._live(prospect_id) is None:
                raise OpError(3, "Invalid prospect ID")
            mid = self.by_pair.get((list_id, prospect_id))
            if mid is None:
                raise OpError(109, "The requested record was not found.")
            return mid

    def membership_get(self: StoreCore, mid: int) -> dict[str, Any]:
        with self.lock:
            m = self.memberships.get(mid)
            if m is None:
                raise OpError(109, "The requested record was not found.")
            return dict(m)

    def membership_update(self: StoreCore, mid: int, opted_out: bool | None) -> dict[str, Any]:
        with self.lock:
            m = self.memberships.get(mid)
            if m is None:
                raise OpError(109, "The requested record was not found.")
            if opted_out is not None:
                m["opted_out"] = opted_out
            m["updated_at"] = self.stamp()
            return dict(m)

    def membership_delete(self: StoreCore, mid: int) -> None:
        with self.lock:
            if mid not in self.memberships:
                raise OpError(109, "The requested record was not found.")
            self._delete_membership(mid)

    def membership_query(self: StoreCore, list_id: int | None, prospect_id: int | None
                         ) -> list[dict[str, Any]]:
        with self.lock:
            out = [dict(m) for m in self.memberships.values()
                   if (list_id is None or m["list_id"] == list_id)
                   and (prospect_id is None or m["prospect_id"] == prospect_id)]
        out.sort(key=lambda m: m["id"])
        return out
