"""The Salesforce OAuth token endpoint and the access tokens it hands out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from .oauth_flows import JWT_BEARER_GRANT, CodeBook, check_assertion, exchange_code
from .settings import EmulatorSettings
from .wire import Reply, parse_form

ORG_ID = "00D000000000001AAA"
USER_ID = "005000000000001AAA"

# Salesforce's bodies, byte for byte (compact JSON).
ERR_INVALID_GRANT = {"error": "invalid_grant", "error_description": "expired access/refresh token"}
ERR_INVALID_CLIENT_ID = {"error": "invalid_client_id",
                         "error_description": "client identifier invalid"}
ERR_INVALID_CLIENT = {"error": "invalid_client", "error_description": "invalid client credentials"}
ERR_UNSUPPORTED_GRANT = {"error": "unsupported_grant_type",
                         "error_description": "grant type not supported"}
ERR_RACE = {"error": "invalid_grant",
            "error_description": "token request is already being processed"}
ERR_POST_ONLY = {"error": "invalid_request", "error_description": "must use HTTP POST"}

_CREDENTIAL_PARAMS = ("client_secret", "refresh_token", "client_id", "assertion")


@dataclass
class TokenInfo:
    issued_monotonic: float
    uses: int = 0
    revoked: bool = False


class TokenBook:
    """Issued access tokens; many may be valid at once. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: dict[str, TokenInfo] = {}
        self.issued: list[str] = []
        self.requests_in_flight = 0

    def reset(self) -> None:
        with self.lock:
            self.tokens.clear()
            self.issued.clear()

    def issue(self) -> str:
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        with self.lock:
            self.tokens[token] = TokenInfo(time.monotonic())
            self.issued.append(token)
        return token

    def expire_all(self) -> int:
        with self.lock:
            n = 0
            for info in self.tokens.values():
                if not info.revoked:
                    info.revoked = True
                    n += 1
            return n

    def use(self, token: str, settings: EmulatorSettings) -> bool:
        """True if the token is valid for this call (the call counts as a use)."""
        with self.lock:
            info = self.tokens.get(token)
            if info is None or info.revoked:
                return False
            life_s = settings.token_lifetime_seconds
            if life_s is not None and time.monotonic() - info.issued_monotonic > life_s:
                info.revoked = True
                return False
            info.uses += 1
            life_n = settings.token_lifetime_calls
            if life_n is not None and info.uses > life_n:
                info.revoked = True
                return False
            return True

    def begin_request(self) -> int:
        with self.lock:
            self.requests_in_flight += 1
            return self.requests_in_flight

    def end_request(self) -> None:
        with self.lock:
            self.requests_in_flight -= 1

    def issued_list(self) -> list[str]:
        with self.lock:
            return list(self.issued)


def _error(body: dict[str, str]) -> Reply:
    return Reply.json(400, body, err_code=body["error"])


def basic_credentials(authorization: str | None) -> dict[str, str]:
    """client_id and client_secret from ``Authorization: Basic base64(id:secret)``
    (RFC 6749 2.3.1; tap-pardot's client.py authenticates its token refresh this way)."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return {}
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return {}
    client_id, colon, client_secret = decoded.partition(":")
    return {"client_id": client_id, "client_secret": client_secret} if colon else {}


def grant_parameters(query: str, body: bytes, authorization: str | None
                     ) -> tuple[dict[str, str], bool]:
    """The token request's parameters, and whether a credential came in the URL.

    Salesforce takes them from the form body, the query string (tap-pardot sends
    grant_type and refresh_token there) and HTTP Basic for the client; a body value
    wins over the query string, and body or query over Basic. Credentials in a URL
    end up in proxy and server logs, so they are counted (token_in_url_violations)."""
    in_query = parse_form(query) if query else {}
    in_url = any(name in in_query for name in _CREDENTIAL_PARAMS)
    return {**basic_credentials(authorization), **in_query, **parse_form(body)}, in_url


def token_grant(method: str, query: str, body: bytes, settings: EmulatorSettings,
                book: TokenBook, base_url: str, overlapping: bool,
                authorization: str | None = None,
                codes: CodeBook | None = None) -> tuple[Reply, bool]:
    """Handle POST /services/oauth2/token. Returns (reply, credentials_in_url)."""
    if method != "POST":
        return _error(ERR_POST_ONLY), False
    form, in_url = grant_parameters(query, body, authorization)
    grant = form.get("grant_type", "")
    if grant not in _GRANTS:
        return _error(ERR_UNSUPPORTED_GRANT), in_url
    refused = _refusal(grant, form, settings, codes or CodeBook())
    if refused is not None:
        return _error(refused), in_url
    if overlapping and settings.token_race_errors:
        return _error(ERR_RACE), in_url
    return _issue(grant, settings, book, base_url), in_url


_GRANTS = ("refresh_token", "client_credentials", "authorization_code", JWT_BEARER_GRANT)


def _refusal(grant: str, form: dict[str, str], settings: EmulatorSettings,
             codes: CodeBook) -> dict[str, str] | None:
    """Salesforce's error body for a refused grant; None when the grant is good."""
    if grant == JWT_BEARER_GRANT:
        # No client secret in this flow: the signature is the proof.
        now = time.time() + settings.clock_offset_seconds
        codes.assertions.append(form.get("assertion", ""))
        return check_assertion(form.get("assertion", ""), settings, now)
    if form.get("client_id") != settings.client_id:
        return ERR_INVALID_CLIENT_ID
    if form.get("client_secret") != settings.client_secret:
        return ERR_INVALID_CLIENT
    if grant == "refresh_token" and form.get("refresh_token") != settings.refresh_token:
        return ERR_INVALID_GRANT
    if grant == "authorization_code":
        return exchange_code(form, codes)
    return None


def _issue(grant: str, settings: EmulatorSettings, book: TokenBook, base_url: str) -> Reply:
    token = book.issue()
    issued_at = str(int(time.time() * 1000))
    ident = f"{base_url}/id/{ORG_ID}/{USER_ID}"
    signature = base64.b64encode(
        hmac.new(settings.client_secret.encode(), (ident + issued_at).encode(),
                 hashlib.sha256).digest()).decode()
    scope = "pardot_api refresh_token" if grant in _REFRESHABLE else "pardot_api"
    body = {
        "access_token": token,
        "signature": signature,
        "scope": scope,
        "instance_url": base_url,
        "id": ident,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }
    if grant == "authorization_code":
        # The web-server flow is the one that hands out the refresh token [doc].
        body["refresh_token"] = settings.refresh_token
    return Reply.json(200, body)


_REFRESHABLE = ("refresh_token", "authorization_code")
