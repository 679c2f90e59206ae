"""Membership rows as marketers have them: a list by name, a prospect by email.

The list name is resolved when the row arrives (the run's ListDirectory reads the lists
once, creates a missing one once); emails are resolved per drain, all at once
(EmailResolver). Before any row of a drain is written, every list it names is checked not
to be dynamic. A problem with a list stops the stream (StreamStops.stop); an email
that names no live prospect rejects its row (``no_such_prospect``): memberships never
create prospects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from target_pardot.rows.audiences import EmailMembership, KeyedMembership
from target_pardot.rows.memberships import MembershipRow
from target_pardot.run.collaborators import Outcomes, StreamStops
from target_pardot.run.email_resolver import EmailResolver
from target_pardot.run.list_directory import ListDirectory, NoSuchList, StreamStopped
from target_pardot.settings import Settings
from target_pardot.sinks.base import Pending

logger = logging.getLogger("target-pardot")

#: A membership row on its way: by prospect id, or by email until resolved.
AnyMembership = MembershipRow | EmailMembership


class AudienceRows:
    """Resolves one membership stream's list names and emails."""

    def __init__(
        self,
        stream: str,
        *,
        settings: Settings,
        outcomes: Outcomes,
        stops: StreamStops,
        directory: ListDirectory | None,
        emails: EmailResolver | None,
    ) -> None:
        self.stream = stream
        self.settings = settings
        self.outcomes = outcomes
        self.stops = stops
        self.directory = directory
        self.emails = emails

    @property
    def stopped(self) -> bool:
        return self.stream in self.stops

    def row_of(self, keyed: KeyedMembership) -> AnyMembership | str | None:
        """The row with its list id; the reason to reject it (a text), or None when the
        stream is stopped (the row is then kept out, unsettled)."""
        directory = self.directory
        try:
            if keyed.list_ref.list_id is not None or directory is None:
                list_id = int(keyed.list_ref.list_id or 0)
            else:
                deleting = self.settings.list_membership_operation == "delete"
                list_id = directory.resolve(keyed.list_ref, self.stream, create=not deleting)
        except NoSuchList as exc:
            return str(exc)
        except StreamStopped as exc:
            self.stops.stop(self.stream, exc)
            return None
        if keyed.email is not None:
            return EmailMembership(list_id, keyed.email, keyed.opted_out)
        return MembershipRow(list_id, int(keyed.prospect_id or 0), keyed.opted_out)

    def may_write(self, rows: Sequence[Pending[MembershipRow]]) -> bool:
        """Right before the first write of these rows: False (and the stream stopped)
        when one of their lists is dynamic."""
        return lists_writable(self.directory, self.stops, self.stream,
                              {p.row.list_id for p in rows})  # fmt: skip

    def ready(self, rows: Sequence[Pending[Any]]) -> list[Pending[MembershipRow]]:
        """The drain's rows by prospect id; rows whose email names no prospect are
        rejected. Nothing when the stream is stopped."""
        if self.stopped or not rows:
            return []
        by_email = [p for p in rows if isinstance(p.row, EmailMembership)]
        if not by_email:
            return list(rows)
        if self.settings.dry_run_offline:
            return self._offline(rows)
        resolver = self.emails
        assert resolver is not None
        found = resolver.resolve([p.row.email for p in by_email])
        ready: list[Pending[MembershipRow]] = []
        for pending in rows:
            row = pending.row
            if not isinstance(row, EmailMembership):
                ready.append(pending)
            elif row.email in found:
                ready.append(Pending(pending.stream, pending.position, pending.record,
                                     row.with_prospect(found[row.email])))  # fmt: skip
            else:
                self._reject(pending, "no_such_prospect",
                             f"no prospect has the email {row.email!r}; a membership row "
                             "never creates one (load it through a prospects stream first)")
        return ready

    def _offline(self, rows: Sequence[Pending[Any]]) -> list[Pending[MembershipRow]]:
        """dry_run_offline reads nothing: rows by email are counted, not planned."""
        emails = [p for p in rows if isinstance(p.row, EmailMembership)]
        logger.info("Dry run, offline: %d rows name their prospect by email; emails are not "
                    "resolved offline, so their calls are not planned.", len(emails))
        for pending in emails:
            self.outcomes.state.settle(pending.stream, (pending.position,))
        return [p for p in rows if not isinstance(p.row, EmailMembership)]

    def _reject(self, pending: Pending[Any], category: str, reason: str) -> None:
        self.outcomes.reporter.reject(
            stream=pending.stream, position=pending.position, record=pending.record,
            key=pending.key, category=category, reason=reason, code=category,
            during_delivery=False,
        )  # fmt: skip
        self.outcomes.state.settle(pending.stream, (pending.position,))


def lists_writable(directory: ListDirectory | None, stops: StreamStops, stream: str,
                   list_ids: Iterable[int]) -> bool:  # fmt: skip
    """False (and the stream stopped) when one of the lists is dynamic."""
    if directory is None or stream in stops:
        return stream not in stops
    try:
        directory.check_writable(list_ids, stream)
    except StreamStopped as exc:
        stops.stop(stream, exc)
        return False
    return True
