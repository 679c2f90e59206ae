"""Teach the identity map the ids an import created or matched.

An import's reply names no prospect: it counts them. So after the imports of a run
completed, one paged v5 prospect query reads the prospects changed since just before the
first import was created (``updatedAtAfterOrEqualTo``, ``fields=id,email``, 1,000 per page,
by id: docs/wire-contract.md, R31). Every imported address found under exactly one
prospect is learned; the next run sends its row by id, 50 per call.

The query pays off while the run imported at most :data:`LEARN_AT_MOST` rows: beyond
that, the pages it reads (at least one per 1,000 rows, more in a busy account) cost
about as much as the next run saves, and a next run of that size goes through an import
again at a handful of calls anyway.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Mapping
from typing import Any

from target_pardot.run.identity import utc_stamp

Query = Callable[[Mapping[str, str]], list[dict[str, Any]]]

#: Imported rows of one run beyond which the ids are not read back (see above).
LEARN_AT_MOST = 5_000
#: The query starts this long before the import was created: a clock difference between
#: this machine and Pardot ([guess], G36).
CLOCK_MARGIN = datetime.timedelta(minutes=2)
PAGE = 1000


def query_since(created: datetime.datetime) -> str:
    return utc_stamp(created - CLOCK_MARGIN)


def ids_of_imported(
    query: Query, emails: Collection[str], since: str
) -> tuple[dict[str, int], int]:
    """(email -> id for each imported address found under exactly one changed prospect,
    pages read). An address two changed prospects share is left out ([guess], G37): the
    map must only hold the prospect upsertLatestByEmail would pick."""
    wanted = set(emails)
    found: dict[str, set[int]] = {}
    after_id = 0
    pages = 0
    while True:
        params = {"fields": "id,email", "updatedAtAfterOrEqualTo": since,
                  "orderBy": "id", "limit": str(PAGE)}  # fmt: skip
        if after_id:
            params["idGreaterThan"] = str(after_id)
        page = query(params)
        pages += 1
        for prospect in page:
            email, pid = prospect.get("email"), prospect.get("id")
            if isinstance(email, str) and email in wanted and pid is not None:
                found.setdefault(email, set()).add(int(pid))
        ids = [int(p["id"]) for p in page if p.get("id") is not None]
        if len(page) < PAGE or not ids:
            break
        after_id = max(ids)
    return {email: next(iter(pids)) for email, pids in found.items() if len(pids) == 1}, pages
