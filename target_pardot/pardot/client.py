"""PardotClient: the only module that speaks HTTP to Pardot.

It owns one requests.Session, the auth headers, the process-wide concurrency gate, the
retry policy and the classification of replies. It knows nothing about Singer.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import backoff
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from target_pardot.errors import (
    AuthFailed,
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
from target_pardot.pardot.api_version import ApiVersion, v3v4_path
from target_pardot.pardot.auth import TokenProvider, business_unit_hint
from target_pardot.pardot.concurrency import AdaptiveLimit
from target_pardot.pardot.limits import MAX_CONCURRENT_REQUESTS
from target_pardot.pardot.responses import Reply, classify
from target_pardot.run.stats import RunStats
from target_pardot.settings import Settings

logger = logging.getLogger("target-pardot")

#: Multipart parts for requests: name -> (filename or None, content, content type).
Files = Mapping[str, tuple[str | None, bytes | str, str]]

BUSINESS_UNIT_HEADER = "Pardot-Business-Unit-Id"
#: The fields an import poll asks for (a v5 read returns only those named).
IMPORT_STATUS_FIELDS = "id,status,isExpired,createdCount,updatedCount,errorCount"
#: The fields a custom-fields query asks for: fieldId is the v5 API name (field_id__c).
CUSTOM_FIELD_QUERY_FIELDS = "id,fieldId"
_CONNECT_TIMEOUT_CAP = 30.0
# A token may also expire while other threads use it, so a replay can meet 184 again;
# only a run of refusals means the credentials cannot work.
_TOKEN_REFRESHES_PER_CALL = 3


def _not_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached Pardot (safe to send again)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError)


def _retry_reason(exc: BaseException) -> str:
    if isinstance(exc, RetryableError):
        if exc.code is not None:
            return f"code_{exc.code}"
        if exc.status is not None:
            return f"http_{exc.status}"
    return "connection"


class _Expired(NamedTuple):
    """Pardot refused this access token (error 184 or HTTP 401)."""

    token: str


class PardotClient:
    """Sends Pardot calls within the concurrency gate, with retries and token refresh."""

    def __init__(self, settings: Settings, stats: RunStats) -> None:
        self.settings = settings
        self.stats = stats
        self.session = requests.Session()
        pool = max(settings.parallel_tasks, MAX_CONCURRENT_REQUESTS) * 2
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        timeout = settings.maximum_connection_timeout
        self.timeout = (min(_CONNECT_TIMEOUT_CAP, timeout), timeout)
        # One gate for the whole process: every stream and every sending thread goes
        # through it, so the account never sees more than `parallel_tasks` calls from us,
        # and fewer while error 66 says other integrations hold some of the slots.
        self.gate = AdaptiveLimit(settings.parallel_tasks)
        # Set by the runtime: true once delivery has failed, so that no new call starts.
        self.cancelled: Callable[[], bool] = lambda: False
        # Once the daily limit is met or the run is interrupted, no further call may start,
        # including retries already waiting in a backoff.
        self._halted: TargetPardotError | None = None
        self._in_flight = 0
        self._pardot_calls = 0
        self._idle = threading.Condition()
        # Which of v3/v4 the account takes; callers send through api_version.run().
        self.api_version = ApiVersion(settings.api_version, on_change=stats.set_api_version)
        self.auth = TokenProvider(
            settings,
            self.session,
            timeout=self.timeout,
            on_call=stats.call,
            on_retry=stats.retry,
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
        limit = self.settings.max_api_calls
        with self._idle:
            return None if limit is None else max(limit - self._pardot_calls, 0)

    def _start_call(self) -> None:
        with self._idle:
            if self._halted is not None:
                raise self._halted
            limit = self.settings.max_api_calls
            if limit is not None and self._pardot_calls >= limit:
                self._halted = CallBudgetReached(
                    f"This run has made {limit} Pardot API calls, the limit set by "
                    "'max_api_calls', and stops to leave the rest of the daily quota to "
                    "other integrations."
                )
                raise self._halted
            self._pardot_calls += 1
            self._in_flight += 1

    def _end_call(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def check_credentials(self) -> None:
        """Fetch a token now, so bad credentials fail before any row is read."""
        self.auth.token()

    # -- public calls -----------------------------------------------------------------

    def prospect_batch(
        self, operation: str, body: str, *, version: int, idempotent: bool
    ) -> Reply:
        return self.request(
            "POST",
            v3v4_path(version, "prospect", operation),
            endpoint=f"prospect/{operation}",
            params={"format": "json"},
            data=body,
            idempotent=idempotent,
        )

    def v5_upsert_latest_by_email(self, body: Mapping[str, Any]) -> Reply:
        return self.request(
            "POST",
            "/api/v5/objects/prospects/do/upsertLatestByEmail",
            endpoint="prospect/upsertLatestByEmail",
            json_body=body,
            idempotent=True,
        )

    def v5_query_prospects(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """One page of a v5 prospect query: the ``values`` of the reply."""
        reply = self.request(
            "GET",
            "/api/v5/objects/prospects",
            endpoint="prospect/query",
            params=params,
            idempotent=True,
        )
        values = reply.body.get("values") if isinstance(reply.body, dict) else None
        return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []

    def list_membership(
        self, action: str, list_id: int, prospect_id: int, *, version: int,
        opted_out: bool | None = None,
    ) -> Reply:  # fmt: skip
        data = None if opted_out is None else f"opted_out={'true' if opted_out else 'false'}"
        return self.request(
            "POST",
            v3v4_path(version, "listMembership", action)
            + f"/list_id/{list_id}/prospect_id/{prospect_id}",
            endpoint=f"listMembership/{action}",
            params={"format": "json"},
            data=data,
            idempotent=True,
        )

    def v5_list_memberships(self, params: Mapping[str, str]) -> Reply:
        """One page of the v5 list-membership query (read only, so always safe to repeat)."""
        return self.request(
            "GET",
            "/api/v5/objects/list-memberships",
            endpoint="v5/list-memberships/query",
            params=params,
            idempotent=True,
        )

    def v5_custom_fields(self, page_url: str | None = None) -> Reply:
        """One page of the account's custom fields (v5 query; `fields` is required)."""
        if page_url is not None and page_url.startswith(self.settings.pardot_domain):
            page_url = page_url[len(self.settings.pardot_domain) :]
        return self.request(
            "GET",
            page_url or "/api/v5/objects/custom-fields",
            endpoint="customFields/query",
            params=None if page_url else {"fields": CUSTOM_FIELD_QUERY_FIELDS},
            idempotent=True,
        )

    # -- v5 Import API ------------------------------------------------------------------
    # Uploads are replayed after an ambiguous failure: a batch applied twice upserts the
    # same rows twice (matching by id or email, so nothing is duplicated), and an import
    # created twice leaves one import that is never set Ready and expires unprocessed.

    def import_create(self, settings: Mapping[str, Any], csv: bytes) -> Reply:
        return self.request(
            "POST",
            "/api/v5/imports",
            endpoint="imports/create",
            files={
                "input": (None, json.dumps(dict(settings)), "application/json"),
                "file": ("prospects.csv", csv, "text/csv"),
            },
            idempotent=True,
        )

    def import_add_batch(self, import_id: int, csv: bytes) -> Reply:
        return self.request(
            "POST",
            f"/api/v5/imports/{import_id}/batches",
            endpoint="imports/batch",
            files={"file": ("prospects.csv", csv, "text/csv")},
            idempotent=True,
        )

    def import_set_ready(self, import_id: int) -> Reply:
        return self.request(
            "PATCH",
            f"/api/v5/imports/{import_id}",
            endpoint="imports/update",
            json_body={"status": "Ready"},
            idempotent=True,
        )

    def import_status(self, import_id: int) -> Reply:
        # A v5 read answers only the fields named in `fields` (docs/wire-contract.md, R9).
        return self.request(
            "GET",
            f"/api/v5/imports/{import_id}",
            endpoint="imports/read",
            params={"fields": IMPORT_STATUS_FIELDS},
            idempotent=True,
        )

    def import_errors(self, import_id: int) -> Reply:
        return self.request(
            "GET",
            f"/api/v5/imports/{import_id}/errors",
            endpoint="imports/errors",
            idempotent=True,
        )

    # -- machinery --------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        data: str | None = None,
        json_body: Mapping[str, Any] | None = None,
        files: Files | None = None,
        idempotent: bool,
    ) -> Reply:
        """Send with retries. Ambiguous failures of non-idempotent calls are raised at once.

        Raises RetryableError (``ambiguous`` set) for the caller to reroute, RetriesExhausted
        when transient failures outlast `maximum_retries`, and the other errors of
        :mod:`target_pardot.errors` unchanged.
        """

        def give_up(exc: Exception) -> bool:
            return isinstance(exc, RetryableError) and exc.ambiguous and not idempotent

        def on_backoff(details: Any) -> None:
            exc = details.get("exception")
            reason = _retry_reason(exc) if exc is not None else "unknown"
            self.stats.retry(reason)
            logger.info(
                "Retrying %s in %.3fs after %s (attempt %d of %d).",
                endpoint,
                details.get("wait", 0.0),
                reason,
                details.get("tries", 0) + 1,
                self.settings.maximum_retries + 1,
            )

        send = backoff.on_exception(
            backoff.expo,
            RetryableError,
            max_tries=self.settings.maximum_retries + 1,
            jitter=backoff.full_jitter,
            giveup=give_up,
            on_backoff=on_backoff,
            logger=None,
            factor=self.settings.initial_retry_wait,
            max_value=self.settings.maximum_retry_wait,
        )(self._send_with_token_refresh)
        try:
            return send(method, path, endpoint, params, data, json_body, files)
        except RetryableError as exc:
            if give_up(exc):
                raise
            raise RetriesExhausted(
                f"{endpoint} still failing after {self.settings.maximum_retries} retries "
                f"({exc}). Pardot may be degraded; re-run later, or raise 'maximum_retries'."
            ) from None

    def _send_with_token_refresh(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, str] | None,
        data: str | None,
        json_body: Mapping[str, Any] | None,
        files: Files | None = None,
    ) -> Reply:
        for attempt in range(_TOKEN_REFRESHES_PER_CALL + 1):
            outcome = self._send_once(method, path, endpoint, params, data, json_body, files)
            if not isinstance(outcome, _Expired):
                return outcome
            if attempt < _TOKEN_REFRESHES_PER_CALL:
                self.stats.retry("token_refresh")
                self.auth.refresh(outcome.token)
        raise AuthFailed(
            f"Pardot refused {_TOKEN_REFRESHES_PER_CALL + 1} access tokens in a row for "
            "one call (error 184). Check that the connected app has the 'pardot_api' "
            "scope, that its user has Pardot access, and that 'pardot_domain' and "
            "'business_unit' belong to the same account."
        )

    def _send_once(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, str] | None,
        data: str | None,
        json_body: Mapping[str, Any] | None,
        files: Files | None = None,
    ) -> Reply | _Expired:
        """One request. Returns the token Pardot refused (184/401) instead of raising, so
        the caller refreshes exactly that token."""
        ticket = self.gate.acquire()
        try:
            if self.cancelled():
                raise CallCancelled(endpoint)
            self._start_call()
            try:
                # Read the token once the call may go: a thread that waited at the gate
                # would otherwise send a token that another thread has already replaced.
                token = self.auth.token()
                headers = {
                    "Authorization": f"Bearer {token}",
                    BUSINESS_UNIT_HEADER: self.settings.business_unit,
                }
                if data is not None:
                    headers["Content-Type"] = "application/x-www-form-urlencoded"
                self.stats.call(endpoint)
                response = self.session.request(
                    method,
                    f"{self.settings.pardot_domain}{path}",
                    params=params,
                    data=data,
                    files=files,
                    json=json_body,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                self.gate.feedback(ticket, refused=False)
                raise RetryableError(
                    f"{endpoint}: {type(exc).__name__} talking to {self.settings.pardot_domain}",
                    ambiguous=not _not_sent(exc),
                ) from None
            finally:
                self._end_call()
        finally:
            self.gate.release()
        try:
            reply = classify(response.status_code, response.content)
        except RateLimited:
            self.gate.feedback(ticket, refused=True)
            raise
        except TokenExpired:
            self.gate.feedback(ticket, refused=False)
            return _Expired(token)
        except DailyLimitReached as exc:
            self.gate.feedback(ticket, refused=False)
            self.halt(exc)
            raise
        except BusinessUnitRejected as exc:
            self.gate.feedback(ticket, refused=False)
            raise BusinessUnitRejected(f"{exc} {business_unit_hint(self.settings)}") from None
        except BaseException:
            self.gate.feedback(ticket, refused=False)
            raise
        self.gate.feedback(ticket, refused=False)
        return reply
