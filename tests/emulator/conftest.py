"""Fixtures for the emulator's own tests: a real server, driven over real HTTP.

These tests deliberately restate the wire facts (paths, bodies, field names)
instead of importing them from the emulator, so a wrong constant in the
emulator fails a test instead of agreeing with itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from pardot_emulator import PardotEmulator

BU = "0Uv000000000001AAA"
DEFAULTS: dict[str, Any] = {
    "client_id": "emulator-client-id",
    "client_secret": "emulator-client-secret",
    "refresh_token": "emulator-refresh-token",
    "business_unit": BU,
    "lists": "1-1000",
    "ampsea": True,
    "v3_email_case_insensitive": True,
    "concurrency_limit": 5,
    "reserved_slots": 0,
    "daily_limit": None,
    "rate_limit_status": 200,
    "auth_error_status": 401,
    "auth_error_xml": False,
    "v4_error_status": 400,
    "uri_limit": 8192,
    "max_body_bytes": 32 * 1024 * 1024,
    "latency_ms": 0,
    "latency_jitter_ms": 0,
    "token_lifetime_calls": None,
    "token_lifetime_seconds": None,
    "token_fault_rate": 0,
    "token_race_errors": True,
    "jwt_public_key": None,
    "jwt_username": "integration@example.com",
    "jwt_audience": "https://login.salesforce.com",
    "clock_offset_seconds": 0,
    "authorize_outcome": "approve",
    "api_usage_header": "used/max",
    "daily_usage_max": 100000,
    "others_daily_calls": 0,
    "fault_rate": 0,
    "fault_kinds": "http500,http503,code183,drop,slow",
    "slow_ms": 3000,
    "applied_but_lost_rate": 0,
    "import_processing_polls": 1,
    "import_daily_batch_limit": 1000,
    "import_list_separator": ";",
    "custom_fields": "favorite_color,Amount,Color,x,shoe_size,custom__Color,loyalty_tier,"
    "Legacy_Code__c",
    "timezone": "UTC",
    "frozen_time": None,
    "page_token_ttl_seconds": 14400,
    "page_token_max_records": 100000,
    "seed": None,
    "verbose": False,
}

V4_BATCH = "/api/prospect/version/4/do/{op}?format=json"


@pytest.fixture(scope="session")
def server() -> Iterator[PardotEmulator]:
    with PardotEmulator() as emu:
        yield emu


def wait_idle(emu: PardotEmulator, timeout: float = 10.0) -> None:
    """Wait for requests still running in the server (a client that timed out
    leaves its request running) so that they cannot leak into the next test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emu.counters()["in_flight"] == 0 and emu.app.tokens.requests_in_flight == 0:
            return
        time.sleep(0.01)
    raise AssertionError("the emulator still has requests in flight")


@pytest.fixture
def emu(server: PardotEmulator) -> Iterator[PardotEmulator]:
    """The shared emulator, with default settings and no data."""
    wait_idle(server)
    server.configure(**DEFAULTS)
    server.reset()
    yield server
    wait_idle(server)


def get_token(emu: PardotEmulator) -> str:
    r = requests.post(f"{emu.url}/services/oauth2/token", data={
        "grant_type": "refresh_token", "client_id": emu.client_id,
        "client_secret": emu.client_secret, "refresh_token": emu.refresh_token}, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


class Api:
    """A thin authenticated client for the tests."""

    def __init__(self, emu: PardotEmulator) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.token = get_token(emu)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Pardot-Business-Unit-Id": BU}

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        kw.setdefault("timeout", 10)
        return self.session.request(method, self.emu.url + path, headers=headers, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def batch(self, op: str, rows: list[Any], **kw: Any) -> requests.Response:
        return self.post(V4_BATCH.format(op=op),
                         data={"prospects": json.dumps({"prospects": rows})}, **kw)

    def upsert_v5(self, body: dict[str, Any], **kw: Any) -> requests.Response:
        return self.post("/api/v5/objects/prospects/do/upsertLatestByEmail", json=body, **kw)

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def api(emu: PardotEmulator) -> Iterator[Api]:
    client = Api(emu)
    yield client
    client.close()


def by_email(emu: PardotEmulator, email: str, include_deleted: bool = False
             ) -> list[dict[str, Any]]:
    return [p for p in emu.prospects(include_deleted=include_deleted) if p["email"] == email]
