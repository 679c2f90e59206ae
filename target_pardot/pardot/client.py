"""PardotClient: the only module that speaks HTTP to Pardot.

A call is one :class:`Call` value passed down three layers, one concern each:

* :meth:`PardotClient.send`: retries transient failures (:func:`should_retry` decides,
  :func:`retry_wait` says how long; both are pure);
* ``_send_handling_auth``: replays the call with a fresh token when Pardot refuses one;
* ``_send_single``: one HTTP request inside ``_slot`` (the concurrency gate, cancellation,
  the call budget and the in-flight count), then the reply's classification.

It owns one requests.Session, the auth headers and the process-wide gate; the endpoint
methods (v4 batches, v5 upserts, imports...) are in endpoints.py, held as
``client.endpoints`` and sending through :meth:`PardotClient.send`. It knows nothing about
Singer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from target_pardot.errors import (
    BusinessUnitRejected,
    CallBudgetReached,
    CallCancelled,
    DailyLimitReached,
    RateLimited,
    RetriesExhausted,
    RetryableError,
    TargetPardotError,
    TokenExpired,
)
from target_pardot.pardot.api_version import ApiVersion
from target_pardot.pardot.auth import TokenProvider, business_unit_hint
from target_pardot.pardot.call import (
    Call,
    Counters,
    retry_reason,
    retry_wait,
    should_retry,
)
from target_pardot.pardot.call_clock import CallClock
from target_pardot.pardot.concurrency import AdaptiveLimit
from target_pardot.pardot.config import AuthConfig, ClientConfig
from target_pardot.pardot.endpoints import Endpoints
from target_pardot.pardot.limits import MAX_CONCURRENT_REQUESTS
from target_pardot.pardot.quota import REQUEST_HEADER, REQUEST_HEADER_VALUE, reserve_refusal
from target_pardot.pardot.responses import Reply, classify

logger = logging.getLogger("target-pardot")

BUSINESS_UNIT_HEADER = "Pardot-Business-Unit-Id"
_CONNECT_TIMEOUT_CAP = 30.0
# A token may also expire while other threads use it, so a replay can meet 184 again.
# Bounded per call; running out is retried later like any transient failure.
_TOKEN_REFRESHES_PER_CALL = 5
#: Longest time a timed-out call keeps its slot (see PardotClient._slot_grace).
SLOT_GRACE_CAP_SECONDS = 60.0


def _tokens_kept_expiring() -> RetryableError:
    """A call's refreshes are used up: retried later like any transient failure. Only a
    token request that Salesforce refuses is a credentials error: tokens that expire
    faster than the calls can use them are not."""
    return RetryableError(
        f"Pardot refused {_TOKEN_REFRESHES_PER_CALL + 1} fresh access tokens in a row for "
        "one call (error 184). If this persists, check that the connected app has the "
        "'pardot_api' scope, that its user has Pardot access, and that 'pardot_domain' "
        "and 'business_unit' belong to the same account",
        code=184,
    )


def _not_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached Pardot (safe to send again)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError)


class _Expired(NamedTuple):
    """Pardot refused this access token (error 184 or HTTP 401)."""

    token: str


class _Lease:
    """A gate slot held by one call: its ticket, and the seconds the slot stays taken
    after the call ends (0, or the grace after a read timeout)."""

    __slots__ = ("grace", "ticket")

    def __init__(self, ticket: int) -> None:
        self.ticket = ticket
        self.grace = 0.0


class PardotClient:
    """Sends Pardot calls within the concurrency gate, with retries and token refresh."""

    def __init__(self, config: ClientConfig, auth: AuthConfig, counters: Counters) -> None:
        self.config = config
        self.stats = counters
        self.session = requests.Session()
        pool = max(config.parallel_tasks, MAX_CONCURRENT_REQUESTS) * 2
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        timeout = config.maximum_connection_timeout
        self.timeout = (min(_CONNECT_TIMEOUT_CAP, timeout), timeout)
        # One gate for the whole process: every stream and every sending thread goes
        # through it, so the account never sees more than `parallel_tasks` calls from us,
        # and fewer while error 66 says other integrations hold some of the slots.
        self.gate = AdaptiveLimit(config.parallel_tasks)
        # Set by the runtime: true once delivery has failed, so that no new call starts.
        self.cancelled: Callable[[], bool] = lambda: False
        # Once the daily limit is met or the run is interrupted, no further call may start,
        # including retries already waiting in a backoff.
        self._halted: TargetPardotError | None = None
        self._in_flight = 0
        self._pardot_calls = 0
        self._idle = threading.Condition()
        #: Time spent waiting on Pardot (for the summary's hint about parallel_tasks).
        self.clock = CallClock()
        # Which of v3/v4 the account takes; callers send through api_version.run().
        self.api_version = ApiVersion(
            config.api_version,
            on_change=counters.set_api_version,
            parallel=config.parallel_tasks > 1,
        )
        #: Pardot's endpoints, sending through this client (``client.endpoints.import_status``).
        self.endpoints = Endpoints(self.send)
        self.auth = TokenProvider(
            auth,
            self.session,
            timeout=self.timeout,
            on_call=counters.call,
            on_retry=counters.retry,
        )

    def close(self) -> None:
        self.session.close()

    def halt(self, reason: TargetPardotError) -> None:
        """Refuse every further call with ``reason``; calls in flight finish normally."""
        with self._idle:
            if self._halted is None:
                self._halted = reason

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in flight; False if some still are after ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def calls_left(self) -> int | None:
        """Calls this run may still make under `max_api_calls`; None when unlimited."""
        limit = self.config.max_api_calls
        with self._idle:
            return None if limit is None else max(limit - self._pardot_calls, 0)

    def check_credentials(self) -> None:
        """Fetch a token now, so bad credentials fail before any row is read."""
        self.auth.token()

    # -- the layers ---------------------------------------------------------------------

    def send(self, call: Call) -> Reply:
        """Send with retries. Ambiguous failures of non-idempotent calls are raised at once.

        Raises RetryableError (``ambiguous`` set) for the caller to reroute, RetriesExhausted
        when transient failures outlast `maximum_retries`, and the other errors of
        :mod:`target_pardot.errors` unchanged.
        """
        config = self.config
        retries_done = 0
        while True:
            try:
                return self._send_handling_auth(call)
            except RetryableError as exc:
                if not should_retry(exc, call, retries_done, config.maximum_retries):
                    if exc.ambiguous and not call.idempotent:
                        raise
                    raise RetriesExhausted(
                        f"{call.endpoint} still failing after {config.maximum_retries} "
                        f"retries ({exc}). Pardot may be degraded; re-run later, or raise "
                        "'maximum_retries'."
                    ) from None
                wait = retry_wait(
                    retries_done, config.initial_retry_wait, config.maximum_retry_wait
                )
                retries_done += 1
                self._log_retry(call, exc, wait, retries_done)
                time.sleep(wait)

    def _log_retry(self, call: Call, exc: RetryableError, wait: float, retries_done: int) -> None:
        reason = retry_reason(exc)
        self.stats.retry(reason)
        logger.info(
            "Retrying %s in %.3fs after %s (attempt %d of %d).",
            call.endpoint,
            wait,
            reason,
            retries_done + 1,
            self.config.maximum_retries + 1,
        )

    def _send_handling_auth(self, call: Call) -> Reply:
        replay = False
        for attempt in range(_TOKEN_REFRESHES_PER_CALL + 1):
            outcome = self._send_single(call, replay=replay)
            if not isinstance(outcome, _Expired):
                return outcome
            if attempt < _TOKEN_REFRESHES_PER_CALL:
                self.stats.retry("token_refresh")
                self.auth.refresh(outcome.token)
                replay = True  # first in line, before other calls use the new token up
        raise _tokens_kept_expiring()

    def _send_single(self, call: Call, *, replay: bool = False) -> Reply | _Expired:
        """One request. Returns the token Pardot refused (184/401) instead of raising, so
        the caller refreshes exactly that token. ``replay``: the call just refreshed the
        token, and is served first at the gate."""
        with self._slot(call, first=replay) as lease:
            ticket = lease.ticket
            try:
                # Read the token once the call may go: a thread that waited at the gate
                # would otherwise send a token that another thread has already replaced.
                token = self.auth.token()
                self.stats.call(call.endpoint)
                quota_mark = self.stats.quota.mark()
                response = self.session.request(
                    call.method,
                    f"{self.config.pardot_domain}{call.path}",
                    params=call.params,
                    data=call.data,
                    files=call.files,
                    json=call.json,
                    headers=self._headers(call, token),
                    timeout=self.timeout,
                    allow_redirects=not call.redirects_to_storage,
                )
                # x-api-usage, read while this call still counts as in flight.
                self.stats.quota.observe(response.headers, quota_mark)
                if call.redirects_to_storage and response.is_redirect:
                    response = self._get_from_storage(response)
            except requests.RequestException as exc:
                lease.grace = self._slot_grace(exc)
                # A call that may still run at Pardot is treated like error 66: fewer calls
                # in flight until Pardot keeps up again.
                self.gate.feedback(ticket, refused=lease.grace > 0)
                raise RetryableError(
                    f"{call.endpoint}: {type(exc).__name__} talking to "
                    f"{self.config.pardot_domain}",
                    ambiguous=not _not_sent(exc),
                ) from None
        return self._read_reply(response, ticket, token)

    def _get_from_storage(self, redirect: requests.Response) -> requests.Response:
        """Follow Pardot's redirect to a stored file, within the same call: the storage
        host gets no token, business unit or usage header (requests would keep the last
        two, and the token too on the same host)."""
        location = urljoin(redirect.url, redirect.headers.get("Location", ""))
        return self.session.get(location, timeout=self.timeout, allow_redirects=True)

    def _headers(self, call: Call, token: str) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {token}",
            BUSINESS_UNIT_HEADER: self.config.business_unit,
            REQUEST_HEADER: REQUEST_HEADER_VALUE,
        }
        if call.data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers

    def _read_reply(self, response: requests.Response, ticket: int, token: str) -> Reply | _Expired:
        """Classify the reply, and tell the gate whether Pardot refused it for concurrency."""
        refused = False
        try:
            reply = classify(response.status_code, response.content)
            self.stats.quota.report_first()
            return reply
        except RateLimited:
            refused = True
            raise
        except TokenExpired:
            return _Expired(token)
        except DailyLimitReached as exc:
            self.halt(exc)
            raise
        except BusinessUnitRejected as exc:
            raise BusinessUnitRejected(f"{exc} {business_unit_hint(self.config)}") from None
        finally:
            self.gate.feedback(ticket, refused=refused)

    @contextmanager
    def _slot(self, call: Call, *, first: bool = False) -> Iterator[_Lease]:
        """Hold a gate slot and count the call in flight (and against `max_api_calls`);
        yields the lease (the gate's ticket, and how long the slot stays taken after the
        call: see _slot_grace). Raises instead when no new call may start."""
        lease = _Lease(self.gate.acquire(first=first))
        try:
            if self.cancelled():
                raise CallCancelled(call.endpoint)
            self._start_call()
            started = self.clock.start()
            try:
                yield lease
            finally:
                self.clock.end(started)
                self._end_call()
        finally:
            self._free_slot(lease.grace)

    def _slot_grace(self, exc: requests.RequestException) -> float:
        """Seconds a failed call keeps its slot. After a read timeout the request reached
        Pardot, which may still be working on it and counting it among the account's 5
        calls in flight: the slot stays taken for as long again as the call was given
        (`maximum_connection_timeout`), at most SLOT_GRACE_CAP_SECONDS. Other failures
        free it at once."""
        if isinstance(exc, requests.ReadTimeout):
            return min(self.timeout[1], SLOT_GRACE_CAP_SECONDS)
        return 0.0

    def _free_slot(self, grace: float) -> None:
        if grace > 0:
            self.gate.release_after(grace)
        else:
            self.gate.release()

    def _start_call(self) -> None:
        with self._idle:
            if self._halted is not None:
                raise self._halted
            limit = self.config.max_api_calls
            if limit is not None and self._pardot_calls >= limit:
                self._halted = CallBudgetReached(
                    f"This run has made {limit} Pardot API calls, the limit set by "
                    "'max_api_calls', and stops to leave the rest of the daily quota to "
                    "other integrations."
                )
                raise self._halted
            quota = self.stats.quota.latest
            refusal = reserve_refusal(quota, self.config.daily_quota_reserve, self._in_flight)
            if refusal is not None:
                self._halted = refusal
                raise refusal
            self._pardot_calls += 1
            self._in_flight += 1

    def _end_call(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()
