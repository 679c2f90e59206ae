"""target-pardot-login: get a refresh token with Salesforce's web-server flow and PKCE.

1. Build the authorize URL on `login_url` with a fresh PKCE challenge and state, and open
   it in a browser (or print it, ``--no-browser``).
2. Listen on the loopback redirect URI (``http://localhost:8080/callback`` by default: it
   must be one of the connected app's callback URLs) for Salesforce's redirect.
3. Exchange the code, with the PKCE verifier, at ``{login_url}/services/oauth2/token``.
4. Merge ``refresh_token`` into the config file (created if absent, mode 0600), or print
   it on stdout with ``--print``.

Every failure is one line on stderr. The client secret, the code, the verifier and the
access token are never printed; the refresh token only with ``--print``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from target_pardot.errors import EXIT_CONFIG, EXIT_FAILURE, TargetPardotError
from target_pardot.settings import (
    PRODUCTION_LOGIN_URL,
    SANDBOX_LOGIN_URL,
    check_url,
    is_loopback_host,
)

DEFAULT_REDIRECT_URI = "http://localhost:8080/callback"
AUTHORIZE_PATH = "/services/oauth2/authorize"
TOKEN_PATH = "/services/oauth2/token"
SECRET_ENV = "TARGET_PARDOT_CLIENT_SECRET"
DEFAULT_TIMEOUT_SECONDS = 300.0
_DONE_PAGE = (
    b"<html><body><h1>target-pardot</h1><p>%s</p><p>You can close this window.</p>"
    b"</body></html>"
)


class LoginError(TargetPardotError):
    """The flow failed; the message is one line and holds no secret."""


class LoginConfigError(LoginError):
    exit_code = EXIT_CONFIG


# -- pure pieces ------------------------------------------------------------------------


def new_verifier() -> str:
    """An RFC 7636 code verifier: 86 characters of the unreserved alphabet."""
    return secrets.token_urlsafe(64)


def pkce_challenge(verifier: str) -> str:
    """S256: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    login_url: str, client_id: str, redirect_uri: str, challenge: str, state: str,
    scope: str | None = None,
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
    }
    if scope:
        params["scope"] = scope
    return f"{login_url}{AUTHORIZE_PATH}?{urlencode(params)}"


def code_from_callback(query: Mapping[str, str], state: str) -> str:
    """The code from the redirect's query, or LoginError with Salesforce's reason."""
    error = query.get("error")
    if error:
        description = query.get("error_description", "")
        if error.replace("-", "_") == "access_denied":
            raise LoginError(
                "Salesforce: access denied (the user declined, or may not use the "
                "connected app). Run target-pardot-login again and choose Allow."
            )
        said = f"{error}: {description}" if description else error
        raise LoginError(f"Salesforce refused the authorization ({said}).")
    if query.get("state") != state:
        raise LoginError("The redirect's state does not match this login; run it again.")
    code = query.get("code", "")
    if not code:
        raise LoginError("The redirect carried neither a code nor an error.")
    return code


def explain_token_error(status: int, body: Any) -> str:
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
    said = f"Salesforce refused the code exchange ({error or f'HTTP {status}'}"
    said += f": {description})" if description else ")"
    if error == "invalid_client_id":
        return f"{said}. Check 'client_id' and that 'login_url' belongs to the app's org."
    if error == "invalid_client":
        return f"{said}. Check 'client_secret' (or {SECRET_ENV})."
    if error == "redirect_uri_mismatch":
        return f"{said}. Add the --redirect-uri to the connected app's callback URLs."
    return f"{said}. Run target-pardot-login again."


def check_redirect_uri(uri: str) -> tuple[str, int, str]:
    """(host, port, path) of a loopback http redirect URI this process can listen on."""
    parts = urlsplit(uri)
    if parts.scheme != "http" or not is_loopback_host(parts.hostname) or not parts.port:
        raise LoginConfigError(
            f"--redirect-uri {uri!r} must be http://localhost:<port>/<path> (or 127.0.0.1), "
            "and one of the connected app's callback URLs."
        )
    return parts.hostname or "localhost", parts.port, parts.path or "/"


def merge_into_config(path: Path, refresh_token: str) -> None:
    """Write refresh_token into the JSON file, keeping its other keys; mode 0600, atomic."""
    config: dict[str, Any] = {}
    if path.exists():
        config = read_config(path)
    config["refresh_token"] = refresh_token
    config.setdefault("auth_flow", "refresh_token")
    handle, temp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(config, out, indent=2)
            out.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def check_config_writable(path: Path) -> None:
    """Before the browser opens: the refresh token must have somewhere to go. Finding out
    after the code exchange would lose the token (the code is spent)."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise LoginConfigError(
            f"Cannot write the refresh token to {path}: the folder {parent} does not exist. "
            "Create it, or give another --config (or --print)."
        )
    target = path if path.exists() else parent
    if not os.access(target, os.W_OK) or not os.access(parent, os.W_OK | os.X_OK):
        raise LoginConfigError(
            f"Cannot write the refresh token to {path}: {target} is not writable. Give a "
            "writable --config (or --print)."
        )


def read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
        raise LoginConfigError(f"Cannot read the config file {path}: {reason}.") from None
    if not isinstance(data, dict):
        raise LoginConfigError(f"The config file {path} must hold a JSON object.")
    return data


# -- the flow ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginSettings:
    client_id: str
    client_secret: str
    login_url: str
    redirect_uri: str
    scope: str | None


def login_settings(args: argparse.Namespace, config: Mapping[str, Any]) -> LoginSettings:
    client_id = str(args.client_id or config.get("client_id") or "").strip()
    if not client_id:
        raise LoginConfigError("Give --client-id, or 'client_id' in the config file.")
    sandbox = args.sandbox or str(config.get("sandbox", "")).lower() in ("true", "1")
    default = SANDBOX_LOGIN_URL if sandbox else PRODUCTION_LOGIN_URL
    chosen = str(args.login_url or config.get("login_url") or default)
    try:
        login_url = check_url("login_url", chosen)
    except TargetPardotError as exc:
        raise LoginConfigError(str(exc)) from None
    check_redirect_uri(args.redirect_uri)
    secret = os.environ.get(SECRET_ENV) or str(config.get("client_secret") or "")
    return LoginSettings(client_id, secret.strip(), login_url, args.redirect_uri, args.scope)


class _Callback(BaseHTTPRequestHandler):
    """Answers the one redirect; the query goes to the server for the main thread."""

    #: Seconds a connection may stay silent before it is dropped (each has its thread).
    timeout = 10.0

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        server: _CallbackServer = self.server  # type: ignore[assignment]
        if parts.path != server.expected_path:
            self.send_error(404)
            return
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        server.query = query
        message = b"Login failed: see the terminal." if "error" in query else b"Logged in."
        body = _DONE_PAGE % message
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        server.received.set()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line holds the code."""


class _CallbackServer(ThreadingHTTPServer):
    """Each connection in its own thread: one that connects and sends nothing (a port
    scanner, a browser's preconnect) neither holds the redirect back nor the timeout."""

    daemon_threads = True

    def __init__(self, host: str, port: int, path: str) -> None:
        # Listen on the loopback interface only, whatever the URI's host name.
        super().__init__(("127.0.0.1", port), _Callback)
        self.expected_path = path
        self.query: dict[str, str] | None = None
        self.received = threading.Event()


def wait_for_redirect(server: _CallbackServer, timeout: float) -> dict[str, str]:
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                               name="login-callback", daemon=True)  # fmt: skip
    serving.start()
    try:
        if not server.received.wait(timeout) or server.query is None:
            raise LoginError(
                f"No redirect from Salesforce within {timeout:g} s; run target-pardot-login "
                "again (use --timeout for more time)."
            )
        return server.query
    finally:
        server.shutdown()


def exchange_code(settings: LoginSettings, code: str, verifier: str) -> str:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": settings.client_id,
        "redirect_uri": settings.redirect_uri,
        "code_verifier": verifier,
    }
    if settings.client_secret:
        form["client_secret"] = settings.client_secret
    try:
        response = requests.post(f"{settings.login_url}{TOKEN_PATH}", data=form, timeout=60)
    except requests.RequestException as exc:
        raise LoginError(
            f"Could not reach {settings.login_url} ({type(exc).__name__}). Check 'login_url'."
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and body.get("refresh_token"):
        return str(body["refresh_token"])
    if response.status_code == 200:
        raise LoginError(
            "Salesforce issued no refresh token: add the 'refresh_token, offline_access' "
            "scope to the connected app (or pass --scope 'refresh_token pardot_api')."
        )
    error = explain_token_error(response.status_code, body)
    if isinstance(body, dict) and body.get("error") in ("invalid_client_id", "invalid_client"):
        raise LoginConfigError(error)
    raise LoginError(error)


def run(args: argparse.Namespace) -> int:
    config_path = Path(args.config) if args.config else None
    if config_path is None and not args.print:
        raise LoginConfigError("Give --config FILE to write the refresh token to, or --print.")
    config = read_config(config_path) if config_path and config_path.exists() else {}
    if config_path is not None and not args.print:
        check_config_writable(config_path)
    settings = login_settings(args, config)
    host, port, path = check_redirect_uri(settings.redirect_uri)
    verifier, state = new_verifier(), secrets.token_urlsafe(16)
    url = authorize_url(
        settings.login_url, settings.client_id, settings.redirect_uri,
        pkce_challenge(verifier), state, settings.scope,
    )
    try:
        server = _CallbackServer(host, port, path)
    except OSError as exc:
        raise LoginConfigError(
            f"Cannot listen on port {port} for --redirect-uri ({exc.strerror}); free it or "
            "pick another port that is among the connected app's callback URLs."
        ) from None
    with server:
        if args.no_browser or not webbrowser.open(url):
            print(f"Open this URL in a browser and log in:\n{url}", file=sys.stderr, flush=True)
        else:
            print("A browser window opened to log in to Salesforce.", file=sys.stderr, flush=True)
        query = wait_for_redirect(server, args.timeout)
    refresh_token = exchange_code(settings, code_from_callback(query, state), verifier)
    if args.print:
        # --print: the user asked for the token itself on stdout, to pipe it into a secret
        # store; this command is not the target, whose stdout carries STATE only.
        sys.stdout.write(refresh_token + "\n")
        sys.stdout.flush()
    else:
        assert config_path is not None
        try:
            merge_into_config(config_path, refresh_token)
        except OSError as exc:
            raise LoginError(
                f"Could not write {config_path} ({exc.strerror or type(exc).__name__}); the "
                "refresh token was not saved. Run target-pardot-login again with a writable "
                "--config, or with --print."
            ) from None
        print(f"Wrote refresh_token to {config_path} (mode 0600).", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="target-pardot-login",
        description="Authorise the connected app in a browser (web-server flow with PKCE) "
        f"and store the refresh token. The client secret comes from the config file or "
        f"{SECRET_ENV}, never from the command line.",
    )
    parser.add_argument("--config", help="JSON config file: read client_id, client_secret, "
                        "login_url and sandbox from it, and write refresh_token into it "
                        "(created if missing, mode 0600).")
    parser.add_argument("--client-id", help="Consumer key (default: the config's client_id).")
    parser.add_argument("--login-url", help="Salesforce login URL (default: the config's, "
                        "or https://login.salesforce.com).")
    parser.add_argument("--sandbox", action="store_true",
                        help="Log in on https://test.salesforce.com.")
    parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI,
                        help=f"Loopback callback URL (default {DEFAULT_REDIRECT_URI}).")
    parser.add_argument("--scope", help="OAuth scopes to ask for (default: the app's).")
    parser.add_argument("--no-browser", action="store_true",
                        help="Print the URL instead of opening a browser.")
    parser.add_argument("--print", action="store_true",
                        help="Print the refresh token on stdout instead of writing it.")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS,
                        help="Seconds to wait for the redirect (default 300).")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = run(args)
    except TargetPardotError as exc:
        print(f"target-pardot-login: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("target-pardot-login: interrupted.", file=sys.stderr)
        code = EXIT_FAILURE
    sys.exit(code)
