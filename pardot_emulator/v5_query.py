"""The v5 query conventions for list memberships: filters, orderBy, limit, page tokens.

What follows the evidence (see docs/wire-contract.md):
- ``fields`` is required; ``limit`` defaults to 200 and may be at most 1000; ``orderBy``
  defaults to "id asc", a comma list of "<field> [asc|desc]"; ``offset`` is at most 2000
  (v5 overview, pardot/api-docs gh-pages 538a4f4).
- id filters ``id``, ``idGreaterThan``, ``idGreaterThanOrEqualTo``, ``idLessThan``,
  ``idLessThanOrEqualTo``; every filter given must match (the same page, prospect accounts).
- A reply is ``{"values": [...], "nextPageToken": ..., "nextPageUrl": ...}``. A request
  with ``nextPageToken`` may carry ``fields`` and nothing else; a token expires after 4
  hours; a token sequence stops after 100,000 records, with a Pardot-Warning header.

Error 210 "Page token has expired." and 211 "Page token is invalid." are Pardot's error
table (seed-004). Choices without evidence (marked in docs/emulator.md): the HTTP status
of those two, the error for parameters next to a token, the warning's text, and that a
token is given only while records remain.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from .fields import coerce_int
from .wire import Reply

if TYPE_CHECKING:
    from .account import Account
    from .request import Incoming

MAX_LIMIT = 1000
DEFAULT_LIMIT = 200
MAX_OFFSET = 2000
ID_FILTERS = {
    "id": lambda v, x: v == x,
    "idGreaterThan": lambda v, x: v > x,
    "idGreaterThanOrEqualTo": lambda v, x: v >= x,
    "idLessThan": lambda v, x: v < x,
    "idLessThanOrEqualTo": lambda v, x: v <= x,
}
EQUAL_FILTERS = {"listId": "list_id", "prospectId": "prospect_id"}
SORTABLE = {"id": "id", "createdAt": "created_at", "updatedAt": "updated_at"}
QUERY_PARAMS = frozenset({"fields", "deleted", "limit", "offset", "orderBy", "nextPageToken",
                          *ID_FILTERS, *EQUAL_FILTERS})
WARNING_SEQUENCE_END = "203;Page token limit reached: use an id filter to read further records"


class QueryError(Exception):
    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Query:
    """One query's criteria: what a page token carries forward."""

    filters: tuple[tuple[str, int], ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)
    limit: int

    def matches(self, row: dict[str, Any]) -> bool:
        for name, value in self.filters:
            if name in ID_FILTERS:
                if not ID_FILTERS[name](row["id"], value):
                    return False
            elif row[EQUAL_FILTERS[name]] != value:
                return False
        return True

    def sort(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for name, descending in reversed(self.order):
            column = SORTABLE[name]
            rows.sort(key=lambda row: row[column] or "", reverse=descending)
        return rows


def parse_params(raw_query: str) -> dict[str, str]:
    return dict(parse_qsl(raw_query, keep_blank_values=True))


def _parse_order(raw: str) -> tuple[tuple[str, bool], ...]:
    order: list[tuple[str, bool]] = []
    for part in raw.split(","):
        words = part.split()
        if not words or len(words) > 2 or words[0] not in SORTABLE:
            raise QueryError(154, f"Invalid property in request: orderBy {part.strip()!r}")
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise QueryError(154, f"Invalid property in request: orderBy {part.strip()!r}")
        order.append((words[0], direction == "desc"))
    return tuple(order)


def _int_param(params: dict[str, str], name: str) -> int:
    value = coerce_int(params[name])
    if value is None:
        raise QueryError(154, f"Invalid property in request: {name} must be an integer")
    return value


def query_from_params(params: dict[str, str]) -> tuple[Query, int]:
    """The criteria and the offset of a first request (one without a token)."""
    unknown = sorted(set(params) - QUERY_PARAMS)
    if unknown:
        raise QueryError(154, f"Invalid property in request: {unknown[0]} is not a parameter "
                              "of this query")
    filters = tuple((name, _int_param(params, name)) for name in sorted(params)
                    if name in ID_FILTERS or name in EQUAL_FILTERS)
    limit = DEFAULT_LIMIT
    if "limit" in params:
        limit = _int_param(params, "limit")
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(23, "Invalid value specified for limit")
    offset = 0
    if "offset" in params:
        offset = _int_param(params, "offset")
        if offset > MAX_OFFSET:
            raise QueryError(24, "Invalid value specified for offset")
    order = _parse_order(params["orderBy"]) if params.get("orderBy") else (("id", False),)
    return Query(filters, order, limit), offset


# --------------------------------------------------------------------------- page tokens

def encode_token(query: Query, offset: int, issued: float) -> str:
    raw = json.dumps({"f": query.filters, "o": query.order, "l": query.limit, "n": offset,
                      "t": issued}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[Query, int, float]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        query = Query(tuple((str(n), int(v)) for n, v in raw["f"]),
                      tuple((str(n), bool(d)) for n, d in raw["o"]), int(raw["l"]))
        return query, int(raw["n"]), float(raw["t"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise QueryError(211, "Page token is invalid.") from None


def resolve(params: dict[str, str], *, ttl_seconds: float) -> tuple[Query, int, float]:
    """Criteria, offset and the time the token sequence began, for any request."""
    token = params.get("nextPageToken")
    if not token:
        query, offset = query_from_params(params)
        return query, offset, time.time()
    others = sorted(set(params) - {"fields", "nextPageToken"})
    if others:
        raise QueryError(154, f"Invalid property in request: {others[0]} cannot be combined "
                              "with nextPageToken")
    query, offset, issued = decode_token(token)
    if time.time() - issued > ttl_seconds:  # the error table: 210 expired, 211 invalid
        raise QueryError(210, "Page token has expired.")
    return query, offset, issued


def page_reply(app: Account, req: Incoming, params: dict[str, str], rows: list[dict[str, Any]],
               render: Any) -> Reply:
    """Answer one page of ``rows`` (every membership; filtered and sorted here)."""
    query, offset, issued = resolve(params, ttl_seconds=app.settings.page_token_ttl_seconds)
    selected = query.sort([r for r in rows if query.matches(r)])
    page = selected[offset:offset + query.limit]
    end = offset + len(page)
    cap = app.settings.page_token_max_records
    token = url = None
    headers: list[tuple[str, str]] = []
    if end < len(selected):
        if cap is not None and end >= cap:
            headers.append(("Pardot-Warning", WARNING_SEQUENCE_END))
        else:
            token = encode_token(query, end, issued)
            url = f"{app.base_url}{req.path}?" + urlencode(
                {"fields": params.get("fields", ""), "nextPageToken": token})
    reply = Reply.json(200, {"values": [render(r) for r in page],
                             "nextPageToken": token, "nextPageUrl": url})
    reply.headers.extend(headers)
    return reply
