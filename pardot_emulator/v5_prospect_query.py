"""Pardot API v5: the prospect query, ``GET /api/v5/objects/prospects``.

Shared query parameters (``fields`` required, ``limit`` up to 1000, default 200,
``orderBy`` default ``id asc``, ``deleted`` false/true/all) come from the Version 5
overview; the filters (``id``, ``idGreaterThan``..., ``createdAt``..., ``updatedAt``...,
and ``email``, which returns every prospect with that address) from the prospect object
reference. Several filters must all match. After a page token only ``fields`` may be sent.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .fields import V5_READ_ONLY, V5_TO_STORE, coerce_int, is_custom
from .v5 import V5Error, _bad_fields, error, prospect_value
from .wire import Reply

if TYPE_CHECKING:
    from .account import Account
    from .request import Incoming

MAX_PAGE = 1000
DEFAULT_PAGE = 200
SORTABLE = {"id": "id", "createdAt": "created_at", "updatedAt": "updated_at",
            "lastActivityAt": "last_activity_at"}
_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
    "After": lambda a, b: a > b,
    "AfterOrEqualTo": lambda a, b: a >= b,
    "Before": lambda a, b: a < b,
    "BeforeOrEqualTo": lambda a, b: a <= b,
}
_ID_FILTER = re.compile(r"^id(|GreaterThan|GreaterThanOrEqualTo|LessThan|LessThanOrEqualTo)$")
_DATE_FILTER = re.compile(
    r"^(createdAt|updatedAt)(|After|AfterOrEqualTo|Before|BeforeOrEqualTo)$")
_SHARED = frozenset({"fields", "limit", "orderBy", "deleted", "nextPageToken"})

Predicate = Callable[[dict[str, Any]], bool]


def _moment(text: str, name: str) -> datetime.datetime:
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise V5Error(400, 154, f"Invalid property in request: {name} must be an ISO 8601 "
                      "date-time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def _filter(name: str, raw: str) -> Predicate:
    found = _ID_FILTER.match(name)
    if found:
        wanted = coerce_int(raw)
        if wanted is None:
            raise V5Error(400, 154, f"Invalid property in request: {name} must be an integer")
        compare = _COMPARATORS[found.group(1)]
        return lambda p: compare(p["id"], wanted)
    found = _DATE_FILTER.match(name)
    if found:
        when = _moment(raw, name)
        field = "created_at" if found.group(1) == "createdAt" else "updated_at"
        compare = _COMPARATORS[found.group(2)]
        return lambda p: compare(_moment(p[field], field), when)
    if name == "email":
        return lambda p: p.get("email") == raw
    raise V5Error(400, 154, f"Invalid property in request: {name} is not a known filter")


def _fields(raw: str | None) -> list[str]:
    if not raw:
        raise V5Error(400, 153, "Missing required property in request: fields")
    names = [f.strip() for f in raw.split(",") if f.strip()]
    bad = [f for f in names if f not in V5_TO_STORE and f not in V5_READ_ONLY
           and not is_custom(f)]
    if bad:
        raise _bad_fields(bad)
    return names


def _order(raw: str | None) -> list[tuple[str, bool]]:
    keys = []
    for part in (raw or "id asc").split(","):
        words = part.split()
        if not words or words[0] not in SORTABLE or len(words) > 2 or (
                len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise V5Error(400, 154, f"Invalid property in request: orderBy '{part.strip()}'")
        keys.append((SORTABLE[words[0]], len(words) == 2 and words[1].lower() == "desc"))
    return keys


def _sorted(rows: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    for field, descending in reversed(keys):  # stable sorts, least significant key first
        rows.sort(key=lambda p: p[field], reverse=descending)
    return rows


def prospect_query(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    try:
        return _query(app, req)
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)


def _encode_token(query: dict[str, str], offset: int) -> str:
    """The token carries the original filters: a follow-up sends only the token."""
    raw = json.dumps({"q": query, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[dict[str, str], int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return {str(k): str(v) for k, v in data["q"].items()}, int(data["o"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise V5Error(400, 211, "Page token is invalid.") from None


def _query(app: Account, req: Incoming) -> Reply:
    q = dict(parse_qsl(req.query, keep_blank_values=True))
    token = q.pop("nextPageToken", None)
    offset = 0
    if token:
        if set(q) - {"fields"}:
            raise V5Error(400, 154, "Invalid property in request: only fields may "
                          "accompany nextPageToken")
        fields_param = q.get("fields")
        q, offset = _decode_token(token)
        if fields_param:
            q["fields"] = fields_param
    fields = _fields(q.get("fields"))
    limit = DEFAULT_PAGE
    if "limit" in q:
        value = coerce_int(q["limit"])
        if value is None or not 1 <= value <= MAX_PAGE:
            raise V5Error(400, 23, "Invalid value specified for limit")
        limit = value
    deleted = q.get("deleted", "false").lower()
    if deleted not in ("true", "false", "all"):
        raise V5Error(400, 154, "Invalid property in request: deleted")
    predicates = [_filter(name, raw) for name, raw in q.items() if name not in _SHARED]
    rows = [p for p in app.store.prospect_list(include_deleted=deleted != "false")
            if (deleted != "true" or p["deleted"]) and all(test(p) for test in predicates)]
    rows = _sorted(rows, _order(q.get("orderBy")))
    page = rows[offset:offset + limit]
    next_token = _encode_token(q, offset + limit) if offset + limit < len(rows) else None
    return Reply.json(200, {
        "values": [{f: prospect_value(p, f) for f in fields} for p in page],
        "nextPageToken": next_token,
        "nextPageUrl": f"{app.base_url}{req.path}?nextPageToken={next_token}"
        if next_token else None,
    })
