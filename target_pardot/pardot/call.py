"""One Pardot call as a value, and the retry policy: pure, so tested without HTTP.

The client passes a :class:`Call` down its layers (retries, token refresh, one request);
:func:`should_retry` and :func:`retry_wait` are the whole of its retry decisions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from target_pardot.errors import RetryableError
from target_pardot.pardot.quota import QuotaWatch

#: Multipart parts for requests: name -> (filename or None, content, content type).
Files = Mapping[str, tuple[str | None, bytes | str, str]]


@dataclass(frozen=True)
class Call:
    """One Pardot API call, as it travels down the client's layers."""

    method: str
    path: str
    #: The name counted in the run summary and used in logs, e.g. "prospect/batchUpsert".
    endpoint: str
    #: Safe to send again after an ambiguous failure (the first may have been applied).
    idempotent: bool
    params: Mapping[str, str] | None = None
    data: str | None = None
    json: Mapping[str, Any] | None = None
    files: Files | None = None
    #: The reply may redirect to a file on a storage host: followed within this call,
    #: with none of Pardot's headers (docs/wire-contract.md, R10).
    redirects_to_storage: bool = False


class Counters(Protocol):
    """Where the client counts its calls and retries (the run's statistics)."""

    def call(self, endpoint: str) -> None: ...

    def retry(self, reason: str) -> None: ...

    def set_api_version(self, version: int) -> None: ...

    #: The account's daily usage as Pardot reports it (x-api-usage).
    quota: QuotaWatch


def should_retry(exc: RetryableError, call: Call, retries_done: int, max_retries: int) -> bool:
    """Whether a call that failed transiently goes again. An ambiguous failure (Pardot may
    have applied the call) of a call that is not idempotent never does: the caller
    reroutes it (see RetryableError.ambiguous)."""
    if exc.ambiguous and not call.idempotent:
        return False
    return retries_done < max_retries


def retry_wait(
    retries_done: int, initial: float, maximum: float, draw: Callable[[], float] = random.random
) -> float:
    """Seconds before the next try: exponential (initial, 2x, 4x ... at most ``maximum``)
    with full jitter, so that threads refused together do not come back together."""
    ceiling = min(maximum, initial * 2**retries_done)
    return draw() * ceiling


def retry_reason(exc: BaseException) -> str:
    if isinstance(exc, RetryableError):
        if exc.code is not None:
            return f"code_{exc.code}"
        if exc.status is not None:
            return f"http_{exc.status}"
    return "connection"
