"""The account's daily API quota, as Pardot reports it in the ``x-api-usage`` header.

Pardot's v5 overview [doc] says a request carrying ``X-Return-Api-Usage: 1`` gets a reply
header ``x-api-usage``: the calls made in the last day over the most the account may make
per day. Its exact format is not documented [guess], so :func:`parse_api_usage` reads
``used/max`` when the text looks like that and keeps the raw text otherwise; nothing here
ever raises on it. The quota is the account's, shared with every other integration.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from target_pardot.errors import DailyQuotaReserved

logger = logging.getLogger("target-pardot")

REQUEST_HEADER = "X-Return-Api-Usage"
REQUEST_HEADER_VALUE = "1"
REPLY_HEADER = "x-api-usage"
_MAX_RAW_LENGTH = 80
_USED_OF_MAX = re.compile(r"(\d+)\s*/\s*(\d+)")


@dataclass(frozen=True)
class ApiUsage:
    """One reading of the header: ``used`` and ``limit`` when it parsed, ``raw`` always."""

    raw: str
    used: int | None = None
    limit: int | None = None

    @property
    def parsed(self) -> bool:
        return self.used is not None and self.limit is not None

    def describe(self) -> str:
        if self.used is not None and self.limit is not None:
            return f"{self.used} of {self.limit}"
        return f"unparsed ({self.raw!r})"


def parse_api_usage(text: str | None) -> ApiUsage | None:
    """``"1234/25000"`` -> used 1234 of 25000; anything else is kept raw. None if absent."""
    if text is None:
        return None
    raw = " ".join(str(text).split())[:_MAX_RAW_LENGTH]
    if not raw:
        return None
    match = _USED_OF_MAX.search(raw)
    if match is None or int(match.group(2)) == 0:
        return ApiUsage(raw=raw)
    return ApiUsage(raw=raw, used=int(match.group(1)), limit=int(match.group(2)))


def usage_figure(usage: ApiUsage | None) -> str:
    """``"N of M"``, the raw text when it did not parse, or ``"unknown"``."""
    return "unknown" if usage is None else usage.describe()


def describe_usage(usage: ApiUsage | None) -> str:
    """The phrase progress lines and logs use."""
    return f"daily API calls used: {usage_figure(usage)}"


def reserve_refusal(
    usage: ApiUsage | None, reserve: int, calls_in_flight: int
) -> DailyQuotaReserved | None:
    """The error that stops the run when one more call could eat into the reserve."""
    if not reserve_exceeded(usage, reserve, calls_in_flight):
        return None
    return DailyQuotaReserved(
        f"The account has used {usage_figure(usage)} daily API calls; one more could eat "
        f"into the {reserve} left to other integrations ('daily_quota_reserve'), so the "
        "run stops here."
    )


def reserve_exceeded(usage: ApiUsage | None, reserve: int, calls_in_flight: int) -> bool:
    """True when one more call could take the account's usage past ``limit - reserve``.

    The calls already sent but not yet answered may not be in the last reading, so they
    count as spent. Without a parsed reading nothing is known and the call may go.
    """
    if reserve <= 0 or usage is None or usage.used is None or usage.limit is None:
        return False
    return usage.used + calls_in_flight + 1 > usage.limit - reserve


class QuotaWatch:
    """The first and the latest usage Pardot reported during this run. Thread-safe.

    Replies of calls in flight together arrive in any order, so among them the highest
    count is the latest. But a call sent after the latest reading arrived was counted
    after it: its reading replaces it even when lower, which is how a new day (the count
    starting again) shows, in progress lines and the summary (G22 in docs/wire-contract.md).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first: ApiUsage | None = None
        self._latest: ApiUsage | None = None
        self._first_reported = False
        #: Readings taken so far, and the number of the latest one.
        self._readings = 0
        self._latest_number = -1

    def mark(self) -> int:
        """Taken as a call is sent; handed back to ``observe`` with its reply."""
        with self._lock:
            return self._readings

    def observe(self, headers: Mapping[str, str], sent_at: int | None = None) -> ApiUsage | None:
        """Read the reply's headers (a case-insensitive mapping); never raises.
        ``sent_at``: the call's ``mark()``; None when unknown (then the highest wins)."""
        try:
            usage = parse_api_usage(headers.get(REPLY_HEADER))
        except Exception:  # a quota reading must never fail a call
            return None
        if usage is None:
            return None
        with self._lock:
            number, self._readings = self._readings, self._readings + 1
            if self._first is None:
                self._first = usage
            sent_after_latest = sent_at is not None and sent_at > self._latest_number
            if sent_after_latest or _newer(self._latest, usage) is usage:
                self._latest, self._latest_number = usage, number
        return usage

    def report_first(self) -> None:
        """Log the first reading once (callers do it after the reply is classified)."""
        with self._lock:
            if self._first is None or self._first_reported:
                return
            self._first_reported = True
            first = self._first
        logger.info("%s at the start of this run.", describe_usage(first))

    @property
    def first(self) -> ApiUsage | None:
        with self._lock:
            return self._first

    @property
    def latest(self) -> ApiUsage | None:
        with self._lock:
            return self._latest


def _newer(previous: ApiUsage | None, current: ApiUsage) -> ApiUsage:
    """Replies of parallel calls arrive out of order: keep the highest count seen."""
    if previous is None or previous.used is None or current.used is None:
        return current
    return current if current.used >= previous.used else previous
