"""Emulator settings: one table drives the constructor, the CLI flags, the
``POST /_emulator/config`` keys and the docs, so the three never drift apart."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FAULT_KINDS: tuple[str, ...] = ("http500", "http503", "code183", "drop", "slow")
DEFAULT_LISTS_SPEC = "1-1000"


class SettingError(ValueError):
    """A setting name or value that the emulator does not accept."""


# --------------------------------------------------------------------------- coercions

def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise SettingError(f"expected a boolean, got {value!r}")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise SettingError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise SettingError(f"expected an integer, got {value!r}")


def _opt_int(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    return _int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise SettingError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SettingError(f"expected a number, got {value!r}") from None


def _opt_float(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    return _float(value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise SettingError(f"expected a string, got {value!r}")
    return value


def parse_lists(value: Any) -> frozenset[int]:
    """``"1-1000,2000"`` or ``[1, 2, 3]`` to a set of list ids."""
    if isinstance(value, (frozenset, set, list, tuple)):
        return frozenset(_int(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return frozenset({value})
    if not isinstance(value, str):
        raise SettingError(f"expected list ids like '1-1000,2000', got {value!r}")
    ids: set[int] = set()
    for chunk in value.split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", chunk)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise SettingError(f"empty list id range {chunk!r}")
            ids.update(range(lo, hi + 1))
        elif chunk.isdigit():
            ids.add(int(chunk))
        else:
            raise SettingError(f"bad list id {chunk!r} (use e.g. '1-1000,2000')")
    return frozenset(ids)


def parse_custom_fields(value: Any) -> tuple[str, ...]:
    """``"favorite_color,Legacy_Code__c"`` or a list: the account's custom field ids."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise SettingError(f"expected custom field ids like 'color,Code__c', got {value!r}")
    names = tuple(str(v).strip() for v in value if str(v).strip())
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n)]
    if bad:
        raise SettingError(f"bad custom field id {bad[0]!r} (letters, digits and '_')")
    return names


#: Custom fields of the emulated account, by their v4 API name (field_id). Most have no
#: ``__c`` (Pardot's own example is "PARTNER_LEVEL_c"); one has it, which v5 then names
#: ``Legacy_Code__c__c``.
DEFAULT_CUSTOM_FIELDS = (
    "favorite_color", "Amount", "Color", "x", "shoe_size",
    "custom__Color", "loyalty_tier", "Legacy_Code__c",
)


def format_lists(ids: Iterable[int]) -> str:
    """The inverse of parse_lists: compact ranges."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(ids):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def parse_fault_kinds(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = [_str(v).strip() for v in value]
    else:
        raise SettingError(f"expected fault kinds like 'http500,drop', got {value!r}")
    unknown = [v for v in items if v not in FAULT_KINDS]
    if unknown:
        raise SettingError(f"unknown fault kind(s) {unknown}; choose from {list(FAULT_KINDS)}")
    if not items:
        raise SettingError("fault_kinds must name at least one kind")
    return tuple(dict.fromkeys(items))


def _choice(*allowed: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        v = _int(value)
        if v not in allowed:
            raise SettingError(f"expected one of {list(allowed)}, got {v}")
        return v
    return check


def _one_of(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _str(value).strip().lower()
        if text not in allowed:
            raise SettingError(f"expected one of {list(allowed)}, got {value!r}")
        return text
    return check


def _opt_pem(value: Any) -> str | None:
    """PEM text, or the path of a file holding it (read once, when set)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = _str(value).strip()
    if not text.startswith("-----BEGIN"):
        try:
            with open(text, encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError as exc:
            raise SettingError(f"cannot read {text!r}: {exc.strerror}") from None
    if "PUBLIC KEY-----" not in text:
        raise SettingError("expected a PEM public key ('-----BEGIN PUBLIC KEY-----')")
    return text


def _rate(value: Any) -> float:
    v = _float(value)
    if not 0.0 <= v <= 1.0:
        raise SettingError(f"expected a rate between 0 and 1, got {v}")
    return v


def _non_negative(conv: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        v = conv(value)
        if v is not None and v < 0:
            raise SettingError(f"expected a value >= 0, got {v}")
        return v
    return check


def _zone_name(value: Any) -> str:
    name = _str(value).strip()
    if name.upper() != "UTC":
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingError(f"unknown time zone {value!r} (an IANA name such as "
                               "'America/New_York', or 'UTC')") from None
    return name


def _opt_moment(value: Any) -> str | None:
    """A UTC moment, ``2024-01-01 09:00:00`` or ISO 8601, stored as the store stamps it."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    try:
        moment = datetime.fromisoformat(_str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise SettingError(f"expected a time such as '2024-01-01 09:00:00', got {value!r}"
                           ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --------------------------------------------------------------------------- the table

@dataclass(frozen=True)
class Spec:
    name: str
    default: Any
    coerce: Callable[[Any], Any]
    metavar: str
    help: str
    is_bool: bool = False


SPECS: tuple[Spec, ...] = (
    Spec("client_id", "emulator-client-id", _str, "ID",
         "Accepted OAuth client id (consumer key)."),
    Spec("client_secret", "emulator-client-secret", _str, "SECRET",
         "Accepted OAuth client secret."),
    Spec("refresh_token", "emulator-refresh-token", _str, "TOKEN",
         "Accepted refresh token for grant_type=refresh_token."),
    Spec("business_unit", "0Uv000000000001AAA", _str, "ID",
         "Accepted Pardot-Business-Unit-Id header value (18 chars, starts 0Uv)."),
    Spec("lists", parse_lists(DEFAULT_LISTS_SPEC), parse_lists, "IDS",
         "List ids that exist, e.g. '1-1000,2000'."),
    Spec("custom_fields", DEFAULT_CUSTOM_FIELDS, parse_custom_fields, "IDS",
         "The account's custom fields by v4 API name (field_id), comma-separated; v4 "
         "addresses each by that name, v5 by that name plus '__c'."),
    Spec("ampsea", True, _bool, "BOOL",
         "AMPSEA account (API v4): email-only rows always create, and v3 calls get error "
         "88. Off (API v3): v4 prospect and membership calls get error 89, and email-only "
         "v3 batch rows update the prospect with that email.", is_bool=True),
    Spec("v3_email_case_insensitive", True, _bool, "BOOL",
         "v3 batch rows match emails ignoring case (Ann@x.com updates ann@x.com). Off: "
         "exact matching. Pardot's docs do not say which.", is_bool=True),
    Spec("concurrency_limit", 5, _non_negative(_int), "N",
         "Pardot requests allowed in flight at once; more get error 66."),
    Spec("reserved_slots", 0, _non_negative(_int), "N",
         "Slots held by a simulated other integration: effective limit is "
         "concurrency_limit - reserved_slots."),
    Spec("daily_limit", None, _non_negative(_opt_int), "N",
         "Pardot calls allowed in total; every call after that gets error 122 "
         "(none = unlimited)."),
    Spec("rate_limit_status", 200, _choice(200, 400, 429), "STATUS",
         "HTTP status carrying errors 66 and 122 on v3/v4: 200, as Pardot's own clients "
         "read them; 400 or 429 to test a client both ways (v5 answers them with 429)."),
    Spec("auth_error_status", 401, _choice(400, 401), "STATUS",
         "HTTP status carrying error 184 (401 or 400)."),
    Spec("auth_error_xml", False, _bool, "BOOL",
         "Answer error 184 with an XML body instead of JSON (seen in recorded traffic).",
         is_bool=True),
    Spec("v4_error_status", 400, _choice(200, 400), "STATUS",
         "HTTP status of other whole-request v4 errors (e.g. 3, 55, 58, 70, 71, 181, 201)."),
    Spec("uri_limit", 8192, _non_negative(_int), "BYTES",
         "Longest request URI (path + query) accepted on /api; longer gets HTTP 414."),
    Spec("max_body_bytes", 32 * 1024 * 1024, _non_negative(_int), "BYTES",
         "Largest request body accepted on /api; larger gets HTTP 413."),
    Spec("latency_ms", 0.0, _non_negative(_float), "MS",
         "Fixed latency added to every Pardot call (counted as in flight)."),
    Spec("latency_jitter_ms", 0.0, _non_negative(_float), "MS",
         "Extra uniform random latency, 0..N ms, per Pardot call."),
    Spec("token_lifetime_calls", None, _non_negative(_opt_int), "N",
         "An access token works for N Pardot calls, then gets error 184 (none = unlimited)."),
    Spec("token_lifetime_seconds", None, _non_negative(_opt_float), "SECONDS",
         "An access token expires N seconds after it was issued (none = never)."),
    Spec("token_fault_rate", 0.0, _rate, "RATE",
         "Probability that the token endpoint answers with a fault (http500, http503, "
         "drop or slow from --fault-kinds; code183 becomes http500 there)."),
    Spec("token_race_errors", True, _bool, "BOOL",
         "A token request that overlaps another one in flight gets the transient "
         "invalid_grant 'token request is already being processed'.", is_bool=True),
    Spec("jwt_public_key", None, _opt_pem, "PEM_OR_FILE",
         "RSA public key (PEM text, or a file holding it) that checks JWT bearer "
         "assertions; none = every assertion is refused."),
    Spec("jwt_username", "integration@example.com", _str, "USERNAME",
         "The one user approved for the JWT bearer flow (the assertion's sub)."),
    Spec("jwt_audience", "https://login.salesforce.com", _str, "URL",
         "Expected aud of JWT bearer assertions."),
    Spec("clock_offset_seconds", 0.0, _float, "SECONDS",
         "How far the emulator's clock runs ahead of the client's (for assertion expiry)."),
    Spec("authorize_outcome", "approve", _one_of("approve", "deny"), "OUTCOME",
         "What the user 'answers' at /services/oauth2/authorize: a code, or access_denied."),
    Spec("api_usage_header", "used/max", _one_of("used/max", "raw", "off"), "FORMAT",
         "x-api-usage on replies to requests with X-Return-Api-Usage: 1: 'used/max', "
         "'raw' (a text no client can parse), or 'off' (never sent)."),
    Spec("daily_usage_max", 100_000, _non_negative(_int), "N",
         "The daily maximum x-api-usage reports when daily_limit is none."),
    Spec("others_daily_calls", 0, _non_negative(_int), "N",
         "Calls other integrations already made today: they count toward daily_limit "
         "and x-api-usage."),
    Spec("fault_rate", 0.0, _rate, "RATE",
         "Probability that a Pardot call gets a transient fault instead of being executed."),
    Spec("fault_kinds", FAULT_KINDS, parse_fault_kinds, "KINDS",
         "Comma-separated fault kinds to draw from uniformly: " + ",".join(FAULT_KINDS) + "."),
    Spec("slow_ms", 3000.0, _non_negative(_float), "MS",
         "Delay of the 'slow' fault before the normal answer."),
    Spec("applied_but_lost_rate", 0.0, _rate, "RATE",
         "Probability that a Pardot call is executed and then its connection is dropped "
         "without an answer."),
    Spec("import_processing_polls", 1, _non_negative(_int), "N",
         "Status polls of a Ready import that show 'Processing' before it completes."),
    Spec("import_daily_batch_limit", 1000, _non_negative(_int), "N",
         "Import batches accepted in total; more get error 164."),
    Spec("timezone", "UTC", _zone_name, "ZONE",
         "Time zone of v3/v4 timestamps and search times (Pardot uses the API user's "
         "preferred time zone), an IANA name."),
    Spec("frozen_time", None, _opt_moment, "TIME",
         "Stamp every write with this UTC time instead of the clock, e.g. "
         "'2024-01-01 09:00:00' (none = the clock)."),
    Spec("page_token_ttl_seconds", 4 * 3600.0, _non_negative(_float), "SECONDS",
         "A v5 query's nextPageToken expires this long after its sequence began "
         "(Pardot: 4 hours)."),
    Spec("page_token_max_records", 100_000, _non_negative(_opt_int), "N",
         "Records one v5 page-token sequence serves before it stops giving tokens, with "
         "a Pardot-Warning header (Pardot: 100,000; none = unlimited)."),
    Spec("import_list_separator", ";", _str, "SEP",
         "How several list ids share one addToList/removeFromList cell of an import "
         "(Pardot does not publish it)."),
    Spec("seed", None, _opt_int, "N",
         "Random seed for reproducible fault draws and latency jitter (none = random)."),
    Spec("verbose", False, _bool, "BOOL",
         "Log every request to stderr.", is_bool=True),
)

SPEC_BY_NAME: dict[str, Spec] = {s.name: s for s in SPECS}


def defaults() -> dict[str, Any]:
    return {s.name: copy.copy(s.default) for s in SPECS}


def coerce_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Validate and convert a partial settings dict. Raises SettingError."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        spec = SPEC_BY_NAME.get(name)
        if spec is None:
            raise SettingError(
                f"unknown emulator setting {name!r}; known: {', '.join(SPEC_BY_NAME)}")
        try:
            out[name] = spec.coerce(value)
        except SettingError as exc:
            raise SettingError(f"{name}: {exc}") from None
    return out


def check_consistency(settings: dict[str, Any]) -> None:
    if settings["reserved_slots"] > settings["concurrency_limit"]:
        raise SettingError("reserved_slots cannot exceed concurrency_limit")


def public_view(settings: dict[str, Any]) -> dict[str, Any]:
    """JSON-friendly settings (lists as a range string, tuples as lists)."""
    out: dict[str, Any] = {}
    for name, value in settings.items():
        if name == "lists":
            out[name] = format_lists(value)
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value
    return out


def parse_config_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingError(f"config body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SettingError("config body must be a JSON object of settings")
    return data
