"""OAuth access tokens from Salesforce, shared by every thread of the run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import requests

from target_pardot.errors import AuthFailed, RetryableError
from target_pardot.pardot import jwt_bearer
from target_pardot.pardot.config import (
    DEMO_PARDOT_DOMAIN,
    PRODUCTION_PARDOT_DOMAIN,
    AuthConfig,
    ClientConfig,
)
from target_pardot.pardot.responses import parse_body
from target_pardot.redact import REDACTOR

logger = logging.getLogger("target-pardot")

TOKEN_PATH = "/services/oauth2/token"
# invalid_grant with these texts means two refreshes raced, not that the grant is bad.
_RACE_MARKERS = ("already being processed", "expired authorization code")
# ... except in the JWT bearer flow, where there is nothing to race for (each request
# signs its own assertion) and "expired authorization code" is Salesforce's text for an
# expired assertion: a clock to fix, not a request to repeat.
_JWT_RACE_MARKERS = ("already being processed",)
_TOKEN_ATTEMPTS = 4


def token_request_form(settings: AuthConfig) -> dict[str, str]:
    if settings.auth_flow == "jwt_bearer":
        return jwt_bearer.token_form(sign_assertion(settings))
    form = {
        "grant_type": settings.auth_flow,
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
    }
    if settings.auth_flow == "refresh_token":
        form["refresh_token"] = settings.refresh_token
    return form


def sign_assertion(settings: AuthConfig) -> str:
    """A fresh JWT bearer assertion (each token request needs one: they expire in minutes)."""
    key = jwt_bearer.load_rsa_key(settings.private_key, "private_key")
    assertion = jwt_bearer.build_assertion(
        key,
        client_id=settings.client_id,
        username=settings.username,
        audience=jwt_bearer.audience(settings.sandbox),
    )
    REDACTOR.add(assertion)
    return assertion


def explain_token_error(settings: AuthConfig, status: int, error: str, description: str) -> str:
    """A message naming the setting to fix. Salesforce's own texts never echo secrets."""
    where = f"{settings.login_url}{TOKEN_PATH}"
    said = f"Salesforce refused the token request ({error or f'HTTP {status}'}"
    said += f": {description})" if description else ")"
    if settings.auth_flow == "jwt_bearer" and error:
        return jwt_bearer.explain_refusal(said, error, description)
    if error == "invalid_client_id":
        return (
            f"{said}. Check 'client_id' (the connected app's consumer key), and that "
            f"'login_url' ({settings.login_url}) belongs to the app's org: a sandbox's app "
            "needs 'sandbox': true or the sandbox's own login URL."
        )
    if error == "invalid_client":
        return f"{said}. Check 'client_secret' and 'client_id'."
    if error == "invalid_grant" and settings.auth_flow == "refresh_token":
        return (
            f"{said}. The 'refresh_token' is expired, revoked or belongs to another org or "
            "connected app; authorise the app again and update 'refresh_token'."
        )
    if error in {"invalid_grant", "unsupported_grant_type"}:
        return (
            f"{said}. For auth_flow 'client_credentials', enable the client credentials flow "
            "on the connected app and set 'login_url' to the org's My Domain URL."
        )
    return f"{said} at {where}. Check 'login_url' and the connected app settings."


def business_unit_hint(settings: ClientConfig) -> str:
    """What error 201 most likely means on this host: a business unit of the other kind.

    Production business units exist only on pi.pardot.com, sandbox and developer-org ones
    only on pi.demo.pardot.com, and the two hosts share one login, so the token works on
    both and only the first Pardot call notices.
    """
    if settings.pardot_domain == DEMO_PARDOT_DOMAIN:
        chosen = "'sandbox': true" if settings.sandbox else "'pardot_domain'"
        return (
            f"This run calls {DEMO_PARDOT_DOMAIN} (from {chosen}), the host of sandboxes and "
            "developer orgs. A production business unit is known only to "
            f"{PRODUCTION_PARDOT_DOMAIN}: set 'sandbox' to false and leave 'pardot_domain' "
            "unset."
        )
    if settings.pardot_domain == PRODUCTION_PARDOT_DOMAIN:
        return (
            f"This run calls {PRODUCTION_PARDOT_DOMAIN}, the production host. A sandbox "
            f"business unit is known only to {DEMO_PARDOT_DOMAIN}: set 'sandbox': true (or "
            f"'pardot_domain': {DEMO_PARDOT_DOMAIN} for a developer org)."
        )
    return f"This run calls {settings.pardot_domain} ('pardot_domain')."


class TokenProvider:
    """Holds the current access token; refreshes it once however many threads see it fail.

    Salesforce gives no expiry time, so a token is used until Pardot says 184/401. A thread
    that saw a token fail calls :meth:`refresh` with that token; only the first such call
    fetches a new one, later ones find the token already replaced and reuse the new one.
    """

    def __init__(
        self,
        settings: AuthConfig,
        session: requests.Session,
        *,
        timeout: tuple[float, float],
        on_call: Callable[[str], None],
        on_retry: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._session = session
        self._timeout = timeout
        self._on_call = on_call
        self._on_retry = on_retry
        self._lock = threading.Lock()
        self._token: str | None = None

    def token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._fetch()
            return self._token

    def refresh(self, stale: str) -> str:
        with self._lock:
            if self._token is None or self._token == stale:
                self._token = self._fetch()
            return self._token

    def _fetch(self) -> str:
        last_error: Exception | None = None
        for attempt in range(_TOKEN_ATTEMPTS):
            if attempt:
                self._on_retry("token_request")
                time.sleep(min(self._settings.initial_retry_wait * 2 ** (attempt - 1), 10))
            try:
                return self._request_token()
            except RetryableError as exc:
                last_error = exc
        raise AuthFailed(
            f"Could not get an access token from {self._settings.login_url} after "
            f"{_TOKEN_ATTEMPTS} attempts ({last_error}). Check 'login_url'."
        )

    def _request_token(self) -> str:
        self._on_call("oauth/token")
        try:
            response = self._session.post(
                f"{self._settings.login_url}{TOKEN_PATH}",
                data=token_request_form(self._settings),
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise RetryableError(f"token request failed: {type(exc).__name__}") from None
        body = parse_body(response.content)
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            token = str(body["access_token"])
            REDACTOR.add(token)
            return token
        if response.status_code >= 500:
            raise RetryableError(f"HTTP {response.status_code}")
        error = str(body.get("error", "")) if isinstance(body, dict) else ""
        description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
        races = _JWT_RACE_MARKERS if self._settings.auth_flow == "jwt_bearer" else _RACE_MARKERS
        if error == "invalid_grant" and any(m in description for m in races):
            raise RetryableError(f"{error}: {description}")
        raise AuthFailed(
            explain_token_error(self._settings, response.status_code, error, description)
        )
