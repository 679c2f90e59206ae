"""The one place where the run's settings become what the Pardot client and its auth
layer read (target_pardot.pardot knows nothing of Settings)."""

from __future__ import annotations

from target_pardot.pardot.call import Counters
from target_pardot.pardot.client import PardotClient
from target_pardot.pardot.config import AuthConfig, ClientConfig
from target_pardot.settings import Settings


def auth_config(settings: Settings) -> AuthConfig:
    return AuthConfig(
        auth_flow=settings.auth_flow,
        login_url=settings.login_url,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        refresh_token=settings.refresh_token,
        username=settings.username,
        private_key=settings.private_key,
        sandbox=settings.sandbox,
        initial_retry_wait=settings.initial_retry_wait,
    )


def client_config(settings: Settings) -> ClientConfig:
    return ClientConfig(
        pardot_domain=settings.pardot_domain,
        business_unit=settings.business_unit,
        parallel_tasks=settings.parallel_tasks,
        maximum_connection_timeout=settings.maximum_connection_timeout,
        maximum_retries=settings.maximum_retries,
        initial_retry_wait=settings.initial_retry_wait,
        maximum_retry_wait=settings.maximum_retry_wait,
        sandbox=settings.sandbox,
        api_version=settings.api_version,
        max_api_calls=settings.max_api_calls,
        daily_quota_reserve=settings.daily_quota_reserve,
    )


def open_client(settings: Settings, counters: Counters) -> PardotClient:
    return PardotClient(client_config(settings), auth_config(settings), counters)
