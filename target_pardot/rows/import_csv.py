"""Import CSV files, pure: which columns an import carries, field values as cells, and the
errors CSV matched back to the lines that were sent.

The bulk import delivery (sinks/bulk_import.py) writes its lines with these and reads
Pardot's errors file with :class:`ErrorRows`. No I/O here.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from target_pardot.errors import ConfigError
from target_pardot.rows.fields import FieldNames
from target_pardot.rows.payloads import to_json

#: Key kind (v4 name) -> the import's match column. One kind per import: Pardot refuses
#: a header with two match columns (docs/wire-contract.md, C3).
MATCH_COLUMNS = {"id": "matchId", "fid": "matchSalesforceId", "email": "matchEmail"}
KEY_KINDS = tuple(MATCH_COLUMNS)
#: Fields Pardot refuses as import columns (C2), by their v4 names. The key itself
#: travels in the match column, so ``fid`` is not repeated in the fid lane either.
IMPORT_REFUSED_FIELDS = frozenset(
    {
        "id",
        "opted_out",
        "subscribe",
        "unsubscribe",
        "pardot_hard_bounced",
        "email_bounced_reason",
        "email_bounced_date",
        "last_scored_at",
    }
)
#: How several list ids share one addToList / removeFromList cell. Pardot does not
#: publish it ([guess] G3 in docs/wire-contract.md); a semicolon is how its imports
#: separate the values of multi-value fields. The one place to change it.
IMPORT_LIST_SEPARATOR = ";"
#: Synthetic columns of every line: the match value, then the campaign and the lists.
EXCLUDED_BY_KIND = {
    "id": frozenset({"id", "campaign_id"}),
    "fid": frozenset({"id", "fid", "campaign_id"}),
    "email": frozenset({"id", "campaign_id"}),
}


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


def columns_beyond_headers(
    rows: Iterable[Mapping[str, Any]], known: Mapping[str, frozenset[str]]
) -> dict[str, list[str]]:
    """Per key kind, the fields of these rows that its header lacks (``known``: the
    header's fields and those an import excludes), in order of first appearance. Rows
    that each bring a new column then widen a header once, and share one import."""
    wider: dict[str, dict[str, None]] = {}
    for fields in rows:
        kind = next((k for k in KEY_KINDS if k in fields), "email")
        for name in fields:
            if name not in known[kind]:
                wider.setdefault(kind, {})[name] = None
    return {kind: list(names) for kind, names in wider.items()}


def header_fields(schema_columns: Iterable[str], names: FieldNames) -> tuple[str, ...]:
    """The v4 fields a stream's columns map to (by the account's ``names``), minus those
    an import never carries."""
    mapped = [names.pardot_name(column) for column in schema_columns]
    return tuple(dict.fromkeys(n for n in mapped if n and n not in IMPORT_REFUSED_FIELDS))


def message_column(header: Sequence[str], sent: Sequence[str]) -> int:
    """Where an error file keeps its message ([guess] G2 in docs/wire-contract.md)."""
    if not header:
        return 0
    sent_names = {name.lower() for name in sent}
    extra = [i for i, name in enumerate(header) if name.lower() not in sent_names]
    if len(extra) == 1:
        return extra[0]
    named = [i for i, name in enumerate(header) if "error" in name.lower()]
    return named[-1] if named else len(header) - 1


class ErrorRows:
    """The errors CSV of an import, matched back to the lines that were sent, cell by
    cell. Its header has the v5 names that were sent plus a message column (its name is
    not published: the one column that was not sent, else one named like "error", else
    the last). The match column is only a quick pre-check, so that only lines whose key
    failed are parsed again."""

    def __init__(self, header: Sequence[str], rows: list[list[str]], sent: Sequence[str]) -> None:
        message_at = message_column(header, sent)
        self._columns = [i for i in range(len(header)) if i != message_at]
        self.columns = [header[i] for i in self._columns]
        self._key_at = {
            kind: header.index(column) for kind, column in MATCH_COLUMNS.items() if column in header
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
        for name in KEY_KINDS:
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


def check_campaign_available(
    stream: str, schema_columns: Iterable[str], default_campaign_id: int | None,
    names: FieldNames,
) -> None:
    """Pardot needs a campaign for every prospect an import creates (C4): a stream whose
    email-keyed rows may create, with no campaign_id column and no default, cannot load."""
    mapped = {names.pardot_name(c) for c in schema_columns}
    if "email" in mapped and "campaign_id" not in mapped and default_campaign_id is None:
        raise ConfigError(
            f"Stream '{stream}': with prospect_operation 'import', rows keyed by email "
            "may create prospects, and Pardot needs a campaign for each one it creates. "
            "Set 'default_campaign_id' (a Pardot campaign id), or add a campaign_id "
            "column to the stream."
        )
