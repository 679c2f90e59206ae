"""Emails to prospect ids, for membership and mirror rows keyed by email, at batch cost.

For each drain of a stream, the emails it names are resolved by the cheapest means that
still follows Pardot's own rule (the prospect ``upsertLatestByEmail`` would pick: the most
recently updated live one, see :mod:`target_pardot.rows.audiences`):

1. what this run already learned (free);
2. the identity map, when the run keeps one (free; it holds only ids that
   ``upsertLatestByEmail`` returned, checked against Pardot's changes once per run);
3. a handful of emails (``PER_EMAIL_AT_MOST``): one v5 prospect query per email, which
   returns every prospect with that address;
4. more: the account's prospects, read once per run with ``fields=id,email,updatedAt`` in
   pages of 1,000, and kept for the rest of the run (about 150 bytes per prospect). An
   account that takes more pages than there are emails is not read to the end: those
   emails are then asked one by one (at most twice the cheaper of the two ways).

So 1,105 emails in an account of 3,000 prospects cost 4 calls, not 1,105; a rerun with
the identity map costs none. An email that no live prospect has is reported by the caller
as ``no_such_prospect``: a membership stream never creates a prospect.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

from target_pardot.rows.audiences import latest_by_email
from target_pardot.run.identity_check import IdentityRouter
from target_pardot.run.stats import RunStats

Query = Callable[[Mapping[str, str]], list[dict[str, Any]]]

#: Up to this many unknown emails, one query each is cheaper than reading the account
#: (which costs one call per 1,000 prospects, and at least two).
PER_EMAIL_AT_MOST = 10
#: Prospects per page of the account read: the v5 maximum [doc].
PAGE = 1000
FIELDS = "id,email,updatedAt"


class EmailResolver:
    """email -> prospect id for one run. Thread-safe (sinks drain in parallel threads)."""

    def __init__(self, query: Query, stats: RunStats, identity: IdentityRouter | None) -> None:
        self._query = query
        self._stats = stats
        self._identity = identity
        self._lock = threading.Lock()
        #: What this run learned: email -> id, or None for "no live prospect".
        self._known: dict[str, int | None] = {}
        self._account_read = False

    def resolve(self, emails: Collection[str]) -> dict[str, int]:
        """The prospect id of every email that has one; the others are left out."""
        wanted = list(dict.fromkeys(emails))
        with self._lock:
            unknown = [e for e in wanted if e not in self._known]
            if unknown and self._identity is not None:
                # Plain addresses: no row moves one, so none waits (see one_key_per_prospect).
                mapped, _, _ = self._identity.split(unknown, email_of=str, address_after=str)
                for email, pid in mapped:
                    self._known[email] = pid
                unknown = [e for e in unknown if e not in self._known]
            # Reading the account pays off only if it takes fewer pages than there are
            # emails; its size is unknown until read, so the read stops at that many pages
            # and the emails are then asked one by one (at most twice the cheaper way).
            if (unknown and not self._account_read
                    and (len(unknown) <= PER_EMAIL_AT_MOST
                         or not self._read_account(len(unknown)))):
                for email in unknown:
                    self._query_one(email)
            for email in unknown:
                self._known.setdefault(email, None)
            found = {e: self._known[e] for e in wanted}
        resolved = {e: pid for e, pid in found.items() if pid is not None}
        self._stats.add("emails_resolved", len(resolved))
        return resolved

    def _query_one(self, email: str) -> None:
        values = self._query({"fields": FIELDS, "email": email, "limit": str(PAGE)})
        best = latest_by_email(v for v in values if v.get("email") == email)
        self._known[email] = best[email][1] if email in best else None
        self._stats.add("email_queries")

    def _read_account(self, max_pages: int) -> bool:
        """Read every prospect, unless that takes more than ``max_pages`` pages; True if
        the whole account was read."""
        best: dict[str, tuple[Any, int]] = {}
        after = 0
        pages = 0
        while True:
            if pages >= max_pages:
                self._stats.add("account_read_abandoned")
                return False
            pages += 1
            params = {"fields": FIELDS, "orderBy": "id", "limit": str(PAGE)}
            if after:
                params["idGreaterThan"] = str(after)
            page = self._query(params)
            for email, candidate in latest_by_email(page).items():
                if email not in best or candidate > best[email]:
                    best[email] = candidate
            ids = [p["id"] for p in page if isinstance(p.get("id"), int)]
            if len(page) < PAGE or not ids:
                break
            after = max(ids)
        for email, (_, pid) in best.items():
            self._known.setdefault(email, pid)
        self._account_read = True
        self._stats.add("account_prospects_read", len(best))
        return True
