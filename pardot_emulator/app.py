"""The emulator's request pipeline, independent of the HTTP plumbing.

Order of checks on every Pardot call (``/api/...``):
URI length (414) and body size (413) before the body is read; then the
token-in-URL check, the bearer token (184), the business unit header (181,
201), the concurrency limit (66), the daily limit (122); then latency, then a
fault draw (no side effect); then the operation; then the applied-but-lost draw.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone, tzinfo
from typing import Any

from . import imports, v3, v4, v5
from .auth import TokenBook, token_grant
from .config import (
    SettingError,
    check_consistency,
    coerce_settings,
    defaults,
    parse_config_body,
    public_view,
)
from .faults import Counters, Dice, draw_fault, latency_seconds
from .list_book import ListBook
from .oauth_flows import CodeBook, authorize, parse_query
from .queries import account_zone
from .request import Incoming
from .routes import Route, api_version_of, family_of, find_route
from .settings import EmulatorSettings
from .store import Store
from .wire import (
    HTML_TYPE,
    TEXT_TYPE,
    XML_TYPE,
    Reply,
    auth_xml,
    v4_error_body,
)

MSG_181 = "A required header is missing: Pardot-Business-Unit-Id header not found on request."
MSG_201 = "Business Unit specified in Pardot-Business-Unit-Id header not found or inactive."
MSG_184 = "access_token is invalid, unknown, or malformed"
MSG_66 = "You have exceeded your concurrent request limit. Please wait, before trying again"
MSG_122 = "Daily API rate limit met"
MSG_183 = "An internal error occurred, please try your request again"
BU_HEADER = "Pardot-Business-Unit-Id"
URL_CREDENTIALS = ("access_token", "api_key")


def _html(status: int, title: str) -> Reply:
    body = f"<html><head><title>{status} {title}</title></head><body><h1>{title}</h1></body></html>"
    return Reply(status, body.encode(), HTML_TYPE)


class App:
    """State (settings, store, counters, tokens) plus the request pipelines."""

    def __init__(self, **settings: Any) -> None:
        values = defaults()
        values.update(coerce_settings(settings))
        check_consistency(values)
        self.settings = EmulatorSettings.from_values(values)
        self._config_lock = threading.Lock()
        self.store = Store()
        self.store.frozen_time = self.settings.frozen_time
        self.lists = ListBook()
        self.counters = Counters()
        self.store.is_dynamic = self.lists.is_dynamic
        self.store.on_dynamic_write = lambda n: self.counters.bump("dynamic_list_writes", n)
        self.tokens = TokenBook()
        self.codes = CodeBook()
        self.dice = Dice(self.settings.seed)
        self.base_url = ""
        self.sleep: Callable[[float], None] = time.sleep

    # ------------------------------------------------------------------ control

    def configure(self, **changes: Any) -> dict[str, Any]:
        coerced = coerce_settings(changes)
        with self._config_lock:
            merged = {**self.settings.values(), **coerced}
            check_consistency(merged)
            # One reference swap: readers see old or new, never half.
            self.settings = EmulatorSettings.from_values(merged)
            self.store.frozen_time = self.settings.frozen_time
            if "seed" in coerced:
                self.dice.reseed(coerced["seed"])
        return public_view(merged)

    def reset(self) -> None:
        created = self.lists.created
        self.lists.reset(self.store.stamp())
        if created:  # lists made through the API go; the configured ones stay
            self.configure(lists=self.settings.lists - created)
        self.store.reset()
        self.counters.reset()
        self.tokens.reset()
        self.codes.reset()
        self.dice.reseed(self.settings.seed)

    def add_list(self, list_id: int) -> None:
        self.configure(lists=self.settings.lists | {list_id})

    def zone(self) -> tzinfo:
        """The account's time zone: v3/v4 report times in the API user's preferred zone."""
        return account_zone(self.settings.timezone)

    def now(self) -> datetime:
        """The emulator's present (the frozen time when one is set), as aware UTC."""
        frozen = self.settings.frozen_time
        if frozen is None:
            return datetime.now(timezone.utc)
        return datetime.fromisoformat(frozen.replace("Z", "+00:00"))

    def state(self) -> dict[str, Any]:
        out = self.store.snapshot()
        out["counters"] = self.counters.snapshot()
        out["config"] = public_view(self.settings.values())
        return out

    # ------------------------------------------------------------------ entry points

    def precheck(self, path: str, target: str, content_length: int | None) -> Reply | None:
        """Front-end limits on /api, decided before the body is read."""
        if not path.startswith("/api/"):
            return None
        settings = self.settings
        reply: Reply | None = None
        if len(target) > settings.uri_limit:
            reply = _html(414, "Request-URI Too Long")
        elif content_length is not None and content_length > settings.max_body_bytes:
            reply = _html(413, "Request Entity Too Large")
        if reply is not None:
            found = find_route(path)
            self.counters.call(self._endpoint_name(found))
        return reply

    @staticmethod
    def _endpoint_name(found: tuple[Route, re.Match[str]] | None, method: str = "") -> str:
        if found is None:
            return "unknown"
        route, m = found
        spec = route.methods.get(method) or next(iter(route.methods.values()))
        return spec[0].format(*m.groups())

    def dispatch(self, req: Incoming) -> Reply:
        if req.path.startswith("/api/"):
            return self.pardot(req)
        if req.path == "/services/oauth2/token":
            return self.oauth(req)
        if req.path == "/services/oauth2/authorize":
            self.counters.call("oauth/authorize")
            return authorize(parse_query(req.query), self.settings, self.codes)
        if req.path.startswith("/_emulator/"):
            return self.control(req)
        return Reply(404, b"Not Found\n", TEXT_TYPE)

    # ------------------------------------------------------------------ Pardot

    def _auth_error(self, req: Incoming, family: str) -> Reply:
        settings = self.settings
        status = settings.auth_error_status
        if settings.auth_error_xml:
            return Reply(status, auth_xml(184, MSG_184), XML_TYPE, err_code=184)
        if family == "v5":
            return v5.error(status, 184, MSG_184)
        return v4.reply(req, status, v4_error_body(184, MSG_184), err_code=184)

    def _error(self, req: Incoming, family: str, code: int, message: str, status: int) -> Reply:
        if family == "v5":
            return v5.error(status, code, message)
        return v4.reply(req, status, v4_error_body(code, message), err_code=code)

    def _token_in_url(self, req: Incoming) -> bool:
        params = req.params()
        return any(name in params.query or name in params.form for name in URL_CREDENTIALS)

    def pardot(self, req: Incoming) -> Reply:
        settings = self.settings
        found = find_route(req.path)
        self.counters.call(self._endpoint_name(found, req.method), api_version_of(req.path))
        in_flight = self.counters.enter()
        try:
            reply = self._pardot(req, settings, found, in_flight)
        finally:
            self.counters.leave()
        return self._with_usage(req, reply, settings)

    def daily_usage(self, settings: EmulatorSettings) -> tuple[int, int]:
        """(calls used today by every integration, the account's daily maximum)."""
        limit = settings.daily_limit
        used = settings.others_daily_calls + self.counters.daily_calls()
        return used, settings.daily_usage_max if limit is None else limit

    def _with_usage(self, req: Incoming, reply: Reply, settings: EmulatorSettings) -> Reply:
        """x-api-usage on a reply whose request asked with X-Return-Api-Usage [doc]; its
        format, used/max, is a [guess]."""
        asked = (req.headers.get("X-Return-Api-Usage") or "").strip().lower() in ("1", "true")
        style = settings.api_usage_header
        if not asked or reply.drop or style == "off":
            return reply
        used, limit = self.daily_usage(settings)
        value = f"{used}/{limit}" if style == "used/max" else f"about {used} today"
        reply.headers.append(("x-api-usage", value))
        return reply

    def _pardot(self, req: Incoming, settings: EmulatorSettings,
                found: tuple[Route, re.Match[str]] | None, in_flight: int) -> Reply:
        family = found[0].family if found else family_of(req.path)
        if req.method != "GET":  # a repeated status poll or query is not a retry
            self.counters.seen_before(req.method, req.target, req.body)
        if self._token_in_url(req):
            self.counters.bump("token_in_url_violations")
            return self._auth_error(req, family)
        auth = req.headers.get("Authorization", "") or ""
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or not self.tokens.use(token, settings):
            return self._auth_error(req, family)
        bu = req.headers.get(BU_HEADER)
        v4_status = settings.v4_error_status if family == "v4" else 400
        if not bu:
            return self._error(req, family, 181, MSG_181, v4_status)
        if bu != settings.business_unit:
            return self._error(req, family, 201, MSG_201, v4_status)
        # v3/v4 carry 66 and 122 in the body of an HTTP 200 by default (docs/wire-contract.md
        # H6); v5's status for them is a [guess].
        limit_status = settings.rate_limit_status if family == "v4" else 429
        if in_flight > settings.concurrency_limit - settings.reserved_slots:
            self.counters.bump("rejected_concurrency")
            return self._error(req, family, 66, MSG_66, limit_status)
        limit = settings.daily_limit
        others = settings.others_daily_calls
        if not self.counters.spend_daily(None if limit is None else max(limit - others, 0)):
            return self._error(req, family, 122, MSG_122, limit_status)
        if found is None:
            return self._error(req, family, 2, "Invalid action", 404)
        route, m = found
        spec = route.methods.get(req.method)
        if spec is None:
            return self._error(req, family, 60, "Invalid HTTP request method", 405)
        delay = latency_seconds(settings, self.dice)
        if delay > 0:
            self.sleep(delay)
        kind = draw_fault(settings.fault_rate, settings.fault_kinds, self.dice)
        if kind is not None:
            self.counters.fault(kind)
            if kind == "http500":
                return _html(500, "Internal Server Error")
            if kind == "http503":
                return _html(503, "Service Unavailable")
            if kind == "code183":
                return self._error(req, family, 183, MSG_183,
                                   settings.v4_error_status if family == "v4" else 500)
            if kind == "drop":
                return Reply.dropped()
            self.sleep(settings.slow_ms / 1000.0)  # "slow": late but normal answer
        refusal = v3.version_refusal(m.group(1), settings.ampsea) if family == "v4" else None
        if refusal is not None:
            return self._error(req, family, *refusal, settings.v4_error_status)
        reply = spec[1](self, req, m)
        if self.dice.chance(settings.applied_but_lost_rate):
            self.counters.fault("applied_but_lost")
            return Reply.dropped()
        return reply

    # ------------------------------------------------------------------ OAuth

    def oauth(self, req: Incoming) -> Reply:
        settings = self.settings
        self.counters.call("oauth/token")
        overlapping = self.tokens.begin_request() > 1
        try:
            kind = draw_fault(settings.token_fault_rate, settings.fault_kinds, self.dice)
            if kind is not None:
                self.counters.fault("token_" + kind)
                if kind in ("http500", "code183"):
                    return _html(500, "Internal Server Error")
                if kind == "http503":
                    return _html(503, "Service Unavailable")
                if kind == "drop":
                    return Reply.dropped()
                self.sleep(settings.slow_ms / 1000.0)
            reply, in_url = token_grant(req.method, req.query, req.body, settings, self.tokens,
                                        self.base_url, overlapping,
                                        req.headers.get("Authorization"), self.codes)
            if in_url:
                self.counters.bump("token_in_url_violations")
            if reply.status == 200:
                self.counters.bump("tokens_issued")
            return reply
        finally:
            self.tokens.end_request()

    # ------------------------------------------------------------------ /_emulator

    def _count_error_file_headers(self, req: Incoming) -> None:
        """The error file lives on a storage host, which needs none of Pardot's headers
        (docs/wire-contract.md, R10): count the downloads that carry one anyway."""
        self.counters.bump("error_file_downloads")
        pardot_headers = ("Authorization", BU_HEADER, "X-Return-Api-Usage")
        if any(req.headers.get(name) for name in pardot_headers):
            self.counters.bump("error_file_pardot_headers")

    def control(self, req: Incoming) -> Reply:
        name = req.path[len("/_emulator/"):].rstrip("/")
        try:
            if name == "state" and req.method == "GET":
                return Reply.json(200, self.state())
            if name.startswith(imports.ERROR_FILE_PREFIX) and req.method == "GET":
                self._count_error_file_headers(req)
                return imports.error_file(self, name[len(imports.ERROR_FILE_PREFIX):])
            if name == "health" and req.method == "GET":
                return Reply.json(200, {"ok": True})
            if name == "config" and req.method == "GET":
                return Reply.json(200, public_view(self.settings.values()))
            if name == "config" and req.method == "POST":
                return Reply.json(200, self.configure(**parse_config_body(req.body)))
            if name == "reset" and req.method == "POST":
                self.reset()
                return Reply.json(200, {"ok": True})
            if name == "new-day" and req.method == "POST":
                self.counters.new_day()
                self.configure(others_daily_calls=0)
                return Reply.json(200, {"ok": True})
            if name == "expire-tokens" and req.method == "POST":
                return Reply.json(200, {"expired": self.tokens.expire_all()})
            if name == "prospects" and req.method == "POST":
                data = _json_object(req.body)
                deleted = bool(data.pop("deleted", False))
                activity = data.pop("last_activity_at", None)
                pid = self.store.add_prospect(data, deleted=deleted, last_activity_at=activity)
                return Reply.json(201, {"id": pid})
            if name.startswith("prospects/") and req.method in ("PATCH", "DELETE"):
                return self._control_prospect(req, name[len("prospects/"):])
            if name == "memberships" and req.method == "POST":
                data = _json_object(req.body)
                mid = self.store.members.add(int(data["list_id"]), int(data["prospect_id"]),
                                                bool(data.get("opted_out", False)))
                return Reply.json(201, {"id": mid})
        except (SettingError, ValueError, KeyError, TypeError) as exc:
            return Reply.json(400, {"error": str(exc)})
        return Reply.json(404, {"error": f"unknown control endpoint {req.method} {req.path}"})

    def _control_prospect(self, req: Incoming, raw_id: str) -> Reply:
        """What a Pardot user does in the UI between two runs: edit a prospect's fields
        (PATCH, v4 snake_case names) or delete it to the recycle bin (DELETE)."""
        pid = int(raw_id)
        if req.method == "DELETE":
            self.store.delete_prospect(pid)
            return Reply.json(200, {"id": pid, "deleted": True})
        return Reply.json(200, self.store.edit_prospect(pid, _json_object(req.body)))


def _json_object(body: bytes) -> dict[str, Any]:
    data = json.loads(body or b"{}")
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data
