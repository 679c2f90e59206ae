"""Import operations of the emulator's store: keeping import jobs, and matching and
writing one import row. Kept apart from the v3/v4/v5 prospect paths; they share the
store's lock, tables and primitives."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Protocol

from .records import ImportJob, OpError


class ImportStoreCore(Protocol):
    """What these operations need of the store (its lock, tables and primitives)."""

    lock: threading.Lock
    prospects: dict[int, dict[str, Any]]
    by_email: dict[str, list[int]]
    by_fid: dict[str, list[int]]
    imports: dict[int, ImportJob]
    _next_import: int

    def _latest(self, ids: Iterable[int], *, deleted: bool) -> dict[str, Any] | None: ...
    def _create(self, updates: dict[str, Any], *, deleted: bool = False,
                last_activity_at: float | None = None) -> dict[str, Any]: ...
    def _update(self, p: dict[str, Any], updates: dict[str, Any]) -> None: ...
    def _apply_lists(self, pid: int, adds: list[int], removes: list[int]) -> None: ...
    def import_get(self, import_id: int) -> ImportJob: ...


class ImportOperations:
    """Mixed into Store: register, find and list imports, and write one import row."""

    def import_list(self: ImportStoreCore) -> list[dict[str, Any]]:
        with self.lock:
            return [j.public() for j in self.imports.values()]

    def register_import_locked(self: ImportStoreCore, job: ImportJob) -> None:
        """Give a validated import its id and keep it (caller holds the lock)."""
        job.id = self._next_import
        self._next_import += 1
        self.imports[job.id] = job

    def import_get(self: ImportStoreCore, import_id: int) -> ImportJob:
        job = self.imports.get(import_id)
        if job is None:
            raise OpError(192, "Object specified does not exist")
        return job

    def import_snapshot(self: ImportStoreCore, import_id: int) -> dict[str, Any]:
        with self.lock:
            return self.import_get(import_id).public()

    def import_match_and_write(self: ImportStoreCore, job: ImportJob, kind: str | None,
                               value: Any, updates: dict[str, Any], adds: list[int] = (),  # type: ignore[assignment]
                               removes: list[int] = ()) -> bool:  # type: ignore[assignment]
        """Upsert one import row (caller holds the lock). Returns True if created.

        With a match column, a row updates the prospect it matches and creates one only
        with createOnNoMatch; without one every row creates (Pardot's MODE_NO_MATCHING).
        A created prospect needs an email and a campaign."""
        p: dict[str, Any] | None = None
        if kind == "id":
            p = self.prospects.get(value)
            if p is not None and p["deleted"] and not job.restore_deleted:
                p = None
        elif kind == "salesforceId":
            ids = self.by_fid.get(value, ())
            p = self._latest(ids, deleted=False)
            if p is None and job.restore_deleted:
                p = self._latest(ids, deleted=True)
        elif kind == "email":
            ids = self.by_email.get(value, ())
            p = self._latest(ids, deleted=False)
            if p is None and job.restore_deleted:
                p = self._latest(ids, deleted=True)
        created = p is None
        if p is None:
            if kind is not None and not job.create_on_no_match:
                raise OpError(109, "The requested record was not found.")
            values = dict(updates)
            if kind == "salesforceId":
                values.setdefault("crm_fid", value)
            if kind == "email":
                values.setdefault("email", value)
            if values.get("email") is None:
                raise OpError(4, "Invalid prospect email address")
            if values.get("campaign_id") is None:
                raise OpError(38, "Invalid campaign ID")
            p = self._create(values)
        else:
            if p["deleted"]:
                p["deleted"] = False
            self._update(p, updates)
        if adds or removes:
            self._apply_lists(p["id"], list(adds), list(removes))
        return created
