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

A blank value (null, empty or whitespace-only) is an empty cell. With ``empty_values:
skip`` an empty cell leaves the field as it is (v5's default, nullOverwrite false); with
``clear`` the import is created with the option nullOverwrite: true on every field of its
header, and an empty cell clears the field. So under ``clear`` a field a row does not
have (a database tap leaves its nulls out; rows of one stream may bring different
fields) must not be a column of that row's import: it would be an empty cell and clear
the field, where a v4 or v5 call leaves it as it is. Rows then go in one lane per key
kind and column set (the fields the row has), each with its own imports.

Rows of one prospect in different lanes keep their stream order: a row whose prospect
(by id, fid or email) an unfinished import of another lane carries waits for it. The
open imports are set Ready and the row is written once they have completed.
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
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from target_pardot.errors import PardotApiError
from target_pardot.pardot.limits import MAX_BATCHES_PER_IMPORT, MAX_IMPORT_BATCH_BYTES
from target_pardot.rows.import_csv import (
    EXCLUDED_BY_KIND,
    IMPORT_LIST_SEPARATOR,
    IMPORT_REFUSED_FIELDS,
    KEY_KINDS,
    MATCH_COLUMNS,
    CsvLines,
    check_campaign_available,
    columns_beyond_headers,
    csv_cell,
    header_fields,
)
from target_pardot.run.collaborators import DeliveryParts, ProspectLists
from target_pardot.run.key_order import prospect_identities
from target_pardot.run.ledger import PROSPECTS, prospect_fingerprint, prospect_ledger_key
from target_pardot.run.stats import IMPORT_PATH
from target_pardot.sinks.base import Delivery
from target_pardot.sinks.import_outcome import (
    CODE_IMPORT_NOT_OPEN,
    SPILL_MARSHAL,
    SPILL_PICKLE,
    ImportJob,
    ImportOutcome,
)
from target_pardot.sinks.import_v3 import V3EmailLane
from target_pardot.sinks.prospect_items import PendingRow, prospect_list_flags

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
_IN_PROGRESS = frozenset({"Open", "Ready", "Waiting", "Processing"})
#: Prospects whose lane is remembered for stream order, at most: beyond, their lanes are
#: remembered as a whole (a row for any other lane then waits for their imports), so
#: memory stays bounded on a load of millions of rows.
MAX_TRACKED_PROSPECTS = 100_000
_PLAIN_CELL_TYPES = frozenset({str, int, type(None)})


@dataclass
class _Lane:
    """The imports of one key kind: rows keyed by id, by fid, or by email alone."""

    kind: str
    #: Prospect fields of the header (v4 names), after the match column.
    header: tuple[str, ...]
    #: Extra trailing columns (v5 names): campaignId, addToList / removeFromList.
    extra_columns: tuple[str, ...]
    current: ImportJob | None = None
    out: CsvLines = field(default_factory=CsvLines)
    batch_bytes: int = 0
    batch_rows: int = 0
    spill_rows: list[tuple[Any, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.header_set = frozenset(self.header)
        #: Fields a row may bring without widening the header (one C-level set test).
        self.accepts = self.header_set | self.excluded
        self.campaign_column = "campaignId" in self.extra_columns
        self.writer = csv.writer(self.out, lineterminator="\n")

    @property
    def excluded(self) -> frozenset[str]:
        """Fields not in the header: the Pardot id (refused), the campaign (its own
        column), and a fid that the match column already carries."""
        return EXCLUDED_BY_KIND[self.kind]

    @property
    def creates(self) -> bool:
        """Only email-keyed rows may create prospects: an id or a Salesforce id that
        matches nothing is an error, as with batchUpdate."""
        return self.kind == "email"


class ImportDelivery(Delivery):
    """Loads one stream's prospects through imports. Used by the reading thread
    (``deliver``, ``finish``) and by the sender's threads (uploads, polls)."""

    def __init__(self, parts: DeliveryParts, *, prospect_lists: ProspectLists | None, stream: str,
                 schema_columns: Iterable[str]) -> None:  # fmt: skip
        super().__init__(parts)
        self.stream = stream
        self._outcome = ImportOutcome(self, stream)
        columns = list(schema_columns)
        fields = header_fields(columns, self.names)
        check_campaign_available(stream, columns, self.settings.default_campaign_id, self.names)
        self._default_campaign = self.settings.default_campaign_id
        self._flags = prospect_list_flags(prospect_lists)
        lists: tuple[str, ...] = ()
        self._lists_cell: tuple[str, ...] = ()
        list_ids = (prospect_lists.ids if prospect_lists is not None else None) or ()
        if list_ids:
            add = self.settings.prospect_list_operation == "add"
            lists = ("addToList" if add else "removeFromList",)
            self._lists_cell = (IMPORT_LIST_SEPARATOR.join(str(i) for i in list_ids),)
        self._list_columns = lists
        self._schema_fields = fields
        #: empty_values: clear: a lane per key kind and column set (see the docstring).
        self._by_column_set = self.settings.empty_values == "clear"
        self._lanes: dict[Hashable, _Lane] = {}
        for kind in () if self._by_column_set else KEY_KINDS:
            header = tuple(n for n in fields if n not in EXCLUDED_BY_KIND[kind])
            campaign = ("campaignId",) if kind == "email" or "campaign_id" in fields else ()
            self._lanes[kind] = _Lane(kind, header, campaign + lists)
        # Stream order across lanes: the lane whose unfinished import carries a prospect,
        # and lanes carrying prospects no longer remembered one by one.
        self._lane_of: dict[Hashable, Hashable] = {}
        self._untracked_lanes: set[Hashable] = set()
        self._spill_fd: int | None = None
        self._spill_end = 0
        self._lock = threading.Lock()
        self._uploads_pending = 0
        self._tail: threading.Event | None = None
        self._chain_broken = False
        self._v3_lane = V3EmailLane(parts, prospect_lists, default_campaign=self._default_campaign)

    # -- reading thread ---------------------------------------------------------------

    def deliver(self, rows: Sequence[PendingRow], *, planned: bool = False) -> None:
        """Write the rows into the imports of their key kinds. ``planned``: the planner of
        ``prospect_operation: auto`` chose these rows (and counted them in rows_by_path)
        and already dropped the unchanged ones."""
        self.sender.raise_failure()
        if not planned:
            self.stats.routed({IMPORT_PATH: len(rows)})
        if self.ledger is not None and not planned:
            rows = self.drop_unchanged(
                rows,
                self.ledger,
                PROSPECTS,
                key_of=lambda p: prospect_ledger_key(p.row.key),
                # As on every path: fields and list flags (addToList / removeFromList), not
                # the default campaign (it only names where a new prospect comes from).
                fingerprint_of=lambda p: prospect_fingerprint(p.row, self._flags),
            )
        rows = self._v3_lane.take(rows)  # an account without AMPSEA: see import_v3.py
        lanes = self._lanes
        rejected: set[int] = set()
        if not self._by_column_set:
            known = {str(kind): lane.accepts for kind, lane in lanes.items()}
            beyond = columns_beyond_headers([p.row.fields for p in rows], known)
            for kind, names in beyond.items():
                self._widen_header(lanes[kind], dict.fromkeys(names))  # once per drain
        for pending in rows:
            fields = pending.row.fields
            kind = "id" if "id" in fields else "fid" if "fid" in fields else "email"
            if self._by_column_set:
                lane_key, lane = self._lane_of_columns(kind, fields)
            else:
                lane_key, lane = kind, lanes[kind]
            self._after_other_lanes(lane_key, prospect_identities(fields))
            values = [fields[kind], *map(fields.get, lane.header)]
            if lane.campaign_column:
                campaign = fields.get("campaign_id")
                if campaign is None and kind == "email":
                    campaign = self._default_campaign
                    if campaign is None:
                        self._reject_without_campaign(pending)
                        rejected.add(pending.position)
                        continue
                values.append(campaign)
            values += self._lists_cell
            self._write(lane, pending, fields, values)
        for lane in lanes.values():
            self._flush_spill(lane)
        if self.settings.dry_run:  # nothing will be sent: the rows are as far as they go
            self.tracker.settle(
                self.stream, [p.position for p in rows if p.position not in rejected]
            )

    def _lane_of_columns(self, kind: str, fields: Mapping[str, Any]) -> tuple[Hashable, _Lane]:
        """The lane of rows of this key kind with exactly these fields (empty_values:
        clear): its header holds the row's own fields, in the schema's order first."""
        excluded = EXCLUDED_BY_KIND[kind]
        names = [n for n in fields if n not in excluded and n not in IMPORT_REFUSED_FIELDS]
        campaign = kind == "email" or "campaign_id" in fields
        key = (kind, frozenset(names), campaign)
        lane = self._lanes.get(key)
        if lane is None:
            order = {name: i for i, name in enumerate(self._schema_fields)}
            header = tuple(sorted(names, key=lambda n: order.get(n, len(order))))
            extra = ("campaignId",) if campaign else ()
            lane = self._lanes[key] = _Lane(kind, header, extra + self._list_columns)
        return key, lane

    def _after_other_lanes(self, lane_key: Hashable, prospects: Sequence[Hashable]) -> None:
        """Keep a prospect's rows in stream order across lanes: when an unfinished import
        of another lane may carry one of these prospects, every open import is set Ready
        and this row waits until they have completed."""
        others = self._untracked_lanes - {lane_key}
        if others or any(self._lane_of.get(p, lane_key) != lane_key for p in prospects):
            self.finish()
            self.sender.wait()
        lane_of = self._lane_of
        for prospect in prospects:
            lane_of[prospect] = lane_key
        if len(lane_of) > MAX_TRACKED_PROSPECTS:
            self._untracked_lanes.update(lane_of.values())
            lane_of.clear()

    def _write(
        self, lane: _Lane, pending: PendingRow, fields: Mapping[str, Any], values: list[Any]
    ) -> None:
        if lane.current is None:
            self._start_import(lane)
        if _PLAIN_CELL_TYPES.issuperset(map(type, values)):
            lane.writer.writerow(values)
        else:
            lane.writer.writerow([csv_cell(v) for v in values])
        lines = lane.out.lines
        line = lines[-1]
        size = len(line) if line.isascii() else len(line.encode("utf-8"))
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
        # Every import is now on its way and is waited for (Runtime.wait_delivered, or
        # _after_other_lanes) before another row is written: no lane carries a prospect.
        self._lane_of.clear()
        self._untracked_lanes.clear()

    def close(self) -> None:
        if self._spill_fd is not None:
            os.close(self._spill_fd)
            self._spill_fd = None

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
        lane.accepts = lane.header_set | lane.excluded

    def _start_import(self, lane: _Lane) -> None:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(
            [MATCH_COLUMNS[lane.kind], *map(self.names.v5_name, lane.header),
             *lane.extra_columns]
        )  # fmt: skip
        lane.current = ImportJob(lane.kind, lane.header, out.getvalue())
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
            self._chain(partial(self._outcome.upload, imp, data, first, lane.creates))
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
            data = SPILL_MARSHAL + marshal.dumps(lane.spill_rows)
        except ValueError:  # a Decimal or datetime in a record
            data = SPILL_PICKLE + pickle.dumps(lane.spill_rows, protocol=pickle.HIGHEST_PROTOCOL)
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

    def _set_ready(self, imp: ImportJob) -> None:
        assert imp.import_id is not None
        try:
            self.client.endpoints.import_set_ready(imp.import_id)
        except PardotApiError as exc:
            # A replayed PATCH finds the import already Ready: what we asked for.
            if exc.code != CODE_IMPORT_NOT_OPEN:
                raise
        self.sender.submit_later(IMPORT_FIRST_POLL_SECONDS, partial(self._poll, imp))

    def _poll(self, imp: ImportJob) -> None:
        assert imp.import_id is not None
        status = self.client.endpoints.import_status(imp.import_id).body or {}
        imp.polls += 1
        state = status.get("status")
        if status.get("isExpired") is True:
            state = "Expired"
        if state == "Complete":
            self._outcome.complete(imp, status, self._spill_fd)
            return
        if state not in _IN_PROGRESS:
            raise PardotApiError(
                f"Import {imp.import_id} ended in status {state!r} instead of Complete; its "
                f"{imp.rows} rows were not loaded. Re-run from the last STATE."
            )
        delay = min(IMPORT_MAX_POLL_SECONDS, IMPORT_FIRST_POLL_SECONDS * 2**imp.polls)
        self.sender.submit_later(delay, partial(self._poll, imp))
