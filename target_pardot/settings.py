"""Turn the raw config mapping into validated, typed settings.

Pure functions only: every rule about a setting (defaults that depend on `sandbox`, the
https rule, the business unit shape, the concurrency cap) lives here and is unit-tested
without a network.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from target_pardot.errors import ConfigError
from target_pardot.pardot.config import DEMO_PARDOT_DOMAIN, PRODUCTION_PARDOT_DOMAIN
from target_pardot.pardot.jwt_bearer import load_rsa_key, read_private_key_text
from target_pardot.pardot.limits import (
    BUSINESS_UNIT_LENGTH,
    BUSINESS_UNIT_PREFIX,
    MAX_CONCURRENT_REQUESTS,
    MAX_IMPORT_LISTS_PER_ROW,
)
from target_pardot.settings_table import (
    BOOLEAN,
    CHOICE,
    INTEGER,
    NUMBER,
    SETTINGS,
    STRING,
    Setting,
)

logger = logging.getLogger("target-pardot")

PRODUCTION_LOGIN_URL = "https://login.salesforce.com/"
SANDBOX_LOGIN_URL = "https://test.salesforce.com/"

#: Salesforce's shared login hosts, which do not serve the client credentials flow [doc].
GENERIC_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})


@dataclass(frozen=True)
class Settings:
    """Validated settings. Secrets are excluded from repr so they never reach a log."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    auth_flow: str
    login_url: str
    pardot_domain: str
    business_unit: str
    data_object: str
    skip_invalid_records: bool
    prospect_operation: str
    #: Ids, and names (resolved to ids once per run: run.collaborators.ProspectLists).
    prospect_lists: tuple[int | str, ...]
    prospect_list_operation: str
    upsert_by_email: bool
    parallel_tasks: int
    max_payload: int
    list_membership_operation: str
    maximum_retries: int
    initial_retry_wait: float
    maximum_retry_wait: float
    maximum_connection_timeout: float
    sandbox: bool
    rejected_records_path: str | None
    dry_run: bool
    search_deleted_prospects: bool
    lowercase_emails: bool
    skip_unchanged: bool = False
    ledger_path: str | None = None
    max_api_calls: int | None = None
    #: campaignId of prospects an import creates, for rows without campaign_id.
    default_campaign_id: int | None = None
    dry_run_offline: bool = False
    progress_interval_seconds: float = 10.0
    batch_wait_limit_seconds: float = 30.0
    mirror_max_removal_percent: float = 20.0
    identity_map: bool = True
    #: "auto", "4" or "3": the v3/v4 API version (see target_pardot.pardot.api_version).
    api_version: str = "auto"
    username: str = ""
    private_key: str = field(default="", repr=False)
    private_key_path: str | None = None
    daily_quota_reserve: int = 0
    #: "skip" or "clear": what a null or blank value does to a non-key field.
    empty_values: str = "skip"
    max_rejected_percent: float = 50.0
    create_missing_lists: bool = True

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every configured secret, for the log redaction filter (the key's lines too)."""
        key_lines = tuple(
            line.strip() for line in self.private_key.splitlines() if len(line.strip()) > 16
        )
        return tuple(
            s for s in (self.client_secret, self.refresh_token, self.private_key, *key_lines) if s
        )


def _choice(config: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = config.get(name)
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"Setting '{name}' is {value!r}; it must be one of {allowed}.")
    return text


def _boolean(config: Mapping[str, Any], name: str, default: bool) -> bool:
    value = config.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise ConfigError(f"Setting '{name}' is {value!r}; it must be true or false.")


def _number(
    config: Mapping[str, Any], name: str, default: float, *, minimum: float, integer: bool
) -> float:
    value = config.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"Setting '{name}' is {value!r}; it must be {kind}.") from None
    if isinstance(value, bool) or number < minimum:
        raise ConfigError(f"Setting '{name}' is {value!r}; it must be at least {minimum:g}.")
    return number


def _list_items(value: Any, setting: str) -> list[Any]:
    """The items of a list setting: "1,2,3", "[1, 2]", [1, "2"] or a single value."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(
                f"Setting '{setting}' looks like a JSON array but is not valid JSON."
            ) from None
        return parsed if isinstance(parsed, list) else [parsed]
    return [part for part in text.split(",") if part.strip()]


def parse_prospect_lists(value: Any) -> tuple[int | str, ...]:
    """prospect_lists: list ids and list names side by side ("12, Webinar Q4"). An item
    that reads as a number is an id; any other text is a list name."""
    refs: list[int | str] = []
    for item in _list_items(value, "prospect_lists"):
        text = str(item).strip()
        ref: int | str
        if isinstance(item, bool) or not text or _NUMBER.fullmatch(text):
            ref = parse_list_ids([item])[0]
        elif len(text) > 255:
            raise ConfigError("Setting 'prospect_lists' holds a list name longer than 255 "
                              "characters.")
        else:
            ref = text
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


_NUMBER = re.compile(r"[+-]?[0-9.]+")


def parse_list_ids(value: Any, setting: str = "prospect_lists") -> tuple[int, ...]:
    """Accept "1,2,3", "[1, 2]", [1, "2"] or a single id; return positive ints, in order."""
    items = _list_items(value, setting)
    ids: list[int] = []
    for item in items:
        text = str(item).strip()
        if isinstance(item, bool) or not text.isdigit() or int(text) <= 0:
            raise ConfigError(
                f"Setting '{setting}' holds {item!r}; list ids are positive whole numbers, "
                'given as "1,2,3" or [1, 2, 3].'
            )
        if int(text) not in ids:
            ids.append(int(text))
    return tuple(ids)


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(name: str, url: str) -> str:
    """Require https, except on a loopback host (a local emulator); drop a trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"Setting '{name}' is {url!r}; it must be a URL such as https://host.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"Setting '{name}' uses plain http on a non-loopback host ({parts.hostname}); "
            "credentials would travel unencrypted. Use https."
        )
    return url.strip().rstrip("/")


def check_business_unit(value: Any) -> str:
    text = str(value or "").strip()
    if not text.startswith(BUSINESS_UNIT_PREFIX) or len(text) != BUSINESS_UNIT_LENGTH:
        raise ConfigError(
            f"Setting 'business_unit' must start with '{BUSINESS_UNIT_PREFIX}' and be "
            f"{BUSINESS_UNIT_LENGTH} characters long (got {len(text)} characters). Find it in "
            "Salesforce Setup > Pardot Account Setup."
        )
    return text


def effective_parallel_tasks(requested: int) -> int:
    """Cap at Pardot's concurrency limit, warning when the user asked for more."""
    if requested > MAX_CONCURRENT_REQUESTS:
        logger.warning(
            "parallel_tasks=%d is above Pardot's limit of %d concurrent requests per "
            "account; using %d.",
            requested,
            MAX_CONCURRENT_REQUESTS,
            MAX_CONCURRENT_REQUESTS,
        )
        return MAX_CONCURRENT_REQUESTS
    return requested


def check_client_credentials_host(auth_flow: str, login_url: str) -> None:
    """Salesforce issues client-credentials tokens only on the org's own My Domain host."""
    host = urlsplit(login_url).hostname or ""
    if auth_flow == "client_credentials" and host in GENERIC_LOGIN_HOSTS:
        raise ConfigError(
            f"auth_flow 'client_credentials' does not work with 'login_url' {login_url}: "
            "Salesforce serves that flow only on the org's My Domain URL. Set 'login_url' to "
            "it, e.g. https://MyCompany.my.salesforce.com (sandbox: "
            "https://MyCompany--SandboxName.sandbox.my.salesforce.com); find it in Setup > "
            "My Domain."
        )


def _required_text(config: Mapping[str, Any], name: str) -> str:
    value = config.get(name)
    if value is None or str(value).strip() == "":
        raise ConfigError(f"Setting '{name}' is required.")
    return str(value).strip()


def parse_value(setting: Setting, config: Mapping[str, Any]) -> Any:
    """A setting of a plain kind, from the config or its default in the table."""
    name, default = setting.name, setting.default
    if setting.kind == BOOLEAN:
        return _boolean(config, name, default)
    if setting.kind == CHOICE:
        return _choice(config, name, setting.values, default)
    if setting.kind in (INTEGER, NUMBER):
        integer = setting.kind == INTEGER
        if default is None:
            if config.get(name) in (None, ""):
                return None
            default = setting.minimum
        number = _number(config, name, default, minimum=setting.minimum, integer=integer)
        if setting.maximum is not None and number > setting.maximum:
            raise ConfigError(
                f"Setting '{name}' is {number:g}; it must be between {setting.minimum:g} and "
                f"{setting.maximum:g}."
            )
        return int(number) if integer else number
    if setting.kind == STRING:
        value = config.get(name)
        return str(value).strip() if value not in (None, "") else None
    raise ValueError(f"setting {name!r} of kind {setting.kind!r} needs its own parsing")


def parse_settings(config: Mapping[str, Any]) -> Settings:
    """Validate the whole config; raise ConfigError naming the first bad setting."""
    client_id = _required_text(config, "client_id")
    values = {s.name: parse_value(s, config) for s in SETTINGS if s.name not in _OWN_RULES}
    sandbox = values["sandbox"]
    auth_flow = values["auth_flow"]
    # The JWT bearer flow signs with a key instead of sending the consumer secret.
    client_secret = (
        str(config.get("client_secret") or "").strip()
        if auth_flow == "jwt_bearer"
        else _required_text(config, "client_secret")
    )
    refresh_token = values["refresh_token"] or ""
    if auth_flow == "refresh_token" and not refresh_token:
        raise ConfigError("Setting 'refresh_token' is required when auth_flow is 'refresh_token'.")
    jwt_settings = _jwt_settings(config) if auth_flow == "jwt_bearer" else {}
    login_default = SANDBOX_LOGIN_URL if sandbox else PRODUCTION_LOGIN_URL
    domain_default = DEMO_PARDOT_DOMAIN if sandbox else PRODUCTION_PARDOT_DOMAIN
    login_url = check_url("login_url", str(config.get("login_url") or login_default))
    check_client_credentials_host(auth_flow, login_url)
    prospect_lists = parse_prospect_lists(config.get("prospect_lists"))
    importing = values["prospect_operation"] == "import"
    named = len(prospect_lists)
    if importing and named > MAX_IMPORT_LISTS_PER_ROW:
        raise ConfigError(
            f"Setting 'prospect_lists' names {named} lists; an import changes "
            f"at most {MAX_IMPORT_LISTS_PER_ROW} lists per prospect. Use fewer lists, or "
            "prospect_operation 'sync'."
        )
    return Settings(
        **{
            **values,
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
            "login_url": login_url,
            "pardot_domain": check_url(
                "pardot_domain", str(config.get("pardot_domain") or domain_default)
            ),
            "business_unit": check_business_unit(config.get("business_unit")),
            "prospect_lists": prospect_lists,
            "parallel_tasks": effective_parallel_tasks(values["parallel_tasks"]),
            # Offline is a kind of dry run: it plans the same calls and sends none of them.
            "dry_run": values["dry_run"] or values["dry_run_offline"],
            **jwt_settings,
        }
    )


def _jwt_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """username and the RSA key, checked now so a bad key fails before any row is read."""
    username = _required_text(config, "username")
    path = str(config.get("private_key_path") or "").strip() or None
    pem, source = read_private_key_text(str(config.get("private_key") or ""), path)
    load_rsa_key(pem, source)
    return {"username": username, "private_key": pem, "private_key_path": path}


#: Settings parsed by their own rules in parse_settings (required text, URLs with defaults
#: that depend on `sandbox`, the business unit's shape, list ids).
_OWN_RULES = frozenset(
    {"client_id", "client_secret", "login_url", "pardot_domain", "business_unit",
     "prospect_lists", "username", "private_key", "private_key_path"}
)  # fmt: skip
