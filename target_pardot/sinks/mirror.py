"""list_membership_operation: mirror. Each list named in a stream holds, afterwards,
exactly the prospects the stream named for it.

A mirror stream's rows are kept until the stream is complete: at the end of input, or at
an ACTIVATE_VERSION message for it (the tap's "this was the whole table"). Only then is
each list's current membership read, and the difference applied: missing members added
(list flags in v4 batchUpdate, as upsert does), members the stream did not name removed
(flag 0, which deletes the membership and never opts the prospect out). Members who opted
out of the list are never removed: they stay, opted out, and are reported, since deleting
their membership could lose the opt-out. A member whose prospect was deleted in Pardot
(error 3 on its removal) has nothing left to remove: reported, not a failure. A run that stops
before that point (daily limit, signal, crash, a rejected row that stops the run) changes
nothing: a partial stream must never empty a list. Additions wait as well, because only
the current members tell which rows are additions; that is what keeps the calls at
reads + additions/50 + removals/50.

STATE covers a mirror stream only once its removals are done (StateTracker.hold). With
skip_unchanged, additions and removals go into the ledger, so that a later upsert or
delete run knows what the list now holds.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from target_pardot.errors import EXIT_FAILURE, TargetPardotError
from target_pardot.pardot.list_members import Member, read_members
from target_pardot.pardot.responses import (
    CODE_INVALID_PROSPECT_ID,
    batch_row_errors,
    row_error_code,
)
from target_pardot.rows.memberships import membership_element
from target_pardot.rows.mirror_plan import (
    ListPlan,
    dry_run_line,
    guard_message,
    opted_out_line,
    plan_list,
)
from target_pardot.rows.payloads import batch_body, plan_batches
from target_pardot.rows.v3 import v3_calls, v3_row_errors
from target_pardot.run.collaborators import DeliveryParts, Mirrors, StreamStops
from target_pardot.run.ledger import MEMBERSHIPS, membership_fingerprint, membership_key
from target_pardot.run.list_directory import ListDirectory
from target_pardot.sinks.audiences import lists_writable
from target_pardot.sinks.base import Delivery
from target_pardot.sinks.memberships import MembershipDelivery, PendingMembership, ledger_key

logger = logging.getLogger("target-pardot")


class MirrorIncomplete(TargetPardotError):
    """A list of a mirror stream did not get all its removals (the guard, or Pardot)."""

    exit_code = EXIT_FAILURE


class _Additions(MembershipDelivery):
    """The additions of a mirror, counted per list as Pardot accepts them."""

    # The current members were just read: they, not the ledger, say what to add.
    skips_unchanged = False

    def __init__(self, parts: DeliveryParts) -> None:
        super().__init__(parts, add=True)

    def keep_present(self, rows: Sequence[PendingMembership]) -> None:
        """Rows naming a current member: nothing to send; the ledger learns they are
        members."""
        if self.ledger is not None:
            for pending in rows:
                pending.fingerprint = self.fingerprint_of(pending)
        Delivery.record_accepted(self, rows, MEMBERSHIPS, ledger_key)

    def record_accepted(self, rows: Sequence[Any], table: str,
                        key_of: Callable[[Any], str]) -> None:  # fmt: skip
        pairs = {(p.row.list_id, p.row.prospect_id) for p in rows}
        for list_id, added in Counter(list_id for list_id, _ in pairs).items():
            self.stats.mirror(list_id, added=added)
        super().record_accepted(rows, table, key_of)


class StreamMirror:
    """The rows of one mirror stream, kept by list until the stream is complete."""

    def __init__(self, parts: DeliveryParts, stream: str, *, stops: StreamStops,
                 directory: ListDirectory | None) -> None:  # fmt: skip
        self.parts = parts
        self.state = parts.outcomes.state
        self.stats = parts.outcomes.stats
        self.stops = stops
        self.directory = directory
        self.stream = stream
        self.rows: dict[int, list[PendingMembership]] = {}
        self._problems: list[str] = []

    def collect(self, rows: Sequence[PendingMembership]) -> None:
        if not rows:
            return
        self.state.hold(self.stream, min(p.position for p in rows))
        for pending in rows:
            self.rows.setdefault(pending.row.list_id, []).append(pending)

    def complete(self) -> None:
        """The stream is whole: make every list it named equal to it. Raises
        MirrorIncomplete (after doing everything else) when a list kept some members."""
        rows, self.rows = self.rows, {}
        if not rows or not lists_writable(self.directory, self.stops, self.stream, rows):
            return  # a stopped stream writes nothing (its STATE stays held)
        settings = self.parts.settings
        members = {list_id: self._current_members(list_id) for list_id in sorted(rows)}
        plans = [
            plan_list(list_id, {p.row.prospect_id for p in rows[list_id]}, members[list_id],
                      max_removal_percent=settings.mirror_max_removal_percent,
                      opted_out=[pid for pid, m in members[list_id].items() if m.opted_out])
            for list_id in sorted(rows)
        ]  # fmt: skip
        if settings.dry_run:
            self._report_dry_run(plans, rows)
        else:
            self._apply(plans, rows, members)
        problems = [guard_message(p) for p in plans if p.guard_stops_removals]
        problems += self._problems
        self._problems = []
        if problems:
            prefix = "Dry run: " if settings.dry_run else ""
            raise MirrorIncomplete(prefix + " ".join(problems))
        self.state.release(self.stream)
        self.state.emit()

    # -- steps --------------------------------------------------------------------------

    def _current_members(self, list_id: int) -> dict[int, Member]:
        if self.parts.settings.dry_run_offline or list_id <= 0:
            return {}  # offline, or a dry run's list that would be created: no members
        return read_members(self.parts.client.endpoints.v5_list_memberships, list_id)

    def _apply(self, plans: list[ListPlan], rows: dict[int, list[PendingMembership]],
               members: dict[int, dict[int, Member]]) -> None:  # fmt: skip
        sender = self.parts.sender
        delivery = _Additions(self.parts)
        additions: list[PendingMembership] = []
        for plan in plans:
            self.stats.mirror(plan.list_id, size_before=plan.size_before,
                                      unchanged=plan.unchanged)  # fmt: skip
            self._report_kept(plan)
            current = members[plan.list_id]
            present = []
            for pending in rows[plan.list_id]:
                # An explicit opted_out is sent even for a member, as upsert does.
                if pending.row.prospect_id in current and pending.row.opted_out is None:
                    present.append(pending)
                else:
                    additions.append(pending)
            delivery.keep_present(present)
        delivery.deliver(additions)
        sender.wait()  # every addition settled or rejected before any removal starts
        removals: dict[int, list[int]] = {}
        for plan in plans:
            if plan.guard_stops_removals:
                continue
            for prospect_id in sorted(plan.removes):
                removals.setdefault(prospect_id, []).append(plan.list_id)
        groups = list(removals.items())
        for batch in plan_batches(groups, size_of=lambda g: 1,
                                  max_payload=self.parts.settings.max_payload):  # fmt: skip
            sender.submit(partial(self._remove, batch))
        sender.wait()

    def _remove(self, groups: list[tuple[int, list[int]]]) -> None:
        """batchUpdate with flag 0 for each (prospect, lists): memberships deleted. In the
        run's v3/v4 version, as the additions are."""
        self.parts.client.api_version.run(partial(self._remove_in, groups))

    def _remove_in(self, groups: list[tuple[int, list[int]]], version: int) -> None:
        client = self.parts.client
        if version == 3:
            for part, identifiers, body in v3_calls(groups, _removal_element)[1]:
                reply = client.endpoints.prospect_batch(
                    "batchUpdate", body, version=3, idempotent=True
                )
                self._count_removals(part, v3_row_errors(reply.body, identifiers)[0])
            return
        body = batch_body([_removal_element(group) for group in groups])
        reply = client.endpoints.prospect_batch(
            "batchUpdate", body, version=version, idempotent=True
        )
        self._count_removals(groups, batch_row_errors(reply.body))

    def _count_removals(self, groups: list[tuple[int, list[int]]], errors: dict[int, str]
                        ) -> None:  # fmt: skip
        stats, removed = self.stats, []
        for index, (prospect_id, list_ids) in enumerate(groups):
            lists = ", ".join(map(str, list_ids))
            if index not in errors:
                removed += [(list_id, prospect_id) for list_id in list_ids]
            elif row_error_code(errors[index]) == CODE_INVALID_PROSPECT_ID:
                # Deleted (or merged) in Pardot since it joined: no live prospect is on
                # the list, and every later run would stop on the same member.
                logger.warning(
                    "Mirror: prospect %d of list(s) %s is deleted in Pardot (%s); its "
                    "membership is left as it is.", prospect_id, lists, errors[index],
                )  # fmt: skip
                for list_id in list_ids:
                    stats.mirror(list_id, prospect_deleted=1)
            else:
                self._problems.append(
                    f"Mirror: prospect {prospect_id} was not removed from list(s) {lists}: "
                    f"{errors[index]}."
                )
        for list_id, _ in removed:
            stats.mirror(list_id, removed=1)
        stats.add("memberships_removed", len(removed))
        ledger = self.parts.ledger
        if ledger is not None:
            gone = membership_fingerprint(False, None)
            ledger.accept(MEMBERSHIPS, [(membership_key(*pair), gone) for pair in removed])

    def _report_kept(self, plan: ListPlan) -> None:
        if plan.kept_opted_out:
            logger.warning("%s", opted_out_line(plan))
            self.stats.mirror(plan.list_id, kept_opted_out=len(plan.kept_opted_out))

    def _report_dry_run(self, plans: list[ListPlan],
                        rows: dict[int, list[PendingMembership]]) -> None:  # fmt: skip
        stats, settings = self.stats, self.parts.settings
        known = not settings.dry_run_offline
        for plan in plans:
            logger.info("%s", dry_run_line(plan, members_known=known))
            removed = 0 if plan.guard_stops_removals else len(plan.removes)
            stats.mirror(plan.list_id, size_before=plan.size_before, added=len(plan.adds),
                         removed=removed, unchanged=plan.unchanged)  # fmt: skip
            self._report_kept(plan)
        added = sorted({(pid, p.list_id) for p in plans for pid in p.adds})
        removed_pairs = sorted({(pid, p.list_id) for p in plans if not p.guard_stops_removals
                                for pid in p.removes})  # fmt: skip
        stats.add("memberships_would_add", len(added))
        stats.add("memberships_would_remove", len(removed_pairs))
        for pairs in (added, removed_pairs):
            prospects = len({pid for pid, _ in pairs})
            for start in range(0, prospects, 50):
                stats.plan("prospect/batchUpdate", min(50, prospects - start))
        for list_rows in rows.values():
            for pending in list_rows:
                self.state.settle(self.stream, (pending.position,))


def _removal_element(group: tuple[int, list[int]]) -> dict[str, object]:
    prospect_id, list_ids = group
    return membership_element(prospect_id, list_ids, add=False)


def mirror_for(mirrors: Mirrors[StreamMirror], stream: str,
               make: Callable[[], StreamMirror]) -> StreamMirror:  # fmt: skip
    """The stream's mirror, kept in the run's registry so that a new SCHEMA (a new sink)
    keeps it; ``make`` builds it the first time."""
    mirror = mirrors.streams.get(stream)
    if mirror is None:
        mirror = mirrors.streams[stream] = make()
    return mirror


def complete_stream(mirrors: Mirrors[StreamMirror], mirror: StreamMirror) -> None:
    """Mirror one complete stream. A list that kept members fails the run only at the end
    of input, so that the streams after it are still read and mirrored."""
    try:
        mirror.complete()
    except MirrorIncomplete as exc:
        mirrors.failures.append(str(exc))


def complete_all(mirrors: Mirrors[StreamMirror]) -> None:
    """End of input: every mirror stream is complete. Then raise what kept members."""
    for mirror in list(mirrors.streams.values()):
        complete_stream(mirrors, mirror)
    if mirrors.failures:
        raise MirrorIncomplete(" ".join(mirrors.failures))
