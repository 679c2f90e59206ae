"""The emulator's record types: operation errors, planned v4 rows, import jobs, and the
public shape of a stored prospect."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .fields import STORE_FIELDS

PROSPECT_ID_START = 100_001
MEMBERSHIP_ID_START = 500_001
IMPORT_ID_START = 1



_iso_cache: tuple[int, str] = (0, "")


def iso_now() -> str:
    """UTC timestamp with milliseconds, cached per millisecond (strftime is slow)."""
    global _iso_cache  # noqa: PLW0603 - racing writers store the same value
    now = time.time()
    ms = int(now * 1000)
    if _iso_cache[0] != ms:
        stamp = datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
        _iso_cache = (ms, stamp[:-3] + "Z")
    return _iso_cache[1]


class OpError(Exception):
    """An operation Pardot refuses: ``code`` and ``message`` from its error table."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RowPlan:
    """One validated write: how to find the prospect and what to change.

    A plain slotted class: one is built per row, so it must be cheap."""

    __slots__ = ("fid", "id", "list_adds", "list_removes", "updates")

    def __init__(self) -> None:
        self.id: int | None = None
        self.fid: str | None = None
        self.updates: dict[str, Any] = {}  # store names
        self.list_adds: list[int] = []
        self.list_removes: list[int] = []


@dataclass
class ImportJob:
    id: int
    operation: str
    object: str
    create_on_no_match: bool
    restore_deleted: bool
    state: str = "Open"
    header: list[str] | None = None
    batches: list[list[dict[str, str]]] = field(default_factory=list)
    polls_left: int = 0
    created_count: int = 0
    updated_count: int = 0
    error_count: int = 0
    errors: list[tuple[dict[str, str], str]] = field(default_factory=list)
    #: Columns (lowercased) created with the option nullOverwrite: true.
    null_overwrite: frozenset[str] = frozenset()
    created_at: str = field(default_factory=iso_now)
    updated_at: str = field(default_factory=iso_now)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "status": self.state,
            "createOnNoMatch": self.create_on_no_match,
            "restoreDeleted": self.restore_deleted,
            "batchCount": len(self.batches),
            "rowCount": sum(len(b) for b in self.batches),
            "createdCount": self.created_count,
            "updatedCount": self.updated_count,
            "errorCount": self.error_count,
            "isExpired": False,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


_META_ORDER = ("deleted", "created_at", "updated_at", "last_activity_at")


def public_prospect(p: dict[str, Any]) -> dict[str, Any]:
    """A stored prospect with every standard field (None when unset), custom
    fields, then the metadata: the shape PardotEmulator.prospects() returns."""
    out: dict[str, Any] = {"id": p["id"]}
    for name in STORE_FIELDS:
        if name != "id":
            out[name] = p.get(name)
    for key, value in p.items():
        if key not in out and key not in _META_ORDER:
            out[key] = value
    for key in _META_ORDER:
        out[key] = p[key]
    return out
