"""What happens to an import on the sending threads: its uploads, and its outcome once
Pardot completed it (rows matched back to the errors file, the ledger, STATE).

:class:`ImportOutcome` is the half of the bulk import delivery that runs on the sender's
threads; sinks/bulk_import.py (the half on the reading thread) builds the imports and
holds one ImportOutcome.
"""

from __future__ import annotations

import csv
import io
import logging
import marshal
import os
import pickle
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from target_pardot.errors import DailyLimitReached, PardotApiError
from target_pardot.pardot.responses import row_error_code
from target_pardot.rows.fields import INTEGER_FIELDS, FieldNames
from target_pardot.rows.import_csv import ErrorRows
from target_pardot.run.ledger import PROSPECTS, prospect_ledger_key
from target_pardot.sinks.base import Delivery

logger = logging.getLogger("target-pardot")

#: How a chunk of the spill file is encoded (its first byte).
SPILL_MARSHAL, SPILL_PICKLE = b"m", b"p"

#: Import error codes (Pardot's table): the import is no longer Open; the account's
#: daily number of import batches is used up.
CODE_IMPORT_NOT_OPEN = 155
CODE_DAILY_IMPORT_BATCHES = 164
#: How a chunk of the spill file is encoded (its first byte).

@dataclass
class ImportJob:
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


def clearing_options(
    header: tuple[str, ...], empty_values: str, names: FieldNames
) -> dict[str, Any]:
    """With `empty_values: clear`, the per-field option nullOverwrite: true, under which
    an empty cell clears the field (docs/wire-contract.md, B3). Without it an empty cell
    leaves the field as it is (v5's default, C8): `skip` needs no option. A number field
    keeps its value, as on the other paths (rows/payloads.py: Pardot takes no empty
    number)."""
    clearable = [name for name in header if name not in INTEGER_FIELDS]
    if empty_values != "clear" or not clearable:
        return {}
    return {"fields": {names.v5_name(name): {"nullOverwrite": True} for name in clearable}}


class ImportOutcome:
    """Uploads an import's batches and settles its rows once it completed, through the
    collaborators of the delivery it serves (client, settings, ledger, STATE, stats and
    its report of refused rows)."""

    def __init__(self, delivery: Delivery, stream: str) -> None:
        self.delivery = delivery
        self.stream = stream

    def upload(self, imp: ImportJob, data: bytes, first: bool, creates: bool) -> None:
        client, settings = self.delivery.client, self.delivery.settings
        try:
            if first:
                reply = client.endpoints.import_create(
                    {
                        "operation": "Upsert",
                        "object": "Prospect",
                        "createOnNoMatch": creates,
                        "restoreDeleted": settings.search_deleted_prospects,
                        **clearing_options(imp.header, settings.empty_values, self.delivery.names),
                    },
                    data,
                )
                import_id = reply.body.get("id") if isinstance(reply.body, dict) else None
                if import_id is None:
                    raise PardotApiError("The Import API created an import without an id.")
                imp.import_id = int(import_id)
            else:
                assert imp.import_id is not None
                client.endpoints.import_add_batch(imp.import_id, data)
        except PardotApiError as exc:
            if exc.code == CODE_DAILY_IMPORT_BATCHES:
                raise DailyLimitReached(
                    f"{exc}. The account's daily import batches are used up; re-run after "
                    "the reset, or use prospect_operation 'sync' meanwhile."
                ) from None
            raise

    def complete(self, imp: ImportJob, status: Mapping[str, Any], spill_fd: int | None) -> None:
        """Settle the rows of an import Pardot completed; ``spill_fd``: the file holding
        its rows (read back to match the errors file and fill the ledger)."""
        assert imp.import_id is not None
        ledger, tracker, stats = self.delivery.ledger, self.delivery.tracker, self.delivery.stats
        failed = int(status.get("errorCount") or 0)
        errors = self._error_rows(imp) if failed else ErrorRows((), [], ())
        accepted: list[tuple[str, bytes]] = []
        if failed or ledger is not None:
            for position, record, line, key, fingerprint in _spilled(imp, spill_fd):
                message = errors.take(line, key) if failed else None
                if message is not None:
                    self._reject_error_row(position, record, key, message)
                elif fingerprint is not None:
                    accepted.append((prospect_ledger_key(key), fingerprint))
        for cells, message in errors.leftover():
            # Not matched to an input row (Pardot rewrote it): report the row as imported.
            self._reject_error_row(
                0, dict(zip(errors.columns, cells, strict=False)), "unmatched row", message
            )
        if ledger is not None and accepted:
            ledger.accept(PROSPECTS, accepted)
        # Every row of the import is now accepted or rejected (a rejection that stops the
        # run raised above, leaving the rows unsettled and their STATE unwritten).
        tracker.settle(self.stream, imp.positions)
        tracker.emit()
        stats.add("rows_sent", imp.rows - failed)
        stats.add("created", int(status.get("createdCount") or 0))
        stats.add("updated", int(status.get("updatedCount") or 0))
        logger.info(
            "Import %s completed: %d rows, %d created, %d updated, %d failed, %d polls.",
            imp.import_id,
            imp.rows,
            int(status.get("createdCount") or 0),
            int(status.get("updatedCount") or 0),
            failed,
            imp.polls,
        )

    def _error_rows(self, imp: ImportJob) -> ErrorRows:
        assert imp.import_id is not None
        # Pardot answers with a redirect to the error file, which the client follows
        # without its Pardot headers (docs/wire-contract.md, R10).
        content = self.delivery.client.endpoints.import_errors(imp.import_id).content
        records = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
        if not records:
            return ErrorRows((), [], ())
        header = [name.strip() for name in records[0]]
        sent = next(csv.reader([imp.header_line]))
        return ErrorRows(header, records[1:], sent)

    def _reject_error_row(
        self, position: int, record: dict[str, Any], key: str, message: str
    ) -> None:
        """A row of the errors CSV; the caller settles the import's rows together."""
        self.delivery.report_refused(
            self.stream, position, record, key, message, row_error_code(message)
        )


def _spilled(imp: ImportJob, spill_fd: int | None) -> Iterable[tuple[Any, ...]]:
    """The records of ``imp``, read back from the spill file."""
    assert spill_fd is not None or not imp.spill
    for offset, length in imp.spill:
        data = os.pread(spill_fd, length, offset)  # type: ignore[arg-type]
        if data[:1] == SPILL_MARSHAL:
            yield from marshal.loads(data[1:])
        else:
            yield from pickle.loads(data[1:])
