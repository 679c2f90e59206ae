"""Use the identity map only where Pardot still agrees with it.

A map entry goes stale in three ways:

* the prospect was deleted or merged: ``batchUpdate`` answers error 3 for that row, and
  the delivery sends it through ``upsertLatestByEmail`` instead;
* the prospect's email was changed in Pardot: ``batchUpdate`` by id would succeed and
  write the row into a prospect that no longer has its email (and reset that email). The
  v4 reply cannot tell, so this must be found *before* sending;
* another prospect now has the email (created or edited since): ``upsertLatestByEmail``
  would pick whichever has the latest activity, so the entry is no longer known to be it.

The last two are found with one v5 prospect query per 1,000 prospects changed in the
account since the previous check (``updatedAtAfterOrEqualTo``, ``fields=id,email``), once
per run, before the first row is sent by id. Any entry those changes contradict is
dropped, and its row goes through ``upsertLatestByEmail``, which teaches the map the right
id again.

A whole map can also belong to another Pardot: an account re-created under the same
business unit, or an emulator started afresh. Its ids then name other prospects, or none,
and no change query can tell. So the same check then reads a sample of the entries the
run is about to use (one query, from the smallest sampled id up) and drops the whole map
when Pardot does not hold one of them under its email. A cache is a hint, never the truth.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from target_pardot.errors import PardotApiError, RetryableError
from target_pardot.rows.payloads import ProspectRow
from target_pardot.run.identity import IdentityMap, utc_stamp
from target_pardot.run.stats import RunStats

logger = logging.getLogger("target-pardot")

Row = TypeVar("Row")
Query = Callable[[Mapping[str, str]], list[dict[str, Any]]]

#: Prospects per query page: the v5 maximum [doc].
QUERY_PAGE = 1000
#: The next check starts this long before this one did. It covers a clock difference
#: between this machine and Pardot, and v5 reads trailing recent writes ("data returned
#: by version 5 endpoints is not real-time" [doc]); a wider margin only re-reads a few
#: prospects.
WATERMARK_MARGIN = datetime.timedelta(hours=1)


#: Map entries of the run's first mapped rows read back from Pardot at each run's check.
SAMPLE_SIZE = 20


def sample_of(entries: Mapping[str, int], size: int = SAMPLE_SIZE) -> list[tuple[str, int]]:
    """The entries with the smallest ids (one query from the first reads them all when
    they are close, as the ids of one load are)."""
    return sorted(entries.items(), key=lambda pair: (pair[1], pair[0]))[:size]


def sample_disagrees(
    sample: Sequence[tuple[str, int]], page: Sequence[Mapping[str, Any]], *, page_full: bool
) -> bool:
    """Whether Pardot's prospects (``page``: id and email, ids from the sample's smallest
    up, in order) contradict the sampled ``email -> id`` entries. An id the page should
    hold but does not (never in this account), or holds under another email, is a
    contradiction. Emails are compared ignoring case: whether Pardot keeps an
    address's case as sent is not published, and no other account has the same id under
    the same address by chance."""
    found = {int(p["id"]): str(p.get("email") or "") for p in page if p.get("id") is not None}
    covered_to = max(found) if page_full and found else None
    for email, pid in sample:
        if covered_to is not None and pid > covered_to:
            continue  # beyond the page: not read
        if found.get(pid, "").casefold() != email.casefold():
            return True
    return False


def one_key_per_prospect(
    rows: Sequence[Row],
    known: Mapping[str, int],
    email_of: Callable[[Row], str],
    address_after: Callable[[Row], str],
) -> tuple[list[tuple[Row, int]], list[Row], list[tuple[Row, int]]]:
    """Split rows, in stream order, into (row, id) sent by id, rows for
    upsertLatestByEmail, and (row, id) that must wait for that id's call first.

    No two rows may reach one prospect by different addresses. A row that changes its
    prospect's address (``match_email``) moves the prospect to the new one: a later row
    with the new address goes by the same id, and a later row with the old address names
    another prospect (a new one, once the change is applied). That row waits for the
    change, then goes through upsertLatestByEmail, which finds or creates it."""
    by_id: list[tuple[Row, int]] = []
    others: list[Row] = []
    waiting: list[tuple[Row, int]] = []
    address_of: dict[int, str] = {}  # prospect id -> the address that reaches it now
    moved_to: dict[str, int] = {}  # addresses given to a mapped prospect by a row
    for row in rows:
        email = email_of(row)
        pid = moved_to.get(email, known.get(email))
        if pid is None:
            others.append(row)
            continue
        if address_of.get(pid, email) != email:
            waiting.append((row, pid))  # the address left this prospect earlier
            continue
        by_id.append((row, pid))
        after = address_after(row)
        address_of[pid] = after
        if after != email:
            moved_to[after] = pid
            moved_to.pop(email, None)
    return by_id, others, waiting


def watermark(now: datetime.datetime) -> str:
    return utc_stamp(now - WATERMARK_MARGIN)


def stale_emails(
    changed: Sequence[Mapping[str, Any]],
    emails_of: Callable[[Iterable[int]], dict[int, set[str]]],
    lookup: Callable[[Iterable[str]], dict[str, int]],
) -> set[str]:
    """The mapped emails that these changed prospects (id, email) contradict."""
    pairs = [(int(p["id"]), p.get("email")) for p in changed if p.get("id") is not None]
    stale: set[str] = set()
    for pid, emails in emails_of(pid for pid, _ in pairs).items():
        current = {email for other, email in pairs if other == pid}
        stale.update(email for email in emails if email not in current)
    known = lookup(email for _, email in pairs if email)
    for pid, email in pairs:
        if email in known and known[email] != pid:
            stale.add(email)
    return stale


class HasRow(Protocol):
    @property
    def row(self) -> ProspectRow: ...


def _lookup_email(pending: HasRow) -> str:
    return pending.row.lookup_email


def _own_email(pending: HasRow) -> str:
    return str(pending.row.fields["email"])


class IdentityRouter:
    """Splits email-only rows into those sent by their mapped id and the others."""

    def __init__(self, identity: IdentityMap, query: Query, stats: RunStats,
                 *, dry_run: bool) -> None:  # fmt: skip
        self.identity = identity
        self._query = query
        self._stats = stats
        self._dry_run = dry_run
        self._lock = threading.Lock()
        self._done = False
        self._usable = True
        if identity.checked_until() is None and not dry_run:
            # A new map: every change made in Pardot from now on matters to it.
            identity.mark_checked(watermark(datetime.datetime.now(datetime.timezone.utc)))

    def learned(self, row: ProspectRow, prospect_id: int) -> None:
        """upsertLatestByEmail returned this id for the row; a changed email moves the
        entry."""
        if row.match_email:
            self.identity.forget([row.match_email])
        self.identity.learn(str(row.fields["email"]), prospect_id)

    def updated_by_id(self, rows: Sequence[tuple[ProspectRow, int | None]]) -> None:
        """Pardot accepted these rows (those with an id were sent by their mapped id)."""
        mapped = [(row, pid) for row, pid in rows if pid is not None]
        self._stats.add("rows_sent_by_mapped_id", len(mapped))
        for row, pid in mapped:
            if row.match_email:
                self.learned(row, pid)

    def refused(self, rows: Sequence[ProspectRow]) -> None:
        """Pardot refused these rows' mapped ids: they fall back to upsertLatestByEmail."""
        self.identity.forget(row.lookup_email for row in rows)
        self._stats.add("identity_map_fallbacks", len(rows))

    def split(
        self,
        rows: Sequence[Row],
        email_of: Callable[[Row], str],
        address_after: Callable[[Row], str],
    ) -> tuple[list[tuple[Row, int]], list[Row], list[tuple[Row, int]]]:
        """(rows with the id to update, rows that go through upsertLatestByEmail, and
        rows for upsertLatestByEmail once the call of that id is done): see
        one_key_per_prospect. ``address_after``: the row's own email."""
        if not rows:
            return [], [], []
        checked_before = self._done
        known = self.identity.lookup(email_of(r) for r in rows)
        if known and not checked_before:
            # The check may drop entries: look up again once it is done.
            usable = self._ensure_checked(list(known))
            known = self.identity.lookup(email_of(r) for r in rows) if usable else {}
        elif not self._usable:
            known = {}
        mapped, others, waiting = one_key_per_prospect(rows, known, email_of, address_after)
        self._stats.add("identity_map_hits", len(mapped))
        self._stats.add("identity_map_misses", len(others) + len(waiting))
        return mapped, others, waiting

    def known_ids(
        self, rows: Sequence[HasRow]
    ) -> tuple[list[tuple[Any, int]], list[Any], list[tuple[Any, int]]]:
        """The one lookup of a drain's email-only prospect rows (see split): by the
        address that identifies the prospect (the old one of a rename), moving it to the
        row's own email."""
        return self.split(rows, _lookup_email, _own_email)

    def _ensure_checked(self, emails: list[str]) -> bool:
        """Check once per run, before the first row is sent by id (``emails``: those the
        first mapped rows use); False if the map cannot be trusted this run."""
        with self._lock:
            if self._done:
                return self._usable
            if not self._dry_run:  # a dry run plans only: no call, nothing sent by id
                try:
                    self._check(datetime.datetime.now(datetime.timezone.utc))
                    self._check_sample(emails)
                except PardotApiError as exc:
                    if isinstance(exc, RetryableError):
                        raise
                    logger.warning(
                        "identity_map: could not query prospects changed in Pardot (%s); "
                        "this run sends every email-only row through upsertLatestByEmail. "
                        "The API user needs the Prospects > View ability.",
                        exc,
                    )
                    self._usable = False
            self._done = True
            return self._usable

    def _check(self, now: datetime.datetime) -> None:
        since = self.identity.checked_until()
        if since is not None:
            dropped = 0
            after_id = 0
            while True:
                params = {
                    "fields": "id,email",
                    "updatedAtAfterOrEqualTo": since,
                    "orderBy": "id",
                    "limit": str(QUERY_PAGE),
                }
                if after_id:
                    params["idGreaterThan"] = str(after_id)
                page = self._query(params)
                stale = stale_emails(page, self.identity.emails_of, self.identity.lookup)
                self.identity.forget(stale)
                dropped += len(stale)
                if len(page) < QUERY_PAGE:
                    break
                after_id = max(int(p["id"]) for p in page)
            self._stats.add("identity_map_dropped", dropped)
            if dropped:
                logger.info(
                    "identity_map: %d entries no longer match Pardot (email changed, or "
                    "another prospect has it); those rows go through upsertLatestByEmail.",
                    dropped,
                )
        self.identity.flush()
        self.identity.mark_checked(watermark(now))

    def _check_sample(self, emails: list[str]) -> None:
        """Read back a sample of the entries about to be used; drop the whole map if
        Pardot contradicts one (see the module docstring)."""
        sample = sample_of(self.identity.lookup(emails))
        if not sample:
            return
        page = self._query(
            # Deleted prospects too: a prospect deleted in this account still has its id
            # and email, and its row falls back alone (error 3), as before this check.
            {"fields": "id,email", "idGreaterThanOrEqualTo": str(sample[0][1]),
             "orderBy": "id", "deleted": "all", "limit": str(QUERY_PAGE)}
        )  # fmt: skip
        if not sample_disagrees(sample, page, page_full=len(page) >= QUERY_PAGE):
            return
        dropped = self.identity.forget_all()
        self._stats.add("identity_map_dropped", dropped)
        logger.warning(
            "identity_map: the map's entries do not match the prospects of this Pardot "
            "account (%s, business unit as configured): it was kept for another account, "
            "or the account was re-created. Dropped all %d entries; email-only rows go "
            "through upsertLatestByEmail this run, which builds the map again.",
            self.identity.business_unit.split("|", 1)[0],
            dropped,
        )
