"""Bulk mode, ``prospect_operation: import``: prospects through the v5 Import API.

A batch call carries 50 prospects; an import batch carries a CSV of up to 10 MB (tens of
thousands of rows), and an import takes up to 10 batches. One million rows cost a few
dozen calls instead of 20,000 batch calls, or a million upsertLatestByEmail calls.

How rows travel:

* Each row becomes a CSV line. The header lists the stream's prospect fields (from its
  SCHEMA) under their v5 names; a row that brings a field the header lacks starts a new
  import with the wider header. Rows are matched by ``id``, ``salesforceId`` (fid) or
  ``email``, in that order: email matching updates the prospect with the latest
  activity, so an import never duplicates prospects.
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

from target_pardot.errors import DailyLimitReached, PardotApiError
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
#: Match columns, in the order Pardot tries them (v4 names).
_KEYS = ("id", "fid", "email")
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
    """One import: up to ten batches sharing one header."""

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


class ImportDelivery(RuntimeDelivery):
    """Loads one stream's prospects through imports. Used by the reading thread
    (``deliver``, ``finish``) and by the sender's threads (uploads, polls)."""

    def __init__(self, runtime: Runtime, *, stream: str, schema_columns: Iterable[str]) -> None:
        super().__init__(runtime)
        self.stream = stream
        names = [pardot_field_name(column) for column in schema_columns]
        self._header: tuple[str, ...] = tuple(dict.fromkeys(n for n in names if n))
        self._header_set = frozenset(self._header)
        self._current: _Import | None = None
        self._out = _Lines()
        self._writer = csv.writer(self._out, lineterminator="\n")
        self._batch_bytes = 0
        self._batch_rows = 0
        self._spill_rows: list[tuple[Any, ...]] = []
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
        writerow = self._writer.writerow
        lines = self._out.lines
        for pending in rows:
            fields = pending.row.fields
            if not self._header_set.issuperset(fields):
                self._widen_header(fields)
            if self._current is None:
                self._start_import()
            header = self._header
            if _PLAIN_CELL_TYPES.issuperset(map(type, fields.values())):
                writerow([fields.get(name) for name in header])
            else:
                writerow([_cell(fields.get(name)) for name in header])
            line = lines[-1]
            size = len(line) if line.isascii() else len(line.encode("utf-8"))
            if "" in fields.values():
                self._rows_with_empty_cells += 1
            if self._batch_rows and (
                self._batch_bytes + size > MAX_IMPORT_BATCH_BYTES
                or self._current.rows + self._batch_rows >= ROWS_PER_IMPORT  # type: ignore[union-attr]
            ):
                lines.pop()
                self._seal_batch()
                if self._current is None:
                    self._start_import()
                lines.append(line)
            self._batch_bytes += size
            self._batch_rows += 1
            self._current.positions.append(pending.position)  # type: ignore[union-attr]
            if not self.settings.dry_run:
                self._spill_rows.append(
                    (pending.position, pending.record, line, pending.row.key,
                     pending.fingerprint)
                )  # fmt: skip
        self._flush_spill()
        if self.settings.dry_run:  # nothing will be sent: the rows are as far as they go
            self.tracker.settle(self.stream, [p.position for p in rows])

    def finish(self) -> None:
        """Before a STATE: send the partial batch and set the open import Ready. The
        sender's wait then covers the uploads and polls until every import completed."""
        self._seal_batch()
        self._seal_import()
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

    def _widen_header(self, fields: Mapping[str, Any]) -> None:
        """A row brings fields the header lacks: every batch of an import shares one
        header, so the import is closed and the next one gets the wider header."""
        self._seal_batch()
        self._seal_import()
        self._header += tuple(name for name in fields if name not in self._header_set)
        self._header_set = frozenset(self._header)

    def _start_import(self) -> None:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(
            [v5_field_name(name) for name in self._header]
        )
        self._current = _Import(self._header, out.getvalue())
        self._batch_bytes = len(out.getvalue().encode("utf-8"))

    def _seal_batch(self) -> None:
        imp = self._current
        lines = self._out.lines
        if imp is None or not lines:
            return
        self._flush_spill()
        data = (imp.header_line + "".join(lines)).encode("utf-8")
        rows = self._batch_rows
        first = imp.batches == 0
        imp.batches += 1
        imp.rows += rows
        lines.clear()
        self._batch_rows = 0
        self._batch_bytes = len(imp.header_line.encode("utf-8"))
        if self.settings.dry_run:
            self.stats.plan("imports/create" if first else "imports/batch", rows)
        else:
            self._chain(partial(self._upload, imp, data, first))
        if imp.batches >= MAX_BATCHES_PER_IMPORT or imp.rows >= ROWS_PER_IMPORT:
            self._seal_import()

    def _seal_import(self) -> None:
        imp, self._current = self._current, None
        if imp is None or not imp.batches:
            return
        if self.settings.dry_run:
            self.stats.plan("imports/update", 0)
        else:
            self._chain(partial(self._set_ready, imp))

    def _flush_spill(self) -> None:
        """Move the records of rows already in CSV lines to the spill file."""
        if not self._spill_rows or self._current is None:
            return
        if self._spill_fd is None:
            self._spill_fd, name = tempfile.mkstemp(prefix="target-pardot-import-")
            os.unlink(name)  # the file lives as long as the descriptor, and no longer
        try:
            # marshal is three times faster than pickle, but knows only the JSON types.
            data = _MARSHAL + marshal.dumps(self._spill_rows)
        except ValueError:  # a Decimal or datetime in a record
            data = _PICKLE + pickle.dumps(self._spill_rows, protocol=pickle.HIGHEST_PROTOCOL)
        self._spill_rows = []
        written = 0
        while written < len(data):
            written += os.write(self._spill_fd, data[written:])
        self._current.spill.append((self._spill_end, len(data)))
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

    def _upload(self, imp: _Import, data: bytes, first: bool) -> None:
        try:
            if first:
                reply = self.client.import_create(
                    {
                        "operation": "Upsert",
                        "object": "Prospect",
                        "createOnNoMatch": True,
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
        state = status.get("state")
        if state == "Complete":
            self._completed(imp, status)
            return
        if state not in _IN_PROGRESS:
            raise PardotApiError(
                f"Import {imp.import_id} ended in state {state!r} instead of Complete; its "
                f"{imp.rows} rows were not loaded. Re-run from the last STATE."
            )
        delay = min(IMPORT_MAX_POLL_SECONDS, IMPORT_FIRST_POLL_SECONDS * 2**imp.polls)
        self.sender.submit_later(delay, partial(self._poll, imp))

    def _completed(self, imp: _Import, status: Mapping[str, Any]) -> None:
        assert imp.import_id is not None
        failed = int(status.get("errorCount") or 0)
        errors = self._error_rows(imp) if failed else _ErrorRows((), [])
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
                0, dict(zip(imp.header, cells, strict=False)), "unmatched row", message
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
        content = self.client.import_errors(imp.import_id).content
        records = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
        if not records:
            return _ErrorRows((), [])
        header = [name.strip() for name in records[0]]
        return _ErrorRows(header, records[1:])

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


class _ErrorRows:
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
