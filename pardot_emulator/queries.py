"""v3/v4 ``do/query`` semantics, pure: search criteria, sorting, paging, timestamps.

Sources (pardot/api-docs, docs/kb/api-version-4/prospects.md, lists.md,
list-memberships.md, prospect-accounts.md, bulk-data-pull.md; error table in
docs/kb/error-codes-messages.md):
- ``*_after`` / ``*_before`` take "today, yesterday, last_7_days, this_month,
  last_month" or a time in GNU date input syntax; a bad one is error 7 "Invalid
  timestamp". ``*_after`` is strictly after: Pardot keeps timestamps to the second,
  so a record stamped in the same second as the bound is not after it.
- ``id_greater_than`` / ``id_less_than`` (error 16 "Invalid ID" when not an integer).
- ``sort_by`` per object (error 19), ``sort_order`` ascending/descending (error 20),
  each ``sort_by`` with its documented default order.
- ``limit``: default 200, "cannot be larger than 200" for prospects (error 23); for
  lists, list memberships and prospect accounts "if a number larger than 200 is
  specified, 200 will be used". ``offset`` (error 21) skips that many matches.
- Timestamps are reported as ``YYYY-MM-DD HH:MM:SS`` "in API user's preferred
  timezone" (object-field-references.md; recorded traffic shows a Pacific-time
  account's ``created_at`` eight hours behind the reply's GMT Date header).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .records import OpError

MAX_LIMIT = 200
PARDOT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ASCENDING, DESCENDING = "ascending", "descending"
TIME_KEYWORDS = ("today", "yesterday", "last_7_days", "this_month", "last_month")
_GNU_TIME = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(Z|UTC|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)


@dataclass(frozen=True)
class ObjectQuery:
    """What one object's ``do/query`` accepts (from its page of the v4 docs)."""

    sorts: dict[str, str]  # sort_by value -> its default sort_order
    clamp_limit: bool  # True: a limit over 200 becomes 200; False: error 23
    filters: frozenset[str]  # extra exact-match criteria, e.g. list_id, name


PROSPECTS = ObjectQuery(
    sorts={"created_at": DESCENDING, "id": ASCENDING, "last_activity_at": DESCENDING,
           "updated_at": DESCENDING},
    clamp_limit=False, filters=frozenset({"list_id"}))
LISTS = ObjectQuery(
    sorts={"created_at": DESCENDING, "id": ASCENDING, "name": ASCENDING,
           "updated_at": DESCENDING},
    clamp_limit=True, filters=frozenset({"name"}))
LIST_MEMBERSHIPS = ObjectQuery(
    sorts={"created_at": DESCENDING, "id": ASCENDING},
    clamp_limit=True, filters=frozenset({"list_id"}))


@dataclass(frozen=True)
class Query:
    """One parsed query: bounds in epoch seconds (UTC), sort, page."""

    created_after: int | None = None
    created_before: int | None = None
    updated_after: int | None = None
    updated_before: int | None = None
    id_greater_than: int | None = None
    id_less_than: int | None = None
    equals: tuple[tuple[str, str], ...] = ()
    sort_by: str = "id"
    descending: bool = False
    limit: int = MAX_LIMIT
    offset: int = 0
    bulk: bool = False


def account_zone(name: str) -> tzinfo:
    """The account's time zone (an IANA name); UTC for "UTC" or an unknown name."""
    if name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def epoch_of_iso(stamp: str) -> int:
    """The emulator's stored ISO-8601 UTC stamp to whole epoch seconds (Pardot's precision)."""
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


def pardot_time(epoch: int, zone: tzinfo) -> str:
    """``2021-03-05 06:48:02``: Pardot's v3/v4 timestamp, in the account's time zone."""
    return datetime.fromtimestamp(epoch, zone).strftime(PARDOT_TIME_FORMAT)


def _keyword_start(word: str, now: datetime) -> datetime:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if word == "today":
        return midnight
    if word == "yesterday":
        return midnight - timedelta(days=1)
    if word == "last_7_days":
        return midnight - timedelta(days=7)
    first = midnight.replace(day=1)
    if word == "this_month":
        return first
    return (first - timedelta(days=1)).replace(day=1)  # last_month


def parse_time(text: str, zone: tzinfo, now: datetime) -> int:
    """A search time to epoch seconds; a time without an offset is in the account's zone.

    Raises OpError 7 for anything that is neither a keyword nor a date (and time)."""
    value = text.strip()
    if value.lower() in TIME_KEYWORDS:
        return int(_keyword_start(value.lower(), now.astimezone(zone)).timestamp())
    match = _GNU_TIME.match(value)
    if match is None:
        raise OpError(7, "Invalid timestamp")
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                          int(second or 0))
    except ValueError:
        raise OpError(7, "Invalid timestamp") from None
    if offset is None:
        return int(moment.replace(tzinfo=zone).timestamp())
    return int(moment.replace(tzinfo=_offset_zone(offset)).timestamp())


def _offset_zone(offset: str) -> tzinfo:
    if offset.upper() in ("Z", "UTC"):
        return timezone.utc
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _int_param(params: dict[str, str], name: str, code: int, message: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    text = raw.strip()
    if not re.fullmatch(r"-?\d+", text):
        raise OpError(code, message)
    return int(text)


def parse_query(params: dict[str, str], spec: ObjectQuery, zone: tzinfo,
                now: datetime) -> Query:
    """Search criteria, sorting and paging from a request's parameters. Raises OpError."""
    bounds = {name: parse_time(params[name], zone, now)
              for name in ("created_after", "created_before", "updated_after", "updated_before")
              if params.get(name)}
    sort_by = params.get("sort_by") or "id"
    if sort_by not in spec.sorts:
        raise OpError(19, "Invalid value specified for sort_by")
    order = params.get("sort_order") or spec.sorts[sort_by]
    if order not in (ASCENDING, DESCENDING):
        raise OpError(20, "Invalid value specified for sort_order")
    limit = _int_param(params, "limit", 23, "Invalid value specified for limit")
    if limit is not None and (limit < 0 or (limit > MAX_LIMIT and not spec.clamp_limit)):
        raise OpError(23, "Invalid value specified for limit")
    offset = _int_param(params, "offset", 21, "Invalid value specified for offset")
    if offset is not None and offset < 0:
        raise OpError(21, "Invalid value specified for offset")
    return Query(
        created_after=bounds.get("created_after"), created_before=bounds.get("created_before"),
        updated_after=bounds.get("updated_after"), updated_before=bounds.get("updated_before"),
        id_greater_than=_int_param(params, "id_greater_than", 16, "Invalid ID"),
        id_less_than=_int_param(params, "id_less_than", 16, "Invalid ID"),
        equals=tuple((name, params[name]) for name in sorted(spec.filters) if params.get(name)),
        sort_by=sort_by, descending=order == DESCENDING,
        limit=MAX_LIMIT if limit is None else min(limit, MAX_LIMIT),
        offset=offset or 0,
        bulk=(params.get("output") or "").lower() == "bulk",
    )


def matches(record: dict[str, Any], query: Query) -> bool:
    """Whether a record (``id``, ``created_at``/``updated_at`` in epoch seconds) is selected."""
    rid = record["id"]
    created, updated = record["created_at"], record["updated_at"]
    checks = (
        query.id_greater_than is None or rid > query.id_greater_than,
        query.id_less_than is None or rid < query.id_less_than,
        query.created_after is None or created > query.created_after,
        query.created_before is None or created < query.created_before,
        query.updated_after is None or updated > query.updated_after,
        query.updated_before is None or updated < query.updated_before,
    )
    if not all(checks):
        return False
    return all(str(record.get(name)) == value for name, value in query.equals)


def select(records: list[dict[str, Any]], query: Query) -> tuple[list[dict[str, Any]], int]:
    """(one page of matches, total matches). Ties in the sort field go by id, ascending."""
    found = [r for r in records if matches(r, query)]
    found.sort(key=lambda r: r["id"])
    found.sort(key=lambda r: _sort_value(r, query.sort_by), reverse=query.descending)
    return found[query.offset:query.offset + query.limit], len(found)


def _sort_value(record: dict[str, Any], field: str) -> Any:
    value = record.get(field)
    if value is None:
        return (0, "")
    return (1, value)


def result_body(key: str, page: list[dict[str, Any]], total: int, bulk: bool) -> Any:
    """The ``result`` of a v4 query reply.

    One match is an object, several an array (what tap-pardot's streams.py and
    PyPardotSF's objects/*.py unwrap). ``total_results`` always, except with
    ``output=bulk``, which "omits information about the total number of rows"
    (bulk-data-pull.md); an empty bulk page is ``null`` (tap-pardot's streams.py
    stops on ``result`` null or ``total_results`` 0)."""
    items: Any = page[0] if len(page) == 1 else page
    if bulk:
        return {key: items} if page else None
    body: dict[str, Any] = {"total_results": total}
    if page:
        body[key] = items
    return body
