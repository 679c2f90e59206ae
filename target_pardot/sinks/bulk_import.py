"""Bulk mode, ``prospect_operation: import``: prospects through the v5 Import API.

A batch call carries 50 prospects; an import batch carries a CSV of up to 10 MB (tens of
thousands of rows), and an import takes up to 10 batches. One million rows cost a few
dozen calls instead of 20,000 batch calls, or a million upsertLatestByEmail calls.

How rows travel:

* Pardot matches import rows only through one special column per import: ``matchId``,
  ``matchSalesforceId`` or ``matchEmail`` (without one, every row creates a prospect).
  So rows go in one lane per key kind, each with its own imports: rows with ``id`` are
  matched by ``matchId``, rows with ``fid`` by ``matchSalesforceId`` (both update only),
  email-only rows by ``matchEmail`` with ``createOnNoMatch``: matchEmail updates the
  prospect with the latest activity, so loading the same rows twice never duplicates.
  An import that may create needs ``email`` and ``campaignId`` columns: the row's
  ``campaign_id`` or the ``default_campaign_id`` setting.
* Each row becomes a CSV line. The header lists the stream's prospect fields (from its
  SCHEMA) under their v5 names; a row that brings a field the header lacks starts a new
  import with the wider header. Columns Pardot refuses in an import (``id``) are never
  written. ``prospect_lists`` travel in ``addToList`` / ``removeFromList``.
* A batch is uploaded as soon as it is full (10 MB), in order: the first one creates the
  import, later ones are added to it. After 10 batches or 200,000 rows the import is set
  Ready, so that Pardot processes it while the target reads on, and a new one begins.
  At every STATE (and at the end) the partial batch goes too and the import is set
  Ready: STATE is written only once every import before it has completed.
* Completion is polled with backoff (0.25 s, then doubling to 60 s): polls count against
  the daily API quota, so they stay few.
* Rows Pardot could not import come back in the import's errors CSV. Each is matched to
  its input row and rejected through the usual rejected-row handling. To do that
  without holding a million records in memory, the records of every import are kept in
  a temporary file until the import completes.

Empty cells never clear a field in an import (an empty string is read as "no value").
To clear fields, load those rows with ``prospect_operation: sync``, where an empty
string clears the field. Rows with empty strings are counted and a warning says so.
"""

from __future__ import annotations

import csv
import io
import logging
import marshal
import os
import pickle
import tempfile
import threading
from array import array
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from target_pardot.errors import ConfigError, DailyLimitReached, PardotApiError
from target_pardot.pardot.limits import MAX_BATCHES_PER_IMPORT, MAX_IMPORT_BATCH_BYTES
from target_pardot.pardot.responses import row_error_code
from target_pardot.rows.fields import pardot_field_name, v5_field_name
from target_pardot.rows.payloads import to_json
from target_pardot.run.ledger import PROSPECTS, Ledger, prospect_fingerprint
from target_pardot.run.runtime import Runtime
from target_pardot.sinks.base import RuntimeDelivery
from target_pardot.sinks.prospects import PendingRow

logger = logging.getLogger("target-pardot")

IMPORT_FIRST_POLL_SECONDS = 0.25
IMPORT_MAX_POLL_SECONDS = 60.0
#: An import is set Ready once it holds this many rows, even with fewer than 10 batches:
#: Pardot processes an import only once it is Ready, and a million rows held back until
#: ten 10 MB batches are full would leave it idle while the target reads. Around 30
#: calls per million rows (uploads, then one Ready and a few polls per import).
ROWS_PER_IMPORT = 200_000
#: Uploads (10 MB each) handed to the sender and not yet finished, at most.
MAX_PENDING_UPLOADS = 3
#: Import error codes (Pardot's table): the import is no longer Open; the account's
#: daily number of import batches is used up.
CODE_IMPORT_NOT_OPEN = 155
CODE_DAILY_IMPORT_BATCHES = 164
_IN_PROGRESS = frozenset({"Open", "Ready", "Waiting", "Processing"})
#: Key kind (v4 name) -> the import's match column. One kind per import: Pardot refuses
#: a header with two match columns (docs/wire-contract.md, C3).
MATCH_COLUMNS = {"id": "matchId", "fid": "matchSalesforceId", "email": "matchEmail"}
_KEYS = tuple(MATCH_COLUMNS)
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
_EXCLUDED_BY_KIND = {
    "id": frozenset({"id", "campaign_id"}),
    "fid": frozenset({"id", "fid", "campaign_id"}),
    "email": frozenset({"id", "campaign_id"}),
}
_PLAIN_CELL_TYPES = frozenset({str, int, type(None)})
#: How a chunk of the spill file is encoded (its first byte).
_MARSHAL, _PICKLE = b"m", b"p"


def _cell(value: Any) -> Any:
    """A field value as a CSV cell; csv writes str and int as they are, None as ''."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return to_json(value)
    return value


class _Lines:
    """A file for csv.writer that keeps each written row as one string."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write = self.lines.append


@dataclass
class _Import:
    """One import: up to ten batches sharing one header and one match column."""

    kind: str
    header: tuple[str, ...]
    header_line: str
    import_id: int | None = None
    batches: int = 0
    rows: int = 0
    #: (offset, length) of this import's records in the spill file.
    spill: list[tuple[int, int]] = field(default_factory=list)
    #: Stream positions of its rows: they settle (for STATE) when the import completes.
    positions: array[int] = field(default_factory=lambda: array("q"))
    polls: int = 0


@dataclass
class _Lane:
    """The imports of one key kind: rows keyed by id, by fid, or by email alone."""

    kind: str
    #: Prospect fields of the header (v4 names), after the match column.
    header: tuple[str, ...]
    #: Extra trailing columns (v5 names): campaignId, addToList / removeFromList.
    extra_columns: tuple[str, ...]
    current: _Import | None = None
    out: _Lines = field(default_factory=_Lines)
    batch_bytes: int = 0
    batch_rows: int = 0
    spill_rows: list[tuple[Any, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.header_set = frozenset(self.header)
        self.writer = csv.writer(self.out, lineterminator="\n")

    @property
    def excluded(self) -> frozenset[str]:
        """Fields not in the header: the Pardot id (refused), the campaign (its own
        column), and a fid that the match column already carries."""
        return _EXCLUDED_BY_KIND[self.kind]

    @property
    def creates(self) -> bool:
        """Only email-keyed rows may create prospects: an id or a Salesforce id that
        matches nothing is an error, as with batchUpdate."""
        return self.kind == "email"


def header_fields(schema_columns: Iterable[str]) -> tuple[str, ...]:
    """The v4 fields a stream's columns map to, minus those an import never carries."""
    names = [pardot_field_name(column) for column in schema_columns]
    return tuple(dict.fromkeys(n for n in names if n and n not in IMPORT_REFUSED_FIELDS))


def check_campaign_available(
    stream: str, schema_columns: Iterable[str], default_campaign_id: int | None
) -> None:
    """Pardot needs a campaign for every prospect an import creates (C4): a stream whose
    email-keyed rows may create, with no campaign_id column and no default, cannot load."""
    mapped = {pardot_field_name(c) for c in schema_columns}
    if "email" in mapped and "campaign_id" not in mapped and default_campaign_id is None:
        raise ConfigError(
            f"Stream '{stream}': with prospect_operation 'import', rows keyed by email "
            "may create prospects, and Pardot needs a campaign for each one it creates. "
            "Set 'default_campaign_id' (a Pardot campaign id), or add a campaign_id "
            "column to the stream."
        )


class ImportDelivery(RuntimeDelivery):
    """Loads one stream's prospects through imports. Used by the reading thread
    (``deliver``, ``finish``) and by the sender's threads (uploads, polls)."""

    def __init__(self, runtime: Runtime, *, stream: str, schema_columns: Iterable[str]) -> None:
        super().__init__(runtime)
        self.stream = stream
        columns = list(schema_columns)
        fields = header_fields(columns)
        check_campaign_available(stream, columns, self.settings.default_campaign_id)
        self._default_campaign = self.settings.default_campaign_id
        lists: tuple[str, ...] = ()
        self._lists_cell: tuple[str, ...] = ()
        if self.settings.prospect_lists:
            add = self.settings.prospect_list_operation == "add"
            lists = ("addToList" if add else "removeFromList",)
            self._lists_cell = (
                IMPORT_LIST_SEPARATOR.join(str(i) for i in self.settings.prospect_lists),
            )
        self._lanes: dict[str, _Lane] = {}
        for kind in _KEYS:
            header = tuple(n for n in fields if n not in _EXCLUDED_BY_KIND[kind])
            campaign = ("campaignId",) if kind == "email" or "campaign_id" in fields else ()
            self._lanes[kind] = _Lane(kind, header, campaign + lists)
        self._spill_fd: int | None = None
        self._spill_end = 0
        self._lock = threading.Lock()
        self._uploads_pending = 0
        self._tail: threading.Event | None = None
        self._chain_broken = False
        self._rows_with_empty_cells = 0
        self._warned_empty_cells = False

    # -- reading thread ---------------------------------------------------------------

    def deliver(self, rows: Sequence[PendingRow]) -> None:
        self.sender.raise_failure()
        if self.ledger is not None:
            rows = self._changed(rows, self.ledger)
        settled: list[int] = []
        for pending in rows:
            fields = pending.row.fields
            kind = next(k for k in _KEYS if k in fields)
            lane = self._lanes[kind]
            extra = self._extra_cells(lane, fields)
            if extra is None:
                self._reject_without_campaign(pending)
                continue
            self._write(lane, pending, fields, extra)
            settled.append(pending.position)
        for lane in self._lanes.values():
            self._flush_spill(lane)
        if self.settings.dry_run:  # nothing will be sent: the rows are as far as they go
            self.tracker.settle(self.stream, settled)

    def _extra_cells(self, lane: _Lane, fields: Mapping[str, Any]) -> tuple[Any, ...] | None:
        if not lane.extra_columns:
            return ()
        if lane.extra_columns[0] != "campaignId":
            return self._lists_cell
        campaign = fields.get("campaign_id")
        if campaign is None and lane.creates:
            campaign = self._default_campaign
            if campaign is None:
                return None
        return (campaign, *self._lists_cell)

    def _write(
        self, lane: _Lane, pending: PendingRow, fields: Mapping[str, Any], extra: tuple[Any, ...]
    ) -> None:
        if not lane.header_set.issuperset(n for n in fields if n not in lane.excluded):
            self._widen_header(lane, fields)
        if lane.current is None:
            self._start_import(lane)
        header = lane.header
        values = [fields[lane.kind], *(fields.get(name) for name in header), *extra]
        if _PLAIN_CELL_TYPES.issuperset(map(type, values)):
            lane.writer.writerow(values)
        else:
            lane.writer.writerow([_cell(v) for v in values])
        lines = lane.out.lines
        line = lines[-1]
        size = len(line) if line.isascii() else len(line.encode("utf-8"))
        if "" in fields.values():
            self._rows_with_empty_cells += 1
        current = lane.current
        assert current is not None
        if lane.batch_rows and (
            lane.batch_bytes + size > MAX_IMPORT_BATCH_BYTES
            or current.rows + lane.batch_rows >= ROWS_PER_IMPORT
        ):
            lines.pop()
            self._seal_batch(lane)
            if lane.current is None:
                self._start_import(lane)
            lines.append(line)
        lane.batch_bytes += size
        lane.batch_rows += 1
        lane.current.positions.append(pending.position)  # type: ignore[union-attr]
        if not self.settings.dry_run:
            lane.spill_rows.append(
                (pending.position, pending.record, line, pending.row.key, pending.fingerprint)
            )

    def _reject_without_campaign(self, pending: PendingRow) -> None:
        self.reporter.reject(
            stream=self.stream,
            position=pending.position,
            record=pending.record,
            key=pending.row.key,
            category="no_campaign",
            reason="an import may create this prospect and Pardot needs a campaign for it: "
            "the row has no campaign_id; set 'default_campaign_id'",
            code=None,
            during_delivery=False,
        )
        self.tracker.settle(self.stream, (pending.position,))

    def finish(self) -> None:
        """Before a STATE: send the partial batches and set the open imports Ready. The
        sender's wait then covers the uploads and polls until every import completed."""
        for lane in self._lanes.values():
            self._seal_batch(lane)
            self._seal_import(lane)
        if self._rows_with_empty_cells and not self._warned_empty_cells:
            self._warned_empty_cells = True
            logger.warning(
                "Stream '%s': %d rows had empty strings. An import leaves such fields "
                "unchanged (it cannot clear a field). To clear fields, load those rows "
                "with prospect_operation 'sync', where an empty string clears the field.",
                self.stream,
                self._rows_with_empty_cells,
            )

    def close(self) -> None:
        if self._spill_fd is not None:
            os.close(self._spill_fd)
            self._spill_fd = None

    def _changed(self, rows: Sequence[PendingRow], ledger: Ledger) -> list[PendingRow]:
        for pending in rows:
            pending.fingerprint = prospect_fingerprint(pending.row, {})
        same = ledger.unchanged(
            PROSPECTS,
            [(p.row.key, p.fingerprint) for p in rows],  # type: ignore[misc]
        )
        changed = []
        for pending, unchanged in zip(rows, same, strict=True):
            if unchanged:
                self.tracker.settle(self.stream, (pending.position,))
            else:
                changed.append(pending)
        self.stats.add("unchanged", len(rows) - len(changed))
        return changed

    def _widen_header(self, lane: _Lane, fields: Mapping[str, Any]) -> None:
        """A row brings fields the header lacks: every batch of an import shares one
        header, so the import is closed and the next one gets the wider header."""
        self._seal_batch(lane)
        self._seal_import(lane)
        lane.header += tuple(
            name for name in fields
            if name not in lane.header_set and name not in lane.excluded
        )  # fmt: skip
        lane.header_set = frozenset(lane.header)

    def _start_import(self, lane: _Lane) -> None:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(
            [MATCH_COLUMNS[lane.kind], *(v5_field_name(n) for n in lane.header),
             *lane.extra_columns]
        )  # fmt: skip
        lane.current = _Import(lane.kind, lane.header, out.getvalue())
        lane.batch_bytes = len(out.getvalue().encode("utf-8"))

    def _seal_batch(self, lane: _Lane) -> None:
        imp = lane.current
        lines = lane.out.lines
        if imp is None or not lines:
            return
        self._flush_spill(lane)
        data = (imp.header_line + "".join(lines)).encode("utf-8")
        rows = lane.batch_rows
        first = imp.batches == 0
        imp.batches += 1
        imp.rows += rows
        lines.clear()
        lane.batch_rows = 0
        lane.batch_bytes = len(imp.header_line.encode("utf-8"))
        if self.settings.dry_run:
            self.stats.plan("imports/create" if first else "imports/batch", rows)
        else:
            self._chain(partial(self._upload, imp, data, first, lane.creates))
        if imp.batches >= MAX_BATCHES_PER_IMPORT or imp.rows >= ROWS_PER_IMPORT:
            self._seal_import(lane)

    def _seal_import(self, lane: _Lane) -> None:
        imp, lane.current = lane.current, None
        if imp is None or not imp.batches:
            return
        if self.settings.dry_run:
            self.stats.plan("imports/update", 0)
        else:
            self._chain(partial(self._set_ready, imp))

    def _flush_spill(self, lane: _Lane) -> None:
        """Move the records of rows already in CSV lines to the spill file."""
        if not lane.spill_rows or lane.current is None:
            return
        if self._spill_fd is None:
            self._spill_fd, name = tempfile.mkstemp(prefix="target-pardot-import-")
            os.unlink(name)  # the file lives as long as the descriptor, and no longer
        try:
            # marshal is three times faster than pickle, but knows only the JSON types.
            data = _MARSHAL + marshal.dumps(lane.spill_rows)
        except ValueError:  # a Decimal or datetime in a record
            data = _PICKLE + pickle.dumps(lane.spill_rows, protocol=pickle.HIGHEST_PROTOCOL)
        lane.spill_rows = []
        written = 0
        while written < len(data):
            written += os.write(self._spill_fd, data[written:])
        lane.current.spill.append((self._spill_end, len(data)))
        self._spill_end += len(data)

    def _chain(self, step: Callable[[], None]) -> None:
        """Hand a step to the sender, to run after the previous step of this stream.

        Uploads go in order (the first batch creates the import the others join) and at
        most MAX_PENDING_UPLOADS at a time, which bounds memory to a few batches."""
        self.sender.wait_until(lambda: self._uploads_pending < MAX_PENDING_UPLOADS)
        previous, done = self._tail, threading.Event()
        self._tail = done
        with self._lock:
            self._uploads_pending += 1

        def run() -> None:
            try:
                # A predecessor skipped after a failure elsewhere never signals: look up.
                while previous is not None and not previous.wait(0.2):
                    if self.sender.failed:
                        return
                if not self._chain_broken:
                    step()
            except BaseException:
                self._chain_broken = True
                raise
            finally:
                with self._lock:
                    self._uploads_pending -= 1
                done.set()

        self.sender.submit(run)

    # -- sending threads --------------------------------------------------------------

    def _upload(self, imp: _Import, data: bytes, first: bool, creates: bool) -> None:
        try:
            if first:
                reply = self.client.import_create(
                    {
                        "operation": "Upsert",
                        "object": "Prospect",
                        "createOnNoMatch": creates,
                        "restoreDeleted": self.settings.search_deleted_prospects,
                    },
                    data,
                )
                import_id = reply.body.get("id") if isinstance(reply.body, dict) else None
                if import_id is None:
                    raise PardotApiError("The Import API created an import without an id.")
                imp.import_id = int(import_id)
            else:
                assert imp.import_id is not None
                self.client.import_add_batch(imp.import_id, data)
        except PardotApiError as exc:
            if exc.code == CODE_DAILY_IMPORT_BATCHES:
                raise DailyLimitReached(
                    f"{exc}. The account's daily import batches are used up; re-run after "
                    "the reset, or use prospect_operation 'sync' meanwhile."
                ) from None
            raise

    def _set_ready(self, imp: _Import) -> None:
        assert imp.import_id is not None
        try:
            self.client.import_set_ready(imp.import_id)
        except PardotApiError as exc:
            # A replayed PATCH finds the import already Ready: what we asked for.
            if exc.code != CODE_IMPORT_NOT_OPEN:
                raise
        self.sender.submit_later(IMPORT_FIRST_POLL_SECONDS, partial(self._poll, imp))

    def _poll(self, imp: _Import) -> None:
        assert imp.import_id is not None
        status = self.client.import_status(imp.import_id).body or {}
        imp.polls += 1
        state = status.get("status")
        if status.get("isExpired") is True:
            state = "Expired"
        if state == "Complete":
            self._completed(imp, status)
            return
        if state not in _IN_PROGRESS:
            raise PardotApiError(
                f"Import {imp.import_id} ended in status {state!r} instead of Complete; its "
                f"{imp.rows} rows were not loaded. Re-run from the last STATE."
            )
        delay = min(IMPORT_MAX_POLL_SECONDS, IMPORT_FIRST_POLL_SECONDS * 2**imp.polls)
        self.sender.submit_later(delay, partial(self._poll, imp))

    def _completed(self, imp: _Import, status: Mapping[str, Any]) -> None:
        assert imp.import_id is not None
        failed = int(status.get("errorCount") or 0)
        errors = self._error_rows(imp) if failed else _ErrorRows((), [], ())
        accepted: list[tuple[str, bytes]] = []
        if failed or self.ledger is not None:
            for position, record, line, key, fingerprint in self._spilled(imp):
                message = errors.take(line, key) if failed else None
                if message is not None:
                    self._reject_error_row(position, record, key, message)
                elif fingerprint is not None:
                    accepted.append((key, fingerprint))
        for cells, message in errors.leftover():
            # Not matched to an input row (Pardot rewrote it): report the row as imported.
            self._reject_error_row(
                0, dict(zip(errors.columns, cells, strict=False)), "unmatched row", message
            )
        if self.ledger is not None and accepted:
            self.ledger.accept(PROSPECTS, accepted)
        # Every row of the import is now accepted or rejected (a rejection that stops the
        # run raised above, leaving the rows unsettled and their STATE unwritten).
        self.tracker.settle(self.stream, imp.positions)
        self.tracker.emit_ready()
        self.stats.add("rows_sent", imp.rows - failed)
        self.stats.add("created", int(status.get("createdCount") or 0))
        self.stats.add("updated", int(status.get("updatedCount") or 0))
        logger.info(
            "Import %s completed: %d rows, %d created, %d updated, %d failed, %d polls.",
            imp.import_id,
            imp.rows,
            int(status.get("createdCount") or 0),
            int(status.get("updatedCount") or 0),
            failed,
            imp.polls,
        )

    def _error_rows(self, imp: _Import) -> _ErrorRows:
        assert imp.import_id is not None
        # Pardot answers with a redirect to the error file; requests follows it.
        content = self.client.import_errors(imp.import_id).content
        records = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
        if not records:
            return _ErrorRows((), [], ())
        header = [name.strip() for name in records[0]]
        sent = next(csv.reader([imp.header_line]))
        return _ErrorRows(header, records[1:], sent)

    def _spilled(self, imp: _Import) -> Iterable[tuple[Any, ...]]:
        assert self._spill_fd is not None or not imp.spill
        for offset, length in imp.spill:
            data = os.pread(self._spill_fd, length, offset)  # type: ignore[arg-type]
            if data[:1] == _MARSHAL:
                yield from marshal.loads(data[1:])
            else:
                yield from pickle.loads(data[1:])

    def _reject_error_row(
        self, position: int, record: dict[str, Any], key: str, message: str
    ) -> None:
        self.reporter.reject(
            stream=self.stream,
            position=position,
            record=record,
            key=key,
            category="pardot_rejected",
            reason=message,
            code=_message_code(message),
            during_delivery=True,
        )


def _message_code(message: str) -> int | str | None:
    return row_error_code(message)


def _message_column(header: Sequence[str], sent: Sequence[str]) -> int:
    """Where an error file keeps its message ([guess] G2 in docs/wire-contract.md)."""
    if not header:
        return 0
    sent_names = {name.lower() for name in sent}
    extra = [i for i, name in enumerate(header) if name.lower() not in sent_names]
    if len(extra) == 1:
        return extra[0]
    named = [i for i, name in enumerate(header) if "error" in name.lower()]
    return named[-1] if named else len(header) - 1


class _ErrorRows:
    """The errors CSV of an import, matched back to the lines that were sent, cell by
    cell. Its header has the v5 names that were sent plus a message column (its name is
    not published: the one column that was not sent, else one named like "error", else
    the last). The match column is only a quick pre-check, so that only lines whose key
    failed are parsed again."""

    def __init__(self, header: Sequence[str], rows: list[list[str]], sent: Sequence[str]) -> None:
        message_at = _message_column(header, sent)
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
        for name in _KEYS:
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
