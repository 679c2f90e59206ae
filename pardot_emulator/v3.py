"""Pardot API v3, for accounts with AMPSEA off, and the errors that keep each account
kind on its own version.

- A v4 call on an account without AMPSEA gets error 89, a v3 call on an AMPSEA account
  error 88 (pardot/api-docs docs/kb/error-codes-messages.md).
- v3 batch calls take `{"prospects": {"<id or email>": {fields}}}` and key their per-row
  errors by that identifier (docs/kb/api-version-3/prospects.md, "Endpoints for Batch
  Processing"). Email identifies a prospect, so an email-only row updates the prospect
  with that email, or creates it.
- Whether v3 matches emails case-sensitively is not documented: the setting
  `v3_email_case_insensitive` chooses.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import customfields, v4
from .records import OpError, RowPlan, iso_now
from .store import Store
from .wire import Reply

if TYPE_CHECKING:
    from .account import Account
    from .request import Incoming

MSG_88 = "Your account must use version 4 of the API."
MSG_89 = "Your account is unable to use version 4 of the API."
MAX_BATCH_ROWS = 50


def version_refusal(version: str, ampsea: bool) -> tuple[int, str] | None:
    """The error a v3/v4 call gets for the account kind, or None when it may go on."""
    if version == "4" and not ampsea:
        return 89, MSG_89
    if version == "3" and ampsea:
        return 88, MSG_88
    return None


def batch(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    """A v3 batchUpsert, batchUpdate or batchCreate."""
    op = v4.BATCH_OPS[m.group(2)]
    data = v4.batch_data(app, req)
    if isinstance(data, Reply):
        return data
    rows = data.get("prospects") if isinstance(data, dict) else None
    if not isinstance(rows, dict):
        return v4.error(app, req, 71, "Input needs to be valid JSON or XML")
    if len(rows) > MAX_BATCH_ROWS:
        return v4.error(app, req, 70, "Batch processing is limited to 50 prospects at once.")
    lists = app.settings.lists
    custom = customfields.v4_names(app)  # v3 names custom fields like v4: by field_id
    entries = [
        (str(key), *_plan(str(key), fields, lists, custom)) for key, fields in rows.items()
    ]
    errors, created, updated = apply(
        app.store, entries, op, case_insensitive=app.settings.v3_email_case_insensitive
    )
    app.counters.rows(created, updated, len(errors))
    body = {"@attributes": {"stat": "fail" if errors else "ok", "version": 1}, "errors": errors}
    return v4.reply(req, 201 if created else 200, body)


def _plan(identifier: str, fields: Any, lists: frozenset[int], custom: dict[str, str]
          ) -> tuple[RowPlan | OpError, str | None]:
    """The row's plan, and the email it is matched by (None when keyed by id)."""
    if not isinstance(fields, dict):
        return OpError(90, "Prospect array should be a flat array of attributes"), None
    if "fid" in fields:
        return v4.invalid_field("fid"), None  # fid came with v4
    row = dict(fields)
    match_email = None
    if identifier.isdigit():
        row["id"] = identifier
    else:
        row["email"] = match_email = identifier
    return v4.parse_row(row, lists, custom), match_email


def apply(store: Store, entries: list[tuple[str, RowPlan | OpError, str | None]], op: str,
          *, case_insensitive: bool) -> tuple[dict[str, str], int, int]:
    """Apply v3 rows: (errors keyed by identifier, created, updated)."""
    errors: dict[str, str] = {}
    created = updated = 0
    with store.lock:
        store._now = iso_now()
        folded = _folded_index(store) if case_insensitive else None
        try:
            for identifier, plan, match_email in entries:
                if isinstance(plan, OpError):
                    errors[identifier] = plan.message
                    continue
                try:
                    target = _match(store, plan, match_email, op, folded)
                except OpError as exc:
                    errors[identifier] = exc.message
                    continue
                if target is None:
                    p = store._create(plan.updates)
                    if folded is not None:
                        folded.setdefault(str(p["email"]).lower(), []).append(p["id"])
                    created += 1
                else:
                    updates = plan.updates
                    if match_email is not None:  # matched by email: its stored form stays
                        updates = {k: v for k, v in updates.items() if k != "email"}
                    store._update(target, updates)
                    p = target
                    updated += 1
                if plan.list_adds or plan.list_removes:
                    store._apply_lists(p["id"], plan.list_adds, plan.list_removes)
        finally:
            store._now = ""
    return errors, created, updated


def _folded_index(store: Store) -> dict[str, list[int]]:
    """Prospect ids by lowercased email, built once per call."""
    index: dict[str, list[int]] = {}
    for email, ids in store.by_email.items():
        index.setdefault(email.lower(), []).extend(ids)
    return index


def _match(store: Store, plan: RowPlan, match_email: str | None, op: str,
           folded: dict[str, list[int]] | None) -> dict[str, Any] | None:
    """The prospect a v3 row updates, or None to create one. Raises OpError."""
    if plan.id is not None:
        p = store._live(plan.id)
        if p is not None:
            return p
        if op == "update":
            raise OpError(3, "Invalid prospect ID")
        # "If a prospect with the provided ID is not found, Pardot searches for a
        # prospect identified by <email>" (v3 upsert by id).
        match_email = plan.updates.get("email")
        if match_email is None:
            raise OpError(14, "Non-existent prospect ID; No email address provided")
    assert match_email is not None
    ids = folded.get(match_email.lower(), ()) if folded is not None else store.by_email.get(
        match_email, ())
    p = store._latest(ids, deleted=False)
    if p is None and op == "update":
        raise OpError(4, "Invalid prospect email address")
    if p is not None and op == "create":
        raise OpError(9, "A prospect with the specified email address already exists")
    return p
