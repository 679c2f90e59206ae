"""Classify Pardot and Salesforce replies: by Pardot error code first, HTTP status second.

The HTTP status that carries several Pardot errors is not known for sure (66 and 122 may
come as 200, 400 or 429; 184 as 401 or 400), so the code in the body always wins.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from target_pardot.errors import (
    AuthFailed,
    BusinessUnitRejected,
    DailyLimitReached,
    PardotApiError,
    PayloadTooLarge,
    RateLimited,
    RetryableError,
    TokenExpired,
    WrongApiVersion,
)

CODE_INVALID_PROSPECT_ID = 3
CODE_INVALID_EMAIL = 4
CODE_INVALID_LIST_ID = 55
CODE_ALREADY_MEMBER = 58
CODE_CONFLICTING_UPDATE = 62
CODE_MUST_USE_V4 = 88
CODE_CANNOT_USE_V4 = 89
CODE_CONCURRENCY_LIMIT = 66
CODE_BATCH_TOO_LARGE = 70
CODE_INVALID_JSON = 71
CODE_UNABLE_TO_SAVE = 85
CODE_DAILY_LIMIT = 122
CODE_HEADER_MISSING = 181
CODE_INTERNAL_ERROR = 183
CODE_INVALID_TOKEN = 184
CODE_BUSINESS_UNIT = 201
CODE_TIMED_OUT = 214

TRANSIENT_CODES = frozenset({CODE_CONFLICTING_UPDATE, CODE_INTERNAL_ERROR, CODE_TIMED_OUT,
                             CODE_UNABLE_TO_SAVE})  # fmt: skip
# An HTTP 500 may come after Pardot applied the call; 502 and 504 come from a proxy that
# may have forwarded it. 503 means the service refused the call before doing anything.
AMBIGUOUS_STATUSES = frozenset({500, 502, 504})

_XML_CODE = re.compile(rb'err_code="?(\d+)|<err code="(\d+)"|<code>(\d+)</code>')

#: Per-row messages of v4 batch calls carry no code; these are the ones we can name.
ROW_MESSAGE_CODES = {
    "Invalid prospect ID": CODE_INVALID_PROSPECT_ID,
    "Invalid prospect email address": CODE_INVALID_EMAIL,
    "Invalid list ID": CODE_INVALID_LIST_ID,
    "Unable to save the prospect": CODE_UNABLE_TO_SAVE,
    "Conflicting Update": CODE_CONFLICTING_UPDATE,
}
#: A batch element refused with one of these may succeed when sent again (Pardot's error
#: table: 85 "retry, then reject the record", 62 "wait and retry").
TRANSIENT_ROW_CODES = frozenset({CODE_UNABLE_TO_SAVE, CODE_CONFLICTING_UPDATE})


@dataclass(frozen=True)
class Reply:
    """A successful reply, parsed. ``content`` keeps the raw bytes (a CSV, say)."""

    status: int
    body: Any
    content: bytes = field(default=b"", repr=False)


def parse_body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


def error_code(body: Any, content: bytes) -> int | None:
    """The Pardot error code in a v3/v4 envelope, a v5 envelope, or an XML body."""
    if isinstance(body, dict):
        attributes = body.get("@attributes")
        if isinstance(attributes, dict) and attributes.get("err_code") is not None:
            return _as_int(attributes.get("err_code"))
        if body.get("code") is not None and ("message" in body or "@attributes" not in body):
            return _as_int(body.get("code"))
        return None
    match = _XML_CODE.search(content[:4096])
    if match:
        return int(next(group for group in match.groups() if group))
    return None


def error_message(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("err", "message", "error_description"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return ""


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def classify(status: int, content: bytes) -> Reply:
    """Return the parsed reply, or raise the error that says what to do about it."""
    body = parse_body(content)
    code = error_code(body, content)
    message = error_message(body)
    if code is not None:
        raise_for_code(code, status, message)
    if status in (413, 414):
        raise PayloadTooLarge(f"HTTP {status}: the request is too large", status=status)
    if status == 401:
        raise TokenExpired("HTTP 401: the access token was not accepted", status=401)
    if status == 429:
        raise RateLimited("HTTP 429: too many requests", status=429)
    if status >= 500:
        raise RetryableError(
            f"HTTP {status} from Pardot", status=status, ambiguous=status in AMBIGUOUS_STATUSES
        )
    if status >= 400:
        raise PardotApiError(f"HTTP {status}: {message or 'request refused'}", status=status)
    return Reply(status=status, body=body, content=content)


def raise_for_code(code: int, status: int, message: str) -> None:
    text = f"Pardot error {code}: {message}" if message else f"Pardot error {code}"
    if code == CODE_CONCURRENCY_LIMIT:
        raise RateLimited(text, code=code, status=status)
    if code == CODE_DAILY_LIMIT:
        raise DailyLimitReached(f"{text}. The daily API limit of this Pardot account is used up.")
    if code in (CODE_MUST_USE_V4, CODE_CANNOT_USE_V4):
        raise WrongApiVersion(text, code=code, status=status)
    if code in TRANSIENT_CODES:
        raise RetryableError(text, code=code, status=status)
    if code == CODE_INVALID_TOKEN:
        raise TokenExpired(text, code=code, status=status)
    if code == CODE_HEADER_MISSING:
        raise AuthFailed(f"{text}. Check the setting 'business_unit'.")
    if code == CODE_BUSINESS_UNIT:
        raise BusinessUnitRejected(
            f"{text.rstrip('.')}. Check 'business_unit', and that 'pardot_domain' (or "
            "'sandbox') matches the account: pi.pardot.com for production, pi.demo.pardot.com "
            "for sandboxes and developer orgs."
        )
    raise PardotApiError(text, code=code, status=status)


def batch_row_errors(body: Any) -> dict[int, str]:
    """Per-row errors of a v4 batch reply, keyed by 0-based index into the sent array."""
    if not isinstance(body, dict):
        return {}
    errors = body.get("errors")
    if not isinstance(errors, dict):
        return {}
    result: dict[int, str] = {}
    for key, value in errors.items():
        index = _as_int(key)
        if index is not None:
            result[index] = value if isinstance(value, str) else json.dumps(value)
    return result


def row_error_code(message: str) -> int | None:
    for prefix, code in ROW_MESSAGE_CODES.items():
        if message.startswith(prefix):
            return code
    return None


def is_transient_row_error(message: str) -> bool:
    """True when a batch element's error says to send it again."""
    return row_error_code(message) in TRANSIENT_ROW_CODES
