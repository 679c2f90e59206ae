"""Import CSV rows: field values as cells, and the errors CSV matched back to sent lines.

Pure: no I/O. The bulk import delivery (sinks/bulk_import.py) writes rows with these and
reads Pardot's errors CSV with :class:`ErrorRows`.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from typing import Any

from target_pardot.rows.payloads import to_json

#: Match columns, in the order Pardot tries them (v4 names).
MATCH_KEYS = ("id", "fid", "email")


def csv_cell(value: Any) -> Any:
    """A field value as a CSV cell; csv writes str and int as they are, None as ''."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return to_json(value)
    return value


class CsvLines:
    """A file for csv.writer that keeps each written row as one string."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write = self.lines.append


class ErrorRows:
    """The errors CSV of an import, matched back to the lines that were sent, cell by
    cell. The match key (id, salesforceId or email) is only a quick pre-check, so that
    only lines whose key failed are parsed again."""

    def __init__(self, header: Sequence[str], rows: list[list[str]]) -> None:
        lowered = [name.lower() for name in header]
        message_at = next((i for i, name in enumerate(lowered) if "error" in name), len(header) - 1)
        self._columns = [i for i in range(len(header)) if i != message_at]
        self._key_at = {
            name: header.index(column)
            for name, column in (("id", "id"), ("fid", "salesforceId"), ("email", "email"))
            if column in header
        }
        self._by_cells: dict[tuple[str, ...], deque[str]] = defaultdict(deque)
        self._by_key: Counter[str] = Counter()
        for row in rows:
            if len(row) != len(header):
                continue
            cells = tuple(row[i] for i in self._columns)
            self._by_cells[cells].append(row[message_at])
            self._by_key[self._key_of(row)] += 1
        self._pending = sum(len(q) for q in self._by_cells.values())

    def _key_of(self, row: Sequence[str]) -> str:
        for name in MATCH_KEYS:
            at = self._key_at.get(name)
            if at is not None and row[at] != "":
                return f"{name}={row[at]}"
        return ""

    def take(self, line: str, key: str) -> str | None:
        """The error message for this sent line, if Pardot listed it."""
        if not self._pending or not self._by_key.get(key):
            return None
        cells = tuple(next(csv.reader([line])))
        messages = self._by_cells.get(cells)
        if not messages:
            return None
        self._pending -= 1
        self._by_key[key] -= 1
        return messages.popleft()

    def leftover(self) -> list[tuple[tuple[str, ...], str]]:
        return [(cells, message) for cells, queue in self._by_cells.items() for message in queue]
