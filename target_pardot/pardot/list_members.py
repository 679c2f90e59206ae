"""Read a list's current members through the v5 list-membership query.

The query pages with tokens (`nextPageToken`, or the same token inside `nextPageUrl`); a
request with a token carries only `fields`. A token sequence stops after 100,000 records
and a token expires after 4 hours, so the reader pages by ascending id: when a sequence
ends on a full page, or a token is refused, it starts a new sequence with
`idGreaterThan` the largest id seen. A sequence that ends on a short page has read the
whole list.

Reading too few members is the safe way to be wrong: an unread member is never removed.
Reading a membership of another list is not: a server that lost the `listId` filter
stops the read with an error instead of handing the mirror a wrong member set.
Each member comes with its ``optedOut``: a mirror never removes an opted-out member.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from target_pardot.errors import PardotApiError, RetryableError
from target_pardot.pardot.responses import Reply

#: Pardot's largest page (v5 overview: "a positive integer up to 1000").
PAGE_SIZE = 1000
FIELDS = "id,listId,prospectId,optedOut"

Query = Callable[[Mapping[str, str]], Reply]


@dataclass(frozen=True)
class Member:
    """One membership of a list, as read."""

    membership_id: int
    #: True unless the reply says ``optedOut: false``: a member whose consent is not
    #: known is treated as opted out, so that it is never removed.
    opted_out: bool


def next_token(body: object) -> str | None:
    """The page token of a reply: `nextPageToken`, else the one inside `nextPageUrl`."""
    if not isinstance(body, dict):
        return None
    token = body.get("nextPageToken")
    if isinstance(token, str) and token:
        return token
    url = body.get("nextPageUrl")
    if isinstance(url, str) and url:
        found = parse_qs(urlsplit(url).query).get("nextPageToken")
        if found and found[0]:
            return found[0]
    return None


def read_members(query: Query, list_id: int) -> dict[int, Member]:
    """prospect id -> its membership, for every member of the list."""
    members: dict[int, Member] = {}
    after: int | None = None
    while True:
        first = {"fields": FIELDS, "listId": str(list_id), "limit": str(PAGE_SIZE),
                 "orderBy": "id asc"}  # fmt: skip
        if after is not None:
            first["idGreaterThan"] = str(after)
        ended_full, progressed = _read_sequence(query, first, members, after, list_id)
        largest = max((m.membership_id for m in members.values()), default=None)
        if not ended_full or not progressed or largest is None:
            return members
        after = largest


def _read_sequence(
    query: Query, first: dict[str, str], members: dict[int, Member], after: int | None,
    list_id: int,
) -> tuple[bool, bool]:  # fmt: skip
    """Follow one token sequence. Returns (whether it may have stopped before the end,
    whether it read any new member)."""
    params: dict[str, str] = first
    progressed = False
    while True:
        try:
            reply = query(params)
        except PardotApiError as exc:
            # A refused token (expired after 4 hours, say) ends the sequence; the caller
            # goes on by id. A refused first request is a real error.
            if isinstance(exc, RetryableError) or params is first:
                raise
            return True, progressed
        values = reply.body.get("values") if isinstance(reply.body, dict) else None
        values = values if isinstance(values, list) else []
        for value in values:
            if _take(value, members, after, list_id):
                progressed = True
        token = next_token(reply.body)
        if token is None:
            return len(values) >= PAGE_SIZE, progressed
        params = {"fields": FIELDS, "nextPageToken": token}


def _take(value: object, members: dict[int, Member], after: int | None, list_id: int
          ) -> bool:  # fmt: skip
    if not isinstance(value, dict):
        return False
    membership_id, prospect_id = value.get("id"), value.get("prospectId")
    if not isinstance(membership_id, int) or not isinstance(prospect_id, int):
        return False
    if value.get("listId") != list_id:
        raise PardotApiError(
            f"Reading the members of list {list_id}, Pardot answered membership "
            f"{membership_id} of list {value.get('listId')!r}: the query's listId filter was "
            "not applied, so the list is left unchanged."
        )
    if after is not None and membership_id <= after:
        return False
    members[prospect_id] = Member(membership_id, opted_out=value.get("optedOut") is not False)
    return True
