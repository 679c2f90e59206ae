"""The pieces a prospect delivery moves around: a pending prospect row, one element of a
v3/v4 batch, and the collector that hands v5-upserted ids on for their list flags."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from target_pardot.rows.payloads import (
    QUOTED_COMMA_SIZE,
    ProspectRow,
    form_quoted_length,
    to_json,
)
from target_pardot.run.collaborators import ProspectLists
from target_pardot.run.ledger import prospect_ledger_key
from target_pardot.run.plan import Lane
from target_pardot.sinks.base import Pending

#: A prospect row on its way.
PendingRow = Pending[ProspectRow]


@dataclass
class BatchItem:
    """One element of a v4 batch: its JSON, and the bytes it adds to the urlencoded body."""

    pending: PendingRow
    element: dict[str, Any]
    text: str
    size: int
    attempts: int = 0
    #: Only sets the lists of a row already sent (through v5): not a row sent again.
    lists_only: bool = False
    #: The id the identity map gave an email-only row (sent by batchUpdate).
    mapped_id: int | None = None
    #: The path the planner chose for the row (run/plan.py).
    lane: Lane = Lane.BATCH

    @classmethod
    def of(cls, pending: PendingRow, element: dict[str, Any], text: str = "") -> BatchItem:
        text = text or to_json(element)
        return cls(pending, element, text, form_quoted_length(text) + QUOTED_COMMA_SIZE)


class Upserted:
    """The prospect ids of one hand-over's v5 rows. The last upsert to finish passes
    them on (for their list flags), so no thread waits for the others."""

    def __init__(self, expected: int, then: Callable[[list[tuple[PendingRow, int]]], None]):
        self._expected = expected
        self._then = then
        self._items: list[tuple[PendingRow, int]] = []
        self._lock = threading.Lock()

    def add(self, pending: PendingRow, prospect_id: int | None) -> None:
        with self._lock:
            if prospect_id is not None:
                self._items.append((pending, prospect_id))
            self._expected -= 1
            finished = self._expected == 0
        if finished and self._items:
            self._then(self._items)


def prospect_list_flags(lists: ProspectLists | None) -> dict[str, int]:
    """The list flags (``prospect_lists``, names resolved to ids) that every prospect of
    the run carries, on every path: batch elements, the calls after a v5 upsert, an
    import's list column. The skip_unchanged fingerprint of a row covers them wherever
    the row goes."""
    return lists.flags() if lists is not None else {}


def prospect_key_of(pending: PendingRow) -> str:
    """The row's key in the skip_unchanged ledger."""
    return prospect_ledger_key(pending.row.key)


def rows_of_item(item: BatchItem) -> tuple[PendingRow]:
    return (item.pending,)


def is_email_only(item: BatchItem) -> bool:
    """An email-only row tried in a v3 batch while the version was not known (not
    lists-only, not mapped): on a v4 account it is planned again."""
    return item.lane == Lane.EMAIL_BATCH and not item.lists_only and item.mapped_id is None
