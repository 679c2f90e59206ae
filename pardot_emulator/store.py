"""The emulator's data: prospects, list memberships and imports, thread-safe.

One lock guards everything; each operation (a whole batch of up to 50 rows,
one v5 upsert, one import's processing) holds it once, so a batch is applied
atomically with respect to other requests and critical sections stay short.
Prospects are stored under v4 snake_case names (``fid`` as ``crm_fid``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .fields import STORE_FIELDS, is_custom
from .records import (
    IMPORT_ID_START,
    MEMBERSHIP_ID_START,
    PROSPECT_ID_START,
    ImportJob,
    OpError,
    RowPlan,
    iso_now,
    public_prospect,
)
from .store_memberships import Memberships


class Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: Membership operations over this store's tables, under its lock.
        self.members = Memberships(self)
        #: The frozen_time setting: every write is stamped with it when set.
        self.frozen_time: str | None = None
        #: Set by the App: is a list dynamic; count a write to one (_apply_lists).
        self.is_dynamic: Callable[[int], bool] = lambda list_id: False
        self.on_dynamic_write: Callable[[int], None] = lambda count: None
        self._init()

    def stamp(self) -> str:
        """The time a write happens now: the batch's, the frozen one, or the clock's."""
        return self._now or self.frozen_time or iso_now()

    def _init(self) -> None:
        self.prospects: dict[int, dict[str, Any]] = {}
        self.by_email: dict[str, list[int]] = {}
        self.by_fid: dict[str, list[int]] = {}
        self.memberships: dict[int, dict[str, Any]] = {}
        self.by_pair: dict[tuple[int, int], int] = {}
        self.imports: dict[int, ImportJob] = {}
        self.import_batches_total = 0
        self._next_prospect = PROSPECT_ID_START
        self._next_membership = MEMBERSHIP_ID_START
        self._next_import = IMPORT_ID_START
        self._last_activity = 0.0
        self._now = ""  # a batch's timestamp while it is applied (lock held)

    def reset(self) -> None:
        with self.lock:
            self._init()

    # ------------------------------------------------------------------ primitives
    # (callers hold self.lock)

    def _tick(self) -> float:
        now = time.time()
        if now <= self._last_activity:
            now = self._last_activity + 1e-6
        self._last_activity = now
        return now

    def _index(self, p: dict[str, Any]) -> None:
        if p.get("email") is not None:
            self.by_email.setdefault(p["email"], []).append(p["id"])
        if p.get("crm_fid") is not None:
            self.by_fid.setdefault(p["crm_fid"], []).append(p["id"])

    def _unindex(self, p: dict[str, Any]) -> None:
        for index, key in ((self.by_email, p.get("email")), (self.by_fid, p.get("crm_fid"))):
            if key is None:
                continue
            ids = index.get(key)
            if ids and p["id"] in ids:
                ids.remove(p["id"])
                if not ids:
                    del index[key]

    def _create(self, updates: dict[str, Any], *, deleted: bool = False,
                last_activity_at: float | None = None) -> dict[str, Any]:
        # The hottest code of a batch call: kept flat on purpose.
        pid = self._next_prospect
        self._next_prospect = pid + 1
        now = self.stamp()
        # Stored sparse (only the fields ever set); public_prospect() expands it.
        p: dict[str, Any] = dict(updates)
        p["id"] = pid
        p["deleted"] = deleted
        p["created_at"] = now
        p["updated_at"] = now
        if last_activity_at is None:
            p["last_activity_at"] = self._tick()
        else:
            p["last_activity_at"] = float(last_activity_at)
            self._last_activity = max(self._last_activity, float(last_activity_at))
        self.prospects[pid] = p
        email = p.get("email")
        if email is not None:
            ids = self.by_email.get(email)
            if ids is None:
                self.by_email[email] = [pid]
            else:
                ids.append(pid)
        if p.get("crm_fid") is not None:
            self.by_fid.setdefault(p["crm_fid"], []).append(pid)
        return p

    def _update(self, p: dict[str, Any], updates: dict[str, Any]) -> None:
        reindex = ("email" in updates and updates["email"] != p.get("email")) or (
            "crm_fid" in updates and updates["crm_fid"] != p.get("crm_fid"))
        if reindex:
            self._unindex(p)
        for k, v in updates.items():
            if k != "id":
                p[k] = v
        if reindex:
            self._index(p)
        p["updated_at"] = self.stamp()
        p["last_activity_at"] = self._tick()

    def _latest(self, ids: Iterable[int], *, deleted: bool) -> dict[str, Any] | None:
        best: dict[str, Any] | None = None
        for pid in ids:
            p = self.prospects[pid]
            if p["deleted"] != deleted:
                continue
            if best is None or p["last_activity_at"] > best["last_activity_at"]:
                best = p
        return best

    def _live(self, pid: int) -> dict[str, Any] | None:
        p = self.prospects.get(pid)
        if p is None or p["deleted"]:
            return None
        return p

    def _apply_lists(self, pid: int, adds: list[int], removes: list[int]) -> None:
        # The API cannot change a dynamic list (Pardot's answer is unknown): counted only.
        dynamic = [i for i in (*adds, *removes) if self.is_dynamic(i)]
        if dynamic:
            self.on_dynamic_write(len(dynamic))
            adds = [i for i in adds if i not in dynamic]
            removes = [i for i in removes if i not in dynamic]
        for list_id in adds:
            if (list_id, pid) not in self.by_pair:
                self._add_membership(list_id, pid, False)
        for list_id in removes:
            mid = self.by_pair.get((list_id, pid))
            if mid is not None:
                self._delete_membership(mid)

    def _add_membership(self, list_id: int, pid: int, opted_out: bool) -> dict[str, Any]:
        mid = self._next_membership
        self._next_membership += 1
        now = self.stamp()
        m = {"id": mid, "list_id": list_id, "prospect_id": pid, "opted_out": opted_out,
             "created_at": now, "updated_at": now}
        self.memberships[mid] = m
        self.by_pair[(list_id, pid)] = mid
        return m

    def _delete_membership(self, mid: int) -> None:
        m = self.memberships.pop(mid)
        self.by_pair.pop((m["list_id"], m["prospect_id"]), None)

    # ------------------------------------------------------------------ seeding / views

    def add_prospect(self, values: dict[str, Any], *, deleted: bool = False,
                     last_activity_at: float | None = None) -> int:
        for k in values:
            if k not in STORE_FIELDS and not is_custom(k):
                raise ValueError(f"unknown prospect field {k!r} (use v4 snake_case names; "
                                 "fid is 'crm_fid'; custom fields end in '__c')")
        with self.lock:
            return self._create(values, deleted=deleted, last_activity_at=last_activity_at)["id"]

    def edit_prospect(self, pid: int, values: dict[str, Any]) -> dict[str, Any]:
        """Change fields as a Pardot user would in the UI (updates updated_at)."""
        for k in values:
            if k == "id" or (k not in STORE_FIELDS and not is_custom(k)):
                raise ValueError(f"unknown or read-only prospect field {k!r}")
        with self.lock:
            p = self._live(pid)
            if p is None:
                raise ValueError(f"no live prospect with id {pid}")
            self._update(p, values)
            return public_prospect(p)

    def delete_prospect(self, pid: int) -> None:
        """Move a prospect to the recycle bin, as deleting it in Pardot does."""
        with self.lock:
            p = self._live(pid)
            if p is None:
                raise ValueError(f"no live prospect with id {pid}")
            p["deleted"] = True
            p["updated_at"] = iso_now()

    def prospect_list(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            return [public_prospect(p) for p in self.prospects.values()
                    if include_deleted or not p["deleted"]]

    def import_list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [j.public() for j in self.imports.values()]

    # ------------------------------------------------------------------ v4 prospects

    def apply_v4(self, plans: list[RowPlan | OpError], op: str, ampsea: bool
                 ) -> tuple[dict[str, str], int, int]:
        """Apply validated v4 rows. op: upsert, update or create.

        Returns (errors keyed by 0-based index string, created, updated)."""
        errors: dict[str, str] = {}
        with self.lock:
            self._now = self.frozen_time or iso_now()
            try:
                created, updated = self._apply_plans(plans, op, ampsea, errors)
            finally:
                self._now = ""
        return errors, created, updated

    def _apply_plans(self, plans: list[RowPlan | OpError], op: str, ampsea: bool,
                     errors: dict[str, str]) -> tuple[int, int]:
        created = updated = 0
        for idx, plan in enumerate(plans):
            if isinstance(plan, OpError):
                errors[str(idx)] = plan.message
                continue
            try:
                was_created = self._apply_v4_row_with_target(plan, op, ampsea)[0]
            except OpError as exc:
                errors[str(idx)] = exc.message
                continue
            if was_created:
                created += 1
            else:
                updated += 1
        return created, updated

    def apply_v4_single(self, plan: RowPlan, op: str, ampsea: bool
                        ) -> tuple[bool, dict[str, Any]]:
        with self.lock:
            was_created, p = self._apply_v4_row_with_target(plan, op, ampsea)
            return was_created, public_prospect(p)

    def _apply_v4_row_with_target(self, plan: RowPlan, op: str, ampsea: bool
                                  ) -> tuple[bool, dict[str, Any]]:
        target = self._match_v4(plan, op, ampsea)
        if target is None:
            updates = plan.updates
            if plan.fid is not None:
                updates = {**updates, "crm_fid": plan.fid}
            p = self._create(updates)
            if plan.list_adds or plan.list_removes:
                self._apply_lists(p["id"], plan.list_adds, plan.list_removes)
            return True, p
        updates = plan.updates
        if plan.fid is not None and target.get("crm_fid") is None:
            updates = {**updates, "crm_fid": plan.fid}
        self._update(target, updates)
        if plan.list_adds or plan.list_removes:
            self._apply_lists(target["id"], plan.list_adds, plan.list_removes)
        return False, target

    def _match_v4(self, plan: RowPlan, op: str, ampsea: bool) -> dict[str, Any] | None:
        """The prospect a v4 row updates, or None to create one. Raises OpError."""
        has_email = plan.updates.get("email") is not None
        if op == "create":
            if not has_email:
                raise OpError(4, "Invalid prospect email address")
            return None
        # v4 upsert by id or fid: "If the matching prospect is archived, it will be
        # unarchived, and then have the updates applied to it" (v4 prospects.md).
        restores = op == "upsert" and ampsea
        if plan.id is not None:
            p = self._live(plan.id)
            if p is None and restores:
                p = _restored(self.prospects.get(plan.id))
            if p is not None:
                if plan.fid is not None and p.get("crm_fid") not in (None, plan.fid):
                    raise OpError(81, "Prospect ID and FID do not match")
                return p
            if op == "update":
                raise OpError(3, "Invalid prospect ID")
            if has_email:
                return None
            raise OpError(14, "Non-existent prospect ID; No email address provided")
        if plan.fid is not None:
            p = self._latest(self.by_fid.get(plan.fid, ()), deleted=False)
            if p is None and restores:
                p = _restored(self._latest(self.by_fid.get(plan.fid, ()), deleted=True))
            if p is not None:
                return p
            if op == "update" or not has_email:
                raise OpError(77, "Invalid prospect fid")
            return None
        if op == "update":
            raise OpError(3, "Invalid prospect ID")
        if not has_email:
            raise OpError(14, "Non-existent prospect ID; No email address provided")
        if ampsea:
            return None
        return self._latest(self.by_email.get(plan.updates["email"], ()), deleted=False)

    # ------------------------------------------------------------------ v5 prospects

    def upsert_latest_by_email(self, match_email: str, updates: dict[str, Any],
                               secondary_deleted: bool) -> tuple[bool, dict[str, Any]]:
        with self.lock:
            ids = self.by_email.get(match_email, ())
            p = self._latest(ids, deleted=False)
            if p is None and secondary_deleted:
                p = self._latest(ids, deleted=True)
                if p is not None:
                    p["deleted"] = False
            if p is None:
                values = dict(updates)
                if values.get("email") is None:
                    values["email"] = match_email
                return True, public_prospect(self._create(values))
            self._update(p, updates)
            return False, public_prospect(p)

    # ------------------------------------------------------------------ imports

    def register_import_locked(self, job: ImportJob) -> None:
        """Give a validated import its id and keep it (caller holds the lock)."""
        job.id = self._next_import
        self._next_import += 1
        self.imports[job.id] = job

    def import_get(self, import_id: int) -> ImportJob:
        job = self.imports.get(import_id)
        if job is None:
            raise OpError(192, "Object specified does not exist")
        return job

    def import_snapshot(self, import_id: int) -> dict[str, Any]:
        with self.lock:
            return self.import_get(import_id).public()

    def import_match_and_write(self, job: ImportJob, kind: str | None, value: Any,
                               updates: dict[str, Any], adds: list[int] = (),  # type: ignore[assignment]
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

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "prospects": [public_prospect(p) for p in self.prospects.values()],
                "memberships": [{"id": m["id"], "list_id": m["list_id"],
                                 "prospect_id": m["prospect_id"], "opted_out": m["opted_out"]}
                                for m in self.memberships.values()],
                "imports": [j.public() for j in self.imports.values()],
            }


def _restored(p: dict[str, Any] | None) -> dict[str, Any] | None:
    """The prospect taken out of the recycle bin (None stays None)."""
    if p is not None:
        p["deleted"] = False
    return p
