"""The units prospect delivery works with: a row waiting for Pardot, one element of a
batch call, and the collector of v5 upserts' ids."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from target_pardot.pardot.responses import (
    CODE_CONFLICTING_UPDATE,
    CODE_UNABLE_TO_SAVE,
    row_error_code,
)
from target_pardot.rows.payloads import (
    QUOTED_COMMA_SIZE,
    ProspectRow,
    form_quoted_length,
    to_json,
)

_TRANSIENT_ROW_CODES = frozenset({CODE_UNABLE_TO_SAVE, CODE_CONFLICTING_UPDATE})
_TRANSIENT_ROW_MESSAGES = ("Unable to save the prospect", "Conflicting Update")


@dataclass
class PendingRow:
    """A row waiting for delivery, with what is needed to report it."""

    stream: str
    position: int
    record: dict[str, Any]
    row: ProspectRow
    #: Of the payload, for skip_unchanged; recorded once Pardot accepts the row.
    fingerprint: bytes | None = None


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


def is_transient_row_error(message: str) -> bool:
    return row_error_code(message) in _TRANSIENT_ROW_CODES or message.startswith(
        _TRANSIENT_ROW_MESSAGES
    )
