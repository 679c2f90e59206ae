"""The small error taxonomy of target-pardot.

Every exception a user may see derives from TargetPardotError, carries a message that
says what happened and what to do, and an exit code. None of them ever holds a secret:
messages are built from setting names and Pardot's own error texts, never from
request headers or bodies.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_DAILY_LIMIT = 3


class TargetPardotError(Exception):
    """Base of every expected failure: logged as one line, no traceback."""

    exit_code = EXIT_FAILURE


class ConfigError(TargetPardotError):
    """A setting is missing, malformed or contradicts another."""

    exit_code = EXIT_CONFIG


class AuthFailed(TargetPardotError):
    """Credentials, business unit or host are wrong: retrying cannot help."""

    exit_code = EXIT_CONFIG


class BusinessUnitRejected(AuthFailed):
    """Error 201: the business unit is unknown on this Pardot host (or inactive)."""


class PardotApiError(TargetPardotError):
    """Pardot answered with an error we do not retry and that is not about one row."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class RetryableError(PardotApiError):
    """A transient failure: the call may be sent again after a wait.

    ``ambiguous`` marks failures after which Pardot may already have applied the call
    (a dropped connection after the request was sent, a read timeout, an HTTP 500):
    only idempotent calls may be replayed blindly.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        ambiguous: bool = False,
    ):
        super().__init__(message, code=code, status=status)
        self.ambiguous = ambiguous


class RateLimited(RetryableError):
    """Error 66: more than five requests in flight on the account."""


class TokenExpired(PardotApiError):
    """Error 184 or HTTP 401: refresh the access token and replay once."""


class WrongApiVersion(PardotApiError):
    """Error 88 or 89: the call used API v3 on a v4 account, or v4 on a v3 account.
    Nothing was applied; the caller switches version and sends the call again."""


class ApiVersionRejected(ConfigError):
    """Error 88 or 89 that no switch can cure: `api_version` is fixed to the other one."""


class PayloadTooLarge(PardotApiError):
    """HTTP 413 or 414: the request must be split."""


class DailyLimitReached(TargetPardotError):
    """Error 122, or this run's own call budget: stop, and resume after the reset."""

    exit_code = EXIT_DAILY_LIMIT


class CallBudgetReached(DailyLimitReached):
    """This run made `max_api_calls` Pardot calls: it stops to leave quota for others."""


class DailyQuotaReserved(DailyLimitReached):
    """The account's reported usage reached its daily maximum less `daily_quota_reserve`."""


class Interrupted(TargetPardotError):
    """SIGTERM or SIGINT: stop sending, wait briefly for calls in flight, emit the true STATE."""

    def __init__(self, message: str, *, signal_number: int):
        super().__init__(message)
        self.exit_code = 128 + signal_number


class RetriesExhausted(TargetPardotError):
    """A transient failure outlasted `maximum_retries`."""


class RecordRejected(TargetPardotError):
    """A row is invalid and `skip_invalid_records` is false: the run stops on it.

    ``during_delivery`` is false when the row was refused before it was buffered: the rows
    before it can still be delivered and their STATE emitted. When true, a batch was being
    delivered and its outcome is partial, so no STATE may be emitted.
    """

    def __init__(self, message: str, *, during_delivery: bool):
        super().__init__(message)
        self.during_delivery = during_delivery


class CallCancelled(Exception):
    """A call was not sent because delivery already failed elsewhere in the run.

    Not a TargetPardotError: the failure that caused it is the one reported.
    """
