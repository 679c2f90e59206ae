"""What the client and the auth layer read, and nothing else: two small frozen values
built from the run's settings in one place (target_pardot.run.connection), so this
package never depends on how settings are parsed or validated."""

from __future__ import annotations

from dataclasses import dataclass, field

PRODUCTION_PARDOT_DOMAIN = "https://pi.pardot.com"
DEMO_PARDOT_DOMAIN = "https://pi.demo.pardot.com"


@dataclass(frozen=True)
class AuthConfig:
    """How to get an access token. Secrets are excluded from repr so they never reach a
    log."""

    auth_flow: str
    login_url: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    username: str = ""
    private_key: str = field(default="", repr=False)
    sandbox: bool = False
    #: First wait before a token request is repeated (doubles, at most 10 s).
    initial_retry_wait: float = 1.0


@dataclass(frozen=True)
class ClientConfig:
    """Where the calls go, how many at once, and how failures are retried."""

    pardot_domain: str
    business_unit: str
    parallel_tasks: int
    maximum_connection_timeout: float
    maximum_retries: int
    initial_retry_wait: float
    maximum_retry_wait: float
    #: Whether the Pardot host was chosen through `sandbox` (named in error 201's hint).
    sandbox: bool = False
    #: "auto", "4" or "3" (see api_version.py).
    api_version: str = "auto"
    max_api_calls: int | None = None
    daily_quota_reserve: int = 0
