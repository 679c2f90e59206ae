"""Deliver prepared prospect rows: batching, parallel calls, and mapping replies to rows.

Sinks hand over rows; this module decides which call carries each row, runs the calls
with up to `parallel_tasks` in flight (the client's gate holds the process-wide limit),
and turns every per-row outcome into a count or a rejection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from target_pardot.checkpoints import StateTracker
from target_pardot.client import PardotClient
from target_pardot.errors import PardotApiError, PayloadTooLarge, RetryableError
from target_pardot.payloads import (
    ROUTE_V4,
    ROUTE_V5,
    ProspectRow,
    batch_body,
    encoded_size,
    list_flags,
    plan_batches,
    v4_element,
    v5_upsert_body,
)
from target_pardot.rejects import RejectionReporter
from target_pardot.responses import (
    CODE_CONFLICTING_UPDATE,
    CODE_UNABLE_TO_SAVE,
    batch_row_errors,
    row_error_code,
)
from target_pardot.settings import Settings
from target_pardot.stats import RunStats

logger = logging.getLogger("target-pardot")

V5_RETURN_FIELDS = ("id", "email")
_TRANSIENT_ROW_CODES = frozenset({CODE_UNABLE_TO_SAVE, CODE_CONFLICTING_UPDATE})
_TRANSIENT_ROW_MESSAGES = ("Unable to save the prospect", "Conflicting Update")


@dataclass
class PendingRow:
    """A row waiting for delivery, with what is needed to report it."""

    stream: str
    position: int
    record: dict[str, Any]
    row: ProspectRow


@dataclass
class _Item:
    pending: PendingRow
    element: dict[str, Any]
    attempts: int = 0


def run_in_parallel(executor: ThreadPoolExecutor, jobs: Iterable[Callable[[], None]]) -> None:
    """Run every job; after the first failure start no new one, wait for the rest, re-raise.

    Calls already in flight are never abandoned, so their outcome is always known.
    """
    stop = threading.Event()

    def guarded(job: Callable[[], None]) -> None:
        if not stop.is_set():
            try:
                job()
            except BaseException:
                stop.set()
                raise

    futures: list[Future[None]] = [executor.submit(guarded, job) for job in jobs]
    first_error: BaseException | None = None
    for future in futures:
        error = future.exception()
        if error is not None and first_error is None:
            first_error = error
    if first_error is not None:
        raise first_error


def _is_transient_row_error(message: str) -> bool:
    return row_error_code(message) in _TRANSIENT_ROW_CODES or message.startswith(
        _TRANSIENT_ROW_MESSAGES
    )


class ProspectDelivery:
    """Sends prospect rows for one sink. Thread-safe; shares the client with other sinks."""

    def __init__(
        self,
        *,
        client: PardotClient,
        settings: Settings,
        stats: RunStats,
        reporter: RejectionReporter,
        executor: ThreadPoolExecutor,
        tracker: StateTracker,
    ) -> None:
        self.client = client
        self.settings = settings
        self.stats = stats
        self.reporter = reporter
        self.executor = executor
        self.tracker = tracker
        self.operation = "batchUpdate" if settings.prospect_operation == "update" else "batchUpsert"
        self.flags = list_flags(
            settings.prospect_lists, add=settings.prospect_list_operation == "add"
        )
        self._warned_split = False

    # -- entry point ------------------------------------------------------------------

    def deliver(self, rows: Sequence[PendingRow]) -> None:
        v4_items = [
            _Item(p, v4_element(p.row.fields, self.flags)) for p in rows if p.row.route == ROUTE_V4
        ]
        v5_rows = [p for p in rows if p.row.route == ROUTE_V5]
        if self.settings.dry_run:
            self._plan_only(v4_items, v5_rows)
            for pending in rows:
                self._settle(pending)
            return
        jobs: list[Callable[[], None]] = [
            partial(self._send_v4, batch) for batch in self._batches(v4_items)
        ]
        upserted: list[tuple[PendingRow, int]] = []
        lock = threading.Lock()

        def upsert(pending: PendingRow) -> None:
            prospect_id = self._send_v5(pending)
            if prospect_id is not None:
                with lock:
                    upserted.append((pending, prospect_id))

        jobs += [partial(upsert, p) for p in v5_rows]
        run_in_parallel(self.executor, jobs)
        if self.flags and upserted:
            self._apply_lists_by_id(upserted)

    def _batches(self, items: Iterable[_Item]) -> list[list[_Item]]:
        return list(
            plan_batches(
                items,
                size_of=lambda item: encoded_size(item.element),
                max_payload=self.settings.max_payload,
            )
        )

    def _plan_only(self, v4_items: list[_Item], v5_rows: list[PendingRow]) -> None:
        for batch in self._batches(v4_items):
            self.stats.plan(f"prospect/{self.operation}", len(batch))
        for _ in v5_rows:
            self.stats.plan("prospect/upsertLatestByEmail", 1)
        if self.flags and v5_rows:
            for batch in plan_batches(v5_rows, size_of=lambda _: 64, max_payload=10**9):
                self.stats.plan("prospect/batchUpdate", len(batch))

    # -- v4 batches -------------------------------------------------------------------

    def _send_v4(self, batch: list[_Item], operation: str | None = None) -> None:
        operation = operation or self.operation
        body = batch_body([item.element for item in batch])
        # On AMPSEA accounts an email-only row always creates a prospect: sending it twice
        # creates two. Such a batch is not replayed blindly after an ambiguous failure.
        idempotent = operation == "batchUpdate" or all(
            "id" in item.element or "fid" in item.element for item in batch
        )
        try:
            reply = self.client.v4_batch(operation, body, idempotent=idempotent)
        except PayloadTooLarge as exc:
            self._split(batch, operation, exc)
            return
        except RetryableError as exc:
            self._reroute_after_ambiguous_failure(batch, exc)
            return
        errors = batch_row_errors(reply.body)
        retry_later: list[_Item] = []
        delivered = 0
        for index, item in enumerate(batch):
            message = errors.get(index)
            if message is None:
                delivered += 1
                self._settle(item.pending)
                continue
            if _is_transient_row_error(message) and item.attempts < self.settings.maximum_retries:
                item.attempts += 1
                retry_later.append(item)
                continue
            self._reject(item.pending, "pardot_rejected", message, row_error_code(message))
        self.stats.add("rows_sent", delivered)
        self.stats.add("updated" if reply.status == 200 else "created_or_updated", delivered)
        # Emit STATE as soon as it is covered, not only when the whole drain is over, so
        # an interrupted run resumes as close as possible to where it stopped.
        self.tracker.emit_ready()
        if retry_later:
            self.stats.retry("row_transient_error")
            self._send_v4(retry_later, operation)

    def _split(self, batch: list[_Item], operation: str, exc: PayloadTooLarge) -> None:
        if len(batch) == 1:
            self._reject(
                batch[0].pending,
                "payload_too_large",
                f"Pardot refused the request as too large (HTTP {exc.status}) even for this "
                "row alone",
                exc.status,
            )
            return
        if not self._warned_split:
            self._warned_split = True
            logger.warning(
                "Pardot answered HTTP %s (request too large) to a batch of %d rows; splitting "
                "it. If this repeats, lower 'max_payload' (now %d bytes).",
                exc.status,
                len(batch),
                self.settings.max_payload,
            )
        self.stats.retry(f"http_{exc.status}_split")
        middle = len(batch) // 2
        self._send_v4(batch[:middle], operation)
        self._send_v4(batch[middle:], operation)

    def _reroute_after_ambiguous_failure(self, batch: list[_Item], exc: RetryableError) -> None:
        """Pardot may have applied the batch. Finish it without creating duplicates.

        Rows keyed by id or fid are idempotent and go again as a batch. Email-only rows go
        through v5 upsertLatestByEmail one by one: if the lost call created the prospect, it
        is updated; if it did not, the latest prospect with that email is updated, or one
        is created. Either way no second copy appears.
        """
        keyed = [item for item in batch if "id" in item.element or "fid" in item.element]
        email_only = [item for item in batch if item not in keyed]
        logger.warning(
            "A batch of %d rows may or may not have been applied (%s); re-sending %d keyed "
            "rows as a batch and %d email-only rows through upsertLatestByEmail so that "
            "none is created twice.",
            len(batch),
            exc,
            len(keyed),
            len(email_only),
        )
        self.stats.retry("ambiguous_failure_rerouted")
        if keyed:
            self._send_v4(keyed)
        upserted = []
        for item in email_only:
            prospect_id = self._send_v5(item.pending)
            if prospect_id is not None:
                upserted.append((item.pending, prospect_id))
        if self.flags and upserted:
            # Already on a worker thread: send in line rather than wait on the same pool.
            for list_batch in self._batches(self._list_items(upserted)):
                self._send_v4(list_batch, "batchUpdate")

    # -- v5 upsert by email ----------------------------------------------------------

    def _send_v5(self, pending: PendingRow) -> int | None:
        body = v5_upsert_body(
            pending.row.fields,
            search_deleted=self.settings.search_deleted_prospects,
            return_fields=V5_RETURN_FIELDS,
        )
        try:
            reply = self.client.v5_upsert_latest_by_email(body)
        except PardotApiError as exc:
            if isinstance(exc, RetryableError) or exc.status not in (400, 422):
                raise
            self._reject(pending, "pardot_rejected", str(exc), exc.code)
            return None
        self.stats.add("rows_sent")
        self.stats.add("created" if reply.status == 201 else "updated")
        prospect_id = reply.body.get("id") if isinstance(reply.body, dict) else None
        if not self.flags or prospect_id is None:
            # With lists to apply, the row settles when its list call succeeds.
            self._settle(pending)
        return int(prospect_id) if prospect_id is not None else None

    def _apply_lists_by_id(self, upserted: list[tuple[PendingRow, int]]) -> None:
        """List flags for rows upserted through v5, in batchUpdate calls keyed by id."""
        jobs = [
            partial(self._send_v4, batch, "batchUpdate")
            for batch in self._batches(self._list_items(upserted))
        ]
        run_in_parallel(self.executor, jobs)

    def _list_items(self, upserted: list[tuple[PendingRow, int]]) -> list[_Item]:
        return [_Item(pending, {"id": pid, **self.flags}) for pending, pid in upserted]

    def _settle(self, pending: PendingRow) -> None:
        self.tracker.settle(pending.stream, (pending.position,))

    def _reject(self, pending: PendingRow, category: str, reason: str, code: Any) -> None:
        self.reporter.reject(
            stream=pending.stream,
            position=pending.position,
            record=pending.record,
            key=pending.row.key,
            category=category,
            reason=reason,
            code=code,
            during_delivery=True,
        )
        self._settle(pending)
