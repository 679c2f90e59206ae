"""Deliver prepared prospect rows: batching, parallel calls, and mapping replies to rows.

Sinks hand over rows; this module decides which call carries each row, hands the calls
to the background sender (the client's gate holds the process-wide limit on calls in
flight), and turns every per-row outcome into a count or a rejection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, Protocol

from target_pardot.errors import (
    PardotApiError,
    PayloadTooLarge,
    RetryableError,
    WrongApiVersion,
)
from target_pardot.pardot.responses import batch_row_errors, row_error_code
from target_pardot.rows.payloads import (
    QUOTED_COMMA_SIZE,
    batch_body_from_json,
    form_quoted_length,
    plan_batches,
    to_json,
    v4_element,
    v5_upsert_body,
)
from target_pardot.rows.v3 import FID_NEEDS_V4, v3_calls, v3_row_errors
from target_pardot.run.collaborators import DeliveryParts, ProspectLists
from target_pardot.run.identity_check import IdentityRouter
from target_pardot.run.import_holds import ImportHolds
from target_pardot.run.key_order import KeyOrder, email_identities, prospect_identities
from target_pardot.run.ledger import PROSPECTS, prospect_fingerprint, prospect_ledger_key
from target_pardot.run.plan import ImportChoice, Lane, Plan, Planned, plan_prospects
from target_pardot.run.plan import is_email_only as is_email_only_row
from target_pardot.sinks.base import Delivery, triage
from target_pardot.sinks.prospect_items import (
    BatchItem,
    PendingRow,
    Upserted,
    is_email_only,
    prospect_key_of,
    prospect_list_flags,
    rows_of_item,
)
from target_pardot.sinks.renames import RenameSender

logger = logging.getLogger("target-pardot")

V5_RETURN_FIELDS = ("id", "email")
#: An upsert_by_email load this large is worth a hint about a campaign for imports.
V5_CALLS_BEFORE_IMPORT_HINT = 5_000
#: Lanes whose rows a dry run's plan does not settle: the import lane settles its own
#: (sinks/bulk_import.py), and a held row is planned again once its import is done.
_NOT_SETTLED_HERE = (Lane.IMPORT, Lane.HELD)


class ImportLane(Protocol):
    """The import lane of ``prospect_operation: auto`` (sinks/auto_lane.py), as the
    planner's delivery sees it."""

    holds: ImportHolds[PendingRow]
    replan: Callable[[list[PendingRow]], None] | None

    def choice(self) -> ImportChoice: ...
    def take(self, rows: Sequence[PendingRow]) -> None: ...
    def park(self, rows: Sequence[PendingRow]) -> None: ...


class ProspectDelivery(Delivery):
    """Sends prospect rows for one sink. Thread-safe; shares the client with other sinks."""

    def __init__(self, parts: DeliveryParts, *, prospect_lists: ProspectLists | None = None,
                 identity: IdentityRouter | None = None,
                 imports: ImportLane | None = None) -> None:  # fmt: skip
        """``imports``: the import lane of ``prospect_operation: auto`` (None: none)."""
        super().__init__(parts)
        settings = self.settings
        self.operation = "batchUpdate" if settings.prospect_operation == "update" else "batchUpsert"
        self.flags = prospect_list_flags(prospect_lists)
        self.order = KeyOrder()
        self._v5_rows = 0
        self.identity = identity
        self.imports = imports
        if imports is not None:
            imports.replan = self.replan_released
        # Ledger keys (old addresses) a match_email row moved its prospect away from, with
        # the stream position of the latest such row.
        self._moved_away: dict[str, int] = {}
        self._moves_lock = threading.Lock()
        self.renames = RenameSender(
            self.client.endpoints, self.client.api_version, settings.maximum_retries + 1
        )

    # -- entry point ------------------------------------------------------------------

    def deliver(self, rows: Sequence[PendingRow], *, ledger_checked: bool = False) -> None:
        """Plan the calls for these rows and hand them to the sender (returns at once unless
        its queue is full). ``ledger_checked``: an import already dropped unchanged rows."""
        if self.ledger is not None and not ledger_checked:
            rows = self.drop_unchanged(
                rows,
                self.ledger,
                PROSPECTS,
                key_of=prospect_key_of,
                fingerprint_of=lambda p: prospect_fingerprint(p.row, self.flags),
            )
        imports = self.imports.choice() if self.imports is not None else None
        held = self.imports.holds.addresses if self.imports is not None else frozenset()
        self._send_plan(self.plan(rows, version=self._version_for(rows, imports),
                                  imports=imports, held=held))  # fmt: skip

    def plan(
        self,
        rows: Sequence[PendingRow],
        *,
        version: int | None,
        imports: ImportChoice | None = None,
        held: frozenset[str] = frozenset(),
    ) -> Plan[PendingRow]:
        """Each row's lane, decided once (run/plan.py); counted in rows_by_path."""
        plan = plan_prospects(
            rows,
            version=version,
            upsert_by_email=self.settings.upsert_by_email,
            known_ids=self.identity.known_ids if self.identity is not None else None,
            imports=imports,
            held=held,
        )
        self.stats.routed(plan.rows_by_lane())
        return plan

    def _version_for(
        self, rows: Sequence[PendingRow], imports: ImportChoice | None
    ) -> int | None:
        """The version the plan assumes: the account's, once known; None while not.

        Only email-only rows depend on it. On a v3 account (AMPSEA off) email identifies
        the prospect, so an email-only batch row is a true upsert: 50 rows per call and
        never a duplicate. A v5 call there could even create a second prospect for a case
        variant of a stored email (v5 matches case-sensitively). While the version is not
        known, these rows are sent as v3 batches first: error 88 says the account takes
        v4, and they are planned again for it (see _send_batch). When an import may be
        cheaper, one read asks first: an import plan cannot be taken back."""
        api = self.client.api_version
        if self.settings.dry_run or api.known:
            return api.current
        if not self.settings.upsert_by_email or not any(is_email_only_row(p.row)
                                                          for p in rows):  # fmt: skip
            return api.current
        if imports is not None:
            api.run(self.client.endpoints.version_probe)
            return api.current
        api.prefer(3)
        return None

    def _send_plan(self, plan: Plan[PendingRow]) -> None:
        if self.imports is not None:
            self.imports.take([p.pending for p in plan.of(Lane.IMPORT)])
            self.imports.park([p.pending for p in plan.of(Lane.HELD)])
            self.imports.holds.renaming([p.pending for p in plan.rows
                                         if p.lane not in (Lane.IMPORT, Lane.HELD)
                                         and p.pending.row.match_email is not None])
        if self.settings.dry_run:
            self._plan_only(plan)
            return
        batched = [self._item(p) for p in plan.of(Lane.BATCH, Lane.EMAIL_BATCH)]
        mapped = [self._mapped_item(p) for p in plan.of(Lane.BY_MAPPED_ID)]
        v5_rows = [p.pending for p in plan.of(Lane.V5)]
        waiting = [(p.pending, p.mapped_id) for p in plan.of(Lane.V5_AFTER_MAPPED)]
        self._count_v5(len(v5_rows) + len(waiting))
        # Every call waits for the earlier calls still in flight that carry one of its
        # prospects (KeyOrder), on every version: calls in parallel, or a retried call,
        # must never let an older row of a prospect land after a newer one.
        calls = [(b, self.operation) for b in self._batches(batched)]
        calls += [(b, "batchUpdate") for b in self._batches(mapped)]  # by the map's ids
        for batch, operation in calls:
            job = partial(self._send_v4, batch, operation)
            keys = [key for item in batch for key in prospect_identities(item.element)]
            self.sender.submit(self.order.in_order(keys, job))
        if v5_rows or waiting:
            count = len(v5_rows) + len(waiting)
            upserted = Upserted(count, self._apply_lists_by_id) if self.flags else None
            # In stream order: a row waiting for its mapped prospect's change of address
            # may come before a later row by the new address (which must find it moved).
            both = [(p, None) for p in v5_rows] + waiting
            for p, pid in sorted(both, key=lambda pair: pair[0].position):
                keys = email_identities(str(p.row.fields.get("email") or ""), p.row.match_email)
                if pid is not None:
                    keys = [pid, *keys]
                self.sender.submit(self.order.in_order(keys, partial(self._upsert, p, upserted)))

    def replan_released(self, rows: list[PendingRow]) -> None:
        """Rows that waited for an import, now that it completed: planned again (without
        the import lane), in stream order."""
        self.stats.routed({Lane.HELD.value: -len(rows)})
        self._send_plan(self.plan(rows, version=self._version_for(rows, None)))

    def _item(self, planned: Planned[PendingRow]) -> BatchItem:
        pending = planned.pending
        row = pending.row
        if self.flags:
            item = BatchItem.of(pending, v4_element(row.fields, self.flags))
        else:
            # Without list flags the element is the row's fields: reuse their JSON.
            item = BatchItem.of(pending, row.fields, row.text)
        item.lane = planned.lane
        return item

    def _mapped_item(self, planned: Planned[PendingRow]) -> BatchItem:
        """An email-only row the identity map knows: a batchUpdate element by its id."""
        pending = planned.pending
        item = BatchItem.of(pending, {**pending.row.fields, **self.flags, "id": planned.mapped_id})
        item.mapped_id = planned.mapped_id
        item.lane = Lane.BY_MAPPED_ID
        return item

    def _count_v5(self, rows: int) -> None:
        before = self._v5_rows
        self._v5_rows += rows
        if before <= V5_CALLS_BEFORE_IMPORT_HINT < self._v5_rows:
            logger.info(
                "upsert_by_email has now needed over %d upsertLatestByEmail calls, one per "
                "row; with a campaign for the prospects they may create "
                "('default_campaign_id'), prospect_operation 'auto' loads such rows through "
                "the Import API in a few calls per 100,000 rows.",
                V5_CALLS_BEFORE_IMPORT_HINT,
            )

    def _batches(self, items: Iterable[BatchItem]) -> list[list[BatchItem]]:
        return list(
            plan_batches(
                items,
                size_of=lambda item: item.size,
                max_payload=self.settings.max_payload,
            )
        )

    def _plan_only(self, plan: Plan[PendingRow]) -> None:
        """Dry run: count the calls the plan would make, and settle its rows (all but
        those the import lane took or holds). A batch row is measured, not built into a
        BatchItem: only the batches' sizes matter here."""
        v4_sizes = [self._item_size(p) for p in plan.of(Lane.BATCH, Lane.EMAIL_BATCH)]
        mapped_sizes = [self._mapped_item(p).size for p in plan.of(Lane.BY_MAPPED_ID)]
        v5_rows = len(plan.of(Lane.V5, Lane.V5_AFTER_MAPPED))
        self._count_v5(v5_rows)
        for operation, sizes in ((self.operation, v4_sizes), ("batchUpdate", mapped_sizes)):
            for batch in plan_batches(sizes, size_of=int, max_payload=self.settings.max_payload):
                self.stats.plan(f"prospect/{operation}", len(batch))
        if v5_rows:
            self.stats.plan("prospect/upsertLatestByEmail", v5_rows, calls=v5_rows)
        if self.flags and v5_rows:
            for batch in plan_batches(range(v5_rows), size_of=lambda _: 64, max_payload=10**9):
                self.stats.plan("prospect/batchUpdate", len(batch))
        self._settle_all([p.pending for p in plan.rows if p.lane not in _NOT_SETTLED_HERE])

    def _item_size(self, planned: Planned[PendingRow]) -> int:
        """The bytes ``_item(planned)`` adds to a batch body, without building it."""
        row = planned.pending.row
        text = to_json(v4_element(row.fields, self.flags)) if self.flags else row.text
        return form_quoted_length(text) + QUOTED_COMMA_SIZE

    # -- v4 batches -------------------------------------------------------------------

    def _send_v4(self, batch: list[BatchItem], operation: str | None = None) -> None:
        """Send one batch in the run's v3/v4 version (again in the other one if Pardot
        answers error 88 or 89)."""
        operation = operation or self.operation
        self.client.api_version.run(partial(self._send_batch, batch, operation))

    def _send_batch(self, batch: list[BatchItem], operation: str, version: int) -> None:
        if version == 3:
            self._send_v3_in_order(batch, operation)
            return
        by_email = [i for i in batch if is_email_only(i)]
        rest = [i for i in batch if not is_email_only(i)]
        if rest:
            self._send_v4_batch(rest, operation)
        if by_email:
            # Email-only rows tried in v3 first, on a v4 account: planned again for v4 (by
            # mapped id, else one v5 call each; never a v4 batch by email, which would
            # create them again). In line, not queued: this call holds its prospects'
            # place in stream order (KeyOrder) until they are sent, so a later row of
            # one never lands first.
            plan = self.plan([item.pending for item in by_email], version=4)
            self.stats.routed({Lane.EMAIL_BATCH.value: -len(by_email)})
            mapped = [self._mapped_item(p) for p in plan.of(Lane.BY_MAPPED_ID)]
            for part in self._batches(mapped):
                self._send_v4(part, "batchUpdate")
            rows = [p.pending for p in plan.of(Lane.V5_AFTER_MAPPED)]
            rows += [p.pending for p in plan.of(Lane.V5)]
            self._count_v5(len(rows))
            self._upsert_in_line(sorted(rows, key=lambda p: p.position))

    def _send_v4_batch(self, batch: list[BatchItem], operation: str) -> None:
        body = batch_body_from_json([item.text for item in batch])
        # On AMPSEA accounts an email-only row always creates a prospect: sending it twice
        # creates two. Such a batch is not replayed blindly after an ambiguous failure.
        idempotent = operation == "batchUpdate" or all(
            "id" in item.element or "fid" in item.element for item in batch
        )
        try:
            reply = self.client.endpoints.prospect_batch(
                operation, body, version=4, idempotent=idempotent
            )
        except PayloadTooLarge as exc:
            self.split_too_large(
                batch, exc, partial(self._send_v4, operation=operation), rows_of_item
            )
            return
        except RetryableError as exc:
            self._reroute_after_ambiguous_failure(batch, exc)
            return
        self._settle_reply(
            batch, operation, batch_row_errors(reply.body), reply.status,
            v4_upsert=operation == "batchUpsert",
        )  # fmt: skip

    def _send_v3_in_order(self, batch: list[BatchItem], operation: str) -> None:
        """A v3 batch keys a row by its email and cannot match on another address: a row
        that changes its prospect's address (match_email) goes through v5 (R20), between
        the rows before it and the rows after it, as the stream has them."""
        if not any(item.pending.row.match_email for item in batch):
            self._send_v3(batch, operation)
            return
        if batch[0].pending.row.match_email and not self.client.api_version.known:
            # No v3 call answers before this row's v5 call: ask (88 sends it the v4 way).
            self.client.endpoints.version_probe(3)
        group: list[BatchItem] = []
        for item in batch:
            if not item.pending.row.match_email:
                group.append(item)
                continue
            if group:
                self._send_v3(group, operation)
                group = []
            self._upsert_in_line([item.pending])
        if group:
            self._send_v3(group, operation)

    def _send_v3(self, batch: list[BatchItem], operation: str) -> None:
        """v3 batches: keyed by id or email. Email identifies the prospect on these
        accounts, so every v3 batch is safe to repeat: after an ambiguous failure the
        client sends it again as it is, never through v5."""
        keyless, calls = v3_calls(batch, lambda item: item.element)
        if keyless and not calls and not self.client.api_version.known:
            self._fid_rows_while_probing(keyless, operation)
            return
        for part, identifiers, body in calls:
            try:
                reply = self.client.endpoints.prospect_batch(
                    operation, body, version=3, idempotent=True
                )
            except PayloadTooLarge as exc:
                self.split_too_large(
                    part, exc, partial(self._send_v4, operation=operation), rows_of_item
                )
                continue
            errors, unmatched = v3_row_errors(reply.body, identifiers)
            if unmatched:
                logger.warning("Pardot reported errors for unknown rows: %s", unmatched[:5])
            self._settle_reply(part, operation, errors, reply.status)
        # Only now: a v3 call was accepted, so the account takes v3 and cannot address a
        # prospect by fid. (Had it refused, the whole batch would go again in v4.)
        for item in keyless:
            self._reject(item.pending, "fid_needs_v4", FID_NEEDS_V4, "fid_needs_v4")

    def _fid_rows_while_probing(self, items: list[BatchItem], operation: str) -> None:
        """fid-only rows while v3 was being tried for email-only rows: they need v4, so
        they go in v4; a v3 account refuses that (89), and then they cannot go at all."""
        version = self.client.api_version
        version.prefer(4)
        try:
            self._send_v4_batch(items, operation)
        except WrongApiVersion as refusal:
            version.refused(4, refusal.code or 89)
            for item in items:
                self._reject(item.pending, "fid_needs_v4", FID_NEEDS_V4, "fid_needs_v4")

    def _settle_reply(
        self,
        batch: list[BatchItem],
        operation: str,
        errors: dict[int, str],
        status: int,
        *,
        v4_upsert: bool = False,
    ) -> None:
        """Count, record and settle the rows of a batch reply; send rows with a
        transient per-row error again."""
        outcome = triage(batch, errors, max_retries=self.settings.maximum_retries)
        # A refused row sent by its mapped id (error 3: deleted or merged since, or any
        # other) goes through upsertLatestByEmail, which decides: a stale map rejects none.
        stale = [item for item, _ in outcome.refused if item.mapped_id is not None]
        for item, message in outcome.refused:
            if item.mapped_id is None:
                self._reject(item.pending, "pardot_rejected", message, row_error_code(message))
        accepted = outcome.accepted
        if self.identity is not None:
            self.identity.updated_by_id([(i.pending.row, i.mapped_id) for i in accepted])
        self._forget_old_addresses([i.pending for i in accepted if not i.lists_only])
        self._record([item.pending for item in accepted])
        delivered = sum(1 for item in accepted if not item.lists_only)
        if v4_upsert:
            # A v4 account has AMPSEA on: there an email-only batchUpsert row always
            # creates a prospect (upsert_by_email: false).
            self.stats.add("created_by_email_batch", sum(1 for i in accepted if _email_keyed(i)))
        self.stats.add("rows_sent", delivered)
        self.stats.add("updated" if status == 200 else "created_or_updated", delivered)
        # Emit STATE as soon as it is covered, not only when the whole drain is over, so
        # an interrupted run resumes as close as possible to where it stopped.
        self.tracker.emit()
        if outcome.again:
            self.stats.retry("row_transient_error")
            self._send_v4(outcome.again, operation)
        if stale and self.identity is not None:
            self.identity.refused([item.pending.row for item in stale])
            self._upsert_in_line([item.pending for item in stale])

    def _reroute_after_ambiguous_failure(self, batch: list[BatchItem], exc: RetryableError) -> None:
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
            "rows as a batch and %d email-only rows so that none is created twice.",
            len(batch), exc, len(keyed), len(email_only),
        )  # fmt: skip
        self.stats.retry("ambiguous_failure_rerouted")
        if keyed:
            self._send_v4(keyed)
        if email_only and not self._settled_as_v3(email_only):
            self._upsert_in_line([item.pending for item in email_only])

    def _settled_as_v3(self, items: list[BatchItem]) -> bool:
        """An unknown outcome is resolved by the account's own semantics. On a v3 account
        the lost v4 call was refused (89), never applied, and v5 could duplicate a case
        variant: the rows go again as a v3 batch (even if another call learned the version
        meanwhile). While it is unknown they try v3 first; an AMPSEA account answers 88."""
        version = self.client.api_version
        if version.known:
            if version.current != 3:
                return False
            self._send_v4(items, self.operation)  # in the run's version: v3
            return True
        version.prefer(3)
        try:
            self._send_v3(items, self.operation)
        except WrongApiVersion as refusal:
            version.refused(3, refusal.code or 88)
            return False
        version.confirm(3)
        return True

    def _upsert_in_line(self, rows: list[PendingRow]) -> None:
        """Rows through upsertLatestByEmail, then their lists, from a worker thread:
        sent in line rather than queued behind this very call."""
        upserted = []
        for pending in rows:
            prospect_id = self._send_v5(pending)
            if prospect_id is not None:
                upserted.append((pending, prospect_id))
        if self.flags and upserted:
            for list_batch in self._batches(self._list_items(upserted)):
                self._send_v4(list_batch, "batchUpdate")

    # -- v5 upsert by email ----------------------------------------------------------

    def _upsert(self, pending: PendingRow, upserted: Upserted | None) -> None:
        prospect_id = self._send_v5(pending)
        if upserted is not None:
            upserted.add(pending, prospect_id)
        # STATE as soon as covered, as for batches: a killed run resumes close to its end.
        self.tracker.emit()

    def _send_v5(self, pending: PendingRow) -> int | None:
        row = pending.row

        def body_for(match_email: str | None) -> dict[str, Any]:
            return v5_upsert_body(
                row.fields,
                search_deleted=self.settings.search_deleted_prospects,
                return_fields=V5_RETURN_FIELDS,
                match_email=match_email,
                names=self.names,
            )

        try:
            if row.match_email:
                # A change of address must not be sent twice blindly (see renames.py).
                reply = self.renames.send(row.match_email, str(row.fields["email"]), body_for)
            else:
                reply = self.client.endpoints.v5_upsert_latest_by_email(body_for(None))
        except PardotApiError as exc:
            if isinstance(exc, RetryableError) or exc.status not in (400, 422):
                raise
            self._reject(pending, "pardot_rejected", str(exc), exc.code)
            return None
        self.stats.add("rows_sent")
        self.stats.add("created" if reply.status == 201 else "updated")
        self._forget_old_addresses([pending])
        prospect_id = reply.body.get("id") if isinstance(reply.body, dict) else None
        if prospect_id is not None and self.identity is not None:
            self.identity.learned(pending.row, int(prospect_id))
        if not self.flags:
            self._record([pending])
        elif prospect_id is None:
            # No id to set its lists by: settle it now, but the ledger does not record it.
            self._settle(pending)
        # Otherwise the row is accepted (and settles) when its list call succeeds.
        return int(prospect_id) if prospect_id is not None else None

    def _forget_old_addresses(self, rows: Iterable[PendingRow]) -> None:
        """A row that moved its prospect to a new address leaves the old one naming no
        prospect: the ledger's entry for it must not skip a later row by that address
        (which then creates its prospect). Nor may an earlier row by the old address,
        accepted only now (its list flags go after its upsert), record it again."""
        if self.ledger is None or self.settings.dry_run:
            return
        moved = [(prospect_ledger_key(f"email={p.row.match_email}"), p.position)
                 for p in rows if p.row.match_email]  # fmt: skip
        if not moved:
            return
        with self._moves_lock:
            for key, position in moved:
                self._moved_away[key] = max(position, self._moved_away.get(key, -1))
        self.ledger.forget(PROSPECTS, [key for key, _ in moved])

    def _record(self, rows: Sequence[PendingRow]) -> None:
        """Accepted rows into the ledger and settled; a row sent by an address a later
        row has since moved its prospect away from is settled only."""
        if self._moved_away:
            with self._moves_lock:
                for pending in rows:
                    moved_at = self._moved_away.get(prospect_key_of(pending))
                    if moved_at is not None and pending.position < moved_at:
                        pending.fingerprint = None
        self.record_accepted(rows, PROSPECTS, prospect_key_of)

    def _apply_lists_by_id(self, upserted: list[tuple[PendingRow, int]]) -> None:
        """List flags for rows upserted through v5, in batchUpdate calls keyed by id."""
        for batch in self._batches(self._list_items(upserted)):
            self.sender.submit_followup(partial(self._send_v4, batch, "batchUpdate"))

    def _list_items(self, upserted: list[tuple[PendingRow, int]]) -> list[BatchItem]:
        items = [BatchItem.of(pending, {"id": pid, **self.flags}) for pending, pid in upserted]
        for item in items:
            item.lists_only = True
        return items


def _email_keyed(item: BatchItem) -> bool:
    return not item.lists_only and "id" not in item.element and "fid" not in item.element
