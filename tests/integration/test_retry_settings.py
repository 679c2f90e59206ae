"""The retry and timeout settings, and the auth flows, change what the target does."""

from __future__ import annotations

import re

from tests.helpers import base_config, stream_of

RETRY_LINE = re.compile(r"Retrying (\S+) in ([0-9.]+)s after (\S+) \(attempt (\d+) of (\d+)\)")


def keyed_rows(emu, n):
    return [
        {"id": emu.add_prospect(email=f"r{i}@example.com"), "city": f"City{i}"} for i in range(n)
    ]


def retry_waits(stderr: str) -> list[tuple[float, int]]:
    return [(float(m.group(2)), int(m.group(4))) for m in RETRY_LINE.finditer(stderr)]


def test_maximum_retry_wait_caps_every_wait(emu, run):
    emu.configure(fault_rate=0.6, fault_kinds=["http503"], seed=1)
    config = base_config(emu, initial_retry_wait=1000, maximum_retry_wait=0.05, maximum_retries=30)
    result = run(config, stream_of("prospects", keyed_rows(emu, 300)))
    assert result.exit_code == 0
    waits = retry_waits(result.stderr)
    assert waits, "faults were injected, so retries must have been logged"
    assert all(wait <= 0.05 for wait, _ in waits)


def test_initial_retry_wait_bounds_the_first_waits(emu, run):
    emu.configure(fault_rate=0.5, fault_kinds=["code183"], seed=8)
    config = base_config(emu, initial_retry_wait=0.02, maximum_retry_wait=10, maximum_retries=20)
    result = run(config, stream_of("prospects", keyed_rows(emu, 100)))
    assert result.exit_code == 0
    waits = retry_waits(result.stderr)
    assert waits
    # Full jitter: the n-th retry waits between 0 and initial * 2^(n-1).
    assert all(wait <= 0.02 * 2 ** (attempt - 2) + 1e-3 for wait, attempt in waits)


def test_maximum_retries_counts_the_attempts(emu, run):
    emu.configure(fault_rate=1.0, fault_kinds=["http500"])
    result = run(base_config(emu, maximum_retries=3), stream_of("prospects", keyed_rows(emu, 1)))
    assert result.exit_code == 1
    assert emu.counters()["calls_by_endpoint"]["prospect/batchUpsert"] == 4


def test_maximum_connection_timeout_abandons_slow_replies(emu, run):
    emu.configure(fault_rate=0.3, fault_kinds=["slow"], slow_ms=3000, seed=1)
    rows = keyed_rows(emu, 100)
    result = run(
        base_config(emu, maximum_connection_timeout=0.5, maximum_retries=20, parallel_tasks=2),
        stream_of("prospects", rows),
    )
    assert result.exit_code == 0, result.stderr[-2000:]
    assert result.summary["retries_by_reason"].get("connection", 0) > 0
    assert sorted(p["city"] for p in emu.prospects()) == sorted(r["city"] for r in rows)


def test_client_credentials_flow(emu, run):
    config = base_config(emu, auth_flow="client_credentials", refresh_token=None)
    result = run(config, stream_of("prospects", [{"email": "cc@example.com"}]))
    assert result.exit_code == 0
    assert [p["email"] for p in emu.prospects()] == ["cc@example.com"]
