"""Salesforce's web-server flow (authorize + authorization_code with PKCE) and the
JWT bearer grant, as the emulator checks them.

The JWT is verified here with ``cryptography`` directly (split, base64url, RS256 check,
claims by hand), not with the JWT library the target signs with, so that a bug in one
cannot hide in the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from .settings import EmulatorSettings
from .wire import TEXT_TYPE, Reply, parse_form

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Salesforce: the assertion's exp must be within about three minutes [doc]; a few
#: seconds of leeway for clocks.
MAX_ASSERTION_AHEAD_SECONDS = 180 + 10
CODE_LIFETIME_SECONDS = 15 * 60
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")

# Salesforce's texts [doc: OAuth errors page; rec: issue threads of real clients].
ERR_INVALID_ASSERTION = {"error": "invalid_grant", "error_description": "invalid assertion"}
ERR_EXPIRED_ASSERTION = {"error": "invalid_grant",
                         "error_description": "expired authorization code"}
ERR_AUDIENCE = {"error": "invalid_grant", "error_description": "Audience validation failed"}
ERR_NOT_APPROVED = {"error": "invalid_grant",
                    "error_description": "user hasn't approved this consumer"}
ERR_BAD_CODE = {"error": "invalid_grant", "error_description": "invalid authorization code"}
ERR_PKCE = {"error": "invalid_grant", "error_description": "invalid code verifier"}
ERR_REDIRECT = {"error": "redirect_uri_mismatch",
                "error_description": "redirect_uri must match configuration"}


@dataclass
class PendingCode:
    client_id: str
    redirect_uri: str
    challenge: str
    issued: float


class CodeBook:
    """Authorization codes handed out by /services/oauth2/authorize. Single use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, PendingCode] = {}
        self.issued: list[str] = []
        #: Every PKCE verifier and JWT assertion received (tests check that none leaks
        #: into a client's output).
        self.verifiers: list[str] = []
        self.assertions: list[str] = []

    def reset(self) -> None:
        with self._lock:
            self._codes.clear()
            self.issued.clear()
            self.verifiers.clear()
            self.assertions.clear()

    def issue(self, client_id: str, redirect_uri: str, challenge: str) -> str:
        code = "aPrx" + secrets.token_urlsafe(40)
        with self._lock:
            self._codes[code] = PendingCode(client_id, redirect_uri, challenge, time.monotonic())
            self.issued.append(code)
        return code

    def take(self, code: str) -> PendingCode | None:
        """The code's record, removed: a second exchange of one code fails."""
        with self._lock:
            pending = self._codes.pop(code, None)
        if pending is None or time.monotonic() - pending.issued > CODE_LIFETIME_SECONDS:
            return None
        return pending


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)), unpadded."""
    return _b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())


def is_loopback_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def authorize(query: dict[str, str], settings: EmulatorSettings, codes: CodeBook) -> Reply:
    """GET /services/oauth2/authorize: no login page; an immediate redirect with a code
    (or with ``error=access_denied`` when ``authorize_outcome`` is ``deny``)."""
    redirect_uri = query.get("redirect_uri", "")
    if query.get("client_id") != settings.client_id:
        # Salesforce shows an error page rather than redirect to an unverified client.
        return Reply(400, b"error=invalid_client_id: client identifier invalid\n", TEXT_TYPE,
                     err_code="invalid_client_id")
    if not is_loopback_redirect(redirect_uri):
        return Reply(400, b"error=redirect_uri_mismatch\n", TEXT_TYPE,
                     err_code=ERR_REDIRECT["error"])
    if query.get("response_type") != "code" or not query.get("code_challenge"):
        params = {"error": "invalid_request",
                  "error_description": "response_type code and code_challenge required"}
    elif settings.authorize_outcome == "deny":
        params = {"error": "access_denied", "error_description": "end-user denied authorization"}
    else:
        params = {"code": codes.issue(query["client_id"], redirect_uri, query["code_challenge"])}
    if "state" in query:
        params["state"] = query["state"]
    separator = "&" if "?" in redirect_uri else "?"
    reply = Reply(302, b"", TEXT_TYPE)
    reply.headers.append(("Location", redirect_uri + separator + urlencode(params)))
    return reply


def exchange_code(form: dict[str, str], codes: CodeBook) -> dict[str, str] | None:
    """Check an authorization_code grant (client already checked); None when accepted."""
    verifier = form.get("code_verifier", "")
    if verifier:
        codes.verifiers.append(verifier)
    pending = codes.take(form.get("code", ""))
    if pending is None or pending.client_id != form.get("client_id"):
        return ERR_BAD_CODE
    if pending.redirect_uri != form.get("redirect_uri"):
        return ERR_REDIRECT
    if not verifier or not secrets.compare_digest(pkce_challenge(verifier), pending.challenge):
        return ERR_PKCE
    return None


def load_public_key(pem: str | None) -> RSAPublicKey | None:
    if not pem:
        return None
    key = serialization.load_pem_public_key(pem.encode("utf-8"))
    return key if isinstance(key, RSAPublicKey) else None


def check_assertion(
    assertion: str, settings: EmulatorSettings, now: float
) -> dict[str, str] | None:
    """Verify a JWT bearer assertion; None when it is good, else Salesforce's error body."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return ERR_INVALID_ASSERTION
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return ERR_INVALID_ASSERTION
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims,
                                                                                        dict):
        return ERR_INVALID_ASSERTION
    key = load_public_key(settings.jwt_public_key)
    if key is None:
        return ERR_INVALID_ASSERTION
    try:
        key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(),
                   hashes.SHA256())
    except InvalidSignature:
        return ERR_INVALID_ASSERTION
    return check_claims(claims, settings, now)


def check_claims(claims: dict[str, Any], settings: EmulatorSettings,
                 now: float) -> dict[str, str] | None:
    if claims.get("iss") != settings.client_id:
        return {"error": "invalid_client_id", "error_description": "client identifier invalid"}
    if claims.get("aud") != settings.jwt_audience:
        return ERR_AUDIENCE
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        return ERR_INVALID_ASSERTION
    # An expired assertion: Salesforce's reply as quoted by JWT clients' users
    # (simple-salesforce #371 and #491, newrelic-salesforce-exporter #31).
    if exp <= now:
        return ERR_EXPIRED_ASSERTION
    # [guess] Salesforce's text for an exp too far ahead; it is not documented.
    if exp > now + MAX_ASSERTION_AHEAD_SECONDS:
        return ERR_INVALID_ASSERTION
    if claims.get("sub") != settings.jwt_username:
        return ERR_NOT_APPROVED
    return None


def parse_query(query: str) -> dict[str, str]:
    return parse_form(query) if query else {}
