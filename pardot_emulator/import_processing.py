"""What a completed v5 import does to the store: each row's match column, list columns and
field cells, decided per column once per import, then applied row by row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import customfields
from .fields import V5_TO_STORE, FieldValueError, coerce_int, csv_value, valid_email
from .records import ImportJob, OpError, iso_now

if TYPE_CHECKING:
    from .account import Account

MAX_LISTS_PER_ROW = 20
MATCH_COLUMNS = {"matchid": "id", "matchsalesforceid": "salesforceId", "matchemail": "email"}


def _list_ids(app: Account, cell: str) -> list[int]:
    separator = app.settings.import_list_separator
    ids: list[int] = []
    for part in cell.split(separator):
        part = part.strip()
        if not part:
            continue
        list_id = coerce_int(part)
        if list_id is None or list_id not in app.settings.lists:
            raise OpError(55, "Invalid list ID")
        ids.append(list_id)
    if len(ids) > MAX_LISTS_PER_ROW:
        raise OpError(55, f"At most {MAX_LISTS_PER_ROW} lists per record")
    return ids


#: Roles of an import column, decided once per import (not per row).
_MATCH, _ADD, _REMOVE, _STANDARD, _CUSTOM = range(5)


def _column_plan(app: Account, header: list[str]) -> list[tuple[str, int, str]]:
    """(column, role, store name) for every column of an import's header."""
    plan = []
    for col in header:
        lowered = col.lower()
        if lowered in MATCH_COLUMNS:
            plan.append((col, _MATCH, ""))
        elif lowered == "addtolist":
            plan.append((col, _ADD, ""))
        elif lowered == "removefromlist":
            plan.append((col, _REMOVE, ""))
        elif col in V5_TO_STORE:
            plan.append((col, _STANDARD, V5_TO_STORE[col]))
        else:
            plan.append((col, _CUSTOM, customfields.store_key_v5(app, col) or col))
    return plan


def _row_plan(app: Account, row: dict[str, str], match_column: str | None,
              columns: list[tuple[str, int, str]], clearing: frozenset[str] = frozenset()
              ) -> tuple[str | None, Any, dict[str, Any], list[int], list[int]]:
    kind: str | None = None
    value: Any = None
    if match_column is not None and row.get(match_column, "") != "":
        kind, value = MATCH_COLUMNS[match_column.lower()], row[match_column]
    if kind == "id":
        value = coerce_int(str(value).strip())
        if value is None:
            raise OpError(3, "Invalid prospect ID")
    updates: dict[str, Any] = {}
    adds: list[int] = []
    removes: list[int] = []
    for col, role, store in columns:
        cell = row[col]
        if role == _ADD:
            adds = _list_ids(app, cell)
        elif role == _REMOVE:
            removes = _list_ids(app, cell)
        elif role == _MATCH:
            continue
        elif not cell.strip():
            # nullOverwrite (default false): a blank cell clears the field or is ignored.
            if col.lower() in clearing:
                updates[store] = None
            continue
        elif role == _STANDARD:
            try:
                updates[store] = csv_value(store, cell)
            except FieldValueError as exc:
                raise OpError(exc.code, exc.message) from None
        else:
            updates[store] = cell
    if kind == "email" and not valid_email(value):
        raise OpError(4, "Invalid prospect email address")
    if "email" in updates and not valid_email(updates["email"]):
        raise OpError(4, "Invalid prospect email address")
    return kind, value, updates, adds, removes


def process_import(app: Account, job: ImportJob) -> None:
    """Apply every row (caller holds the store lock). Failed rows go to job.errors."""
    header = job.header or []
    match_column = next((c for c in header if c.lower() in MATCH_COLUMNS), None)
    columns = _column_plan(app, header)
    created = updated = 0
    for rows in job.batches:
        for row in rows:
            try:
                kind, value, updates, adds, removes = _row_plan(
                    app, row, match_column, columns, job.null_overwrite
                )
                if app.store.import_match_and_write(job, kind, value, updates, adds, removes):
                    created += 1
                else:
                    updated += 1
            except OpError as exc:
                job.errors.append((row, exc.message))
    job.created_count = created
    job.updated_count = updated
    job.error_count = len(job.errors)
    job.state = "Complete"
    job.updated_at = iso_now()
    app.counters.rows(created, updated, len(job.errors))
