"""Deliver list memberships: batch calls with list flags, per-membership calls only for
explicit opt-outs.

One v4 batchUpdate element `{"id": P, "list_L1": 1, "list_L2": 1}` carries every list
change of a prospect, and one call carries 50 prospects. Per-membership calls cost one
API call each, so they are used only where a batch cannot say it: `opted_out`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from target_pardot.errors import PardotApiError, PayloadTooLarge, RetryableError
from target_pardot.pardot.responses import (
    CODE_ALREADY_MEMBER,
    CODE_INVALID_LIST_ID,
    batch_row_errors,
    row_error_code,
)
from target_pardot.rows.memberships import (
    MembershipRow,
    group_memberships_by_prospect,
    membership_element,
)
from target_pardot.rows.payloads import batch_body, encoded_size, plan_batches
from target_pardot.rows.v3 import v3_calls, v3_row_errors
from target_pardot.run.collaborators import DeliveryParts
from target_pardot.run.ledger import MEMBERSHIPS, membership_fingerprint, membership_key
from target_pardot.sinks.base import Delivery, Pending, triage

logger = logging.getLogger("target-pardot")

#: A list membership on its way.
PendingMembership = Pending[MembershipRow]


@dataclass
class _ProspectGroup:
    """All memberships of one prospect that travel in one batch element."""

    prospect_id: int
    members: list[PendingMembership]
    attempts: int = 0

    @property
    def list_ids(self) -> list[int]:
        return list(dict.fromkeys(m.row.list_id for m in self.members))


class MembershipDelivery(Delivery):
    def __init__(self, parts: DeliveryParts, *, add: bool | None = None) -> None:
        super().__init__(parts)
        # Mirroring sends its additions through here (add=True) whatever the operation.
        self.add = self.settings.list_membership_operation != "delete" if add is None else add
        #: Asked once the rows to write are known (unchanged ones dropped): False stops
        #: the delivery before any write (a dynamic list: sinks.audiences.lists_writable).
        self.may_write: Callable[[Sequence[PendingMembership]], bool] = lambda rows: True

    #: Whether rows the ledger knows as unchanged are skipped. A mirror's additions are
    #: decided from the members just read, but are still recorded in the ledger.
    skips_unchanged = True

    def deliver(self, rows: Sequence[PendingMembership]) -> None:
        if self.ledger is not None:
            if self.skips_unchanged:
                rows = self.drop_unchanged(
                    rows, self.ledger, MEMBERSHIPS, key_of=ledger_key,
                    fingerprint_of=self.fingerprint_of,
                )  # fmt: skip
            else:
                for pending in rows:
                    pending.fingerprint = self.fingerprint_of(pending)
        if rows and not self.may_write(rows):
            return
        explicit = [p for p in rows if self.add and p.row.opted_out is not None]
        batched = [p for p in rows if not (self.add and p.row.opted_out is not None)]
        groups = [
            _ProspectGroup(prospect_id, members)
            for prospect_id, members in group_memberships_by_prospect(
                batched, key=lambda p: p.row
            ).items()
        ]
        batches = self._batches(groups)
        if self.settings.dry_run:
            verb = "add" if self.add else "remove"
            pairs = len({(p.row.list_id, p.row.prospect_id) for p in rows})
            self.stats.add(f"memberships_would_{verb}", pairs)
            logger.info("Dry run: would %s %d memberships.", verb, pairs)
            for batch in batches:
                self.stats.plan("prospect/batchUpdate", sum(len(g.members) for g in batch))
            for _ in explicit:
                self.stats.plan("listMembership/create", 1)
            for pending in rows:
                self._settle(pending)
            return
        for batch in batches:
            self.sender.submit(partial(self._send_groups, batch))
        for pending in explicit:
            self.sender.submit(partial(self._send_explicit, pending))

    def fingerprint_of(self, pending: PendingMembership) -> bytes:
        return membership_fingerprint(self.add, pending.row.opted_out)

    def _element(self, group: _ProspectGroup) -> dict[str, Any]:
        return membership_element(group.prospect_id, group.list_ids, add=self.add)

    def _batches(self, groups: list[_ProspectGroup]) -> list[list[_ProspectGroup]]:
        return list(
            plan_batches(
                groups,
                size_of=lambda g: encoded_size(self._element(g)),
                max_payload=self.settings.max_payload,
            )
        )

    def _send_groups(self, groups: list[_ProspectGroup]) -> None:
        """One batchUpdate in the run's v3/v4 version (again in the other one if Pardot
        answers error 88 or 89)."""
        self.client.api_version.run(partial(self._send_groups_in, groups))

    def _send_groups_in(self, groups: list[_ProspectGroup], version: int) -> None:
        if version == 3:
            # Keyed by prospect id; a prospect whose lists were split goes in two calls.
            _, calls = v3_calls(groups, self._element)
            if len(calls) > 1:
                for part, _, _ in calls:
                    self._send_groups(part)
                return
            body = calls[0][2]
        else:
            body = batch_body([self._element(g) for g in groups])
        try:
            reply = self.client.endpoints.prospect_batch(
                "batchUpdate", body, version=version, idempotent=True
            )
        except PayloadTooLarge as exc:
            self.split_too_large(groups, exc, self._send_groups, _members)
            return
        if version == 3:
            errors = v3_row_errors(reply.body, [str(g.prospect_id) for g in groups])[0]
        else:
            errors = batch_row_errors(reply.body)
        outcome = triage(groups, errors, max_retries=self.settings.maximum_retries)
        again = outcome.again
        for group, message in outcome.refused:
            code = row_error_code(message)
            if code == CODE_INVALID_LIST_ID and len(group.list_ids) > 1:
                # Pardot refuses the whole element for one unknown list; send each list
                # alone so that only the unknown list's rows are rejected.
                again += [
                    _ProspectGroup(group.prospect_id, [m for m in group.members
                                                       if m.row.list_id == list_id])
                    for list_id in group.list_ids
                ]  # fmt: skip
            else:
                for member in group.members:
                    self._reject(member, "pardot_rejected", message, code)
        accepted = [member for group in outcome.accepted for member in group.members]
        self.record_accepted(accepted, MEMBERSHIPS, ledger_key)
        done = len(accepted)
        self.stats.add("memberships_added" if self.add else "memberships_removed", done)
        self.stats.add("rows_sent", done)
        self.tracker.emit()
        if again:
            self.stats.retry("membership_row_resent")
            for batch in self._batches(again):
                self._send_groups(batch)

    def _send_explicit(self, pending: PendingMembership) -> None:
        """Create the membership with its opted_out value, or update it if it exists."""
        row = pending.row

        def send(action: str) -> None:
            self.client.api_version.run(
                lambda version: self.client.endpoints.list_membership(
                    action, row.list_id, row.prospect_id, version=version, opted_out=row.opted_out
                )
            )

        try:
            try:
                send("create")
            except PardotApiError as exc:
                if isinstance(exc, RetryableError) or exc.code != CODE_ALREADY_MEMBER:
                    raise
                send("update")
        except PardotApiError as exc:
            if isinstance(exc, RetryableError) or exc.code is None:
                raise
            self._reject(pending, "pardot_rejected", str(exc), exc.code)
            return
        self.stats.add("memberships_added")
        self.stats.add("rows_sent")
        self.record_accepted([pending], MEMBERSHIPS, ledger_key)


def ledger_key(pending: PendingMembership) -> str:
    return membership_key(pending.row.list_id, pending.row.prospect_id)


def _members(group: _ProspectGroup) -> list[PendingMembership]:
    return group.members
