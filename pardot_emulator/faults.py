"""Counters, the in-flight gate, the daily budget, latency and fault draws."""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from typing import Any

from .settings import EmulatorSettings

_MAX_SEEN = 2_000_000


class Counters:
    """Everything GET /_emulator/state reports under "counters". Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self._zero()

    def _zero(self) -> None:
        self.calls_total = 0
        self.calls_by_endpoint: Counter[str] = Counter()
        self.calls_by_api_version: Counter[str] = Counter()
        self.errors_by_code: Counter[str] = Counter()
        self.http_status_counts: Counter[str] = Counter()
        self.max_in_flight = 0
        self.rejected_concurrency = 0
        self.retries_seen = 0
        self.token_in_url_violations = 0
        self.dynamic_list_writes = 0
        self.error_file_downloads = 0
        self.error_file_pardot_headers = 0
        self.tokens_issued = 0
        self.faults_injected: Counter[str] = Counter()
        self.rows_created = 0
        self.rows_updated = 0
        self.rows_failed = 0
        self.daily_calls_used = 0
        self._seen: set[bytes] = set()

    def reset(self) -> None:
        with self.lock:
            self._zero()
            self.max_in_flight = self.in_flight

    # -- per request ------------------------------------------------------------

    def call(self, endpoint: str, api_version: str | None = None) -> None:
        with self.lock:
            self.calls_total += 1
            self.calls_by_endpoint[endpoint] += 1
            if api_version is not None:
                self.calls_by_api_version[api_version] += 1

    def enter(self) -> int:
        """A Pardot request arrived; returns how many are in flight including it."""
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.in_flight

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def seen_before(self, method: str, target: str, body: bytes) -> bool:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(method.encode())
        digest.update(b"\0")
        digest.update(target.encode("latin-1", "replace"))
        digest.update(b"\0")
        digest.update(body)
        key = digest.digest()
        with self.lock:
            if key in self._seen:
                self.retries_seen += 1
                return True
            if len(self._seen) >= _MAX_SEEN:  # bounded memory on very long runs
                self._seen.clear()
            self._seen.add(key)
            return False

    def spend_daily(self, limit: int | None) -> bool:
        """Count one call against the daily budget; False once it is exhausted."""
        with self.lock:
            self.daily_calls_used += 1
            return limit is None or self.daily_calls_used <= limit

    def daily_calls(self) -> int:
        with self.lock:
            return self.daily_calls_used

    def new_day(self) -> None:
        """Midnight in the account's time zone: the daily count starts again."""
        with self.lock:
            self.daily_calls_used = 0

    def status(self, status: int | str, err_code: int | str | None) -> None:
        with self.lock:
            self.http_status_counts[str(status)] += 1
            if err_code is not None:
                self.errors_by_code[str(err_code)] += 1

    def bump(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)

    def fault(self, kind: str) -> None:
        with self.lock:
            self.faults_injected[kind] += 1

    def rows(self, created: int, updated: int, failed: int = 0) -> None:
        with self.lock:
            self.rows_created += created
            self.rows_updated += updated
            self.rows_failed += failed

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls_total": self.calls_total,
                "calls_by_endpoint": dict(self.calls_by_endpoint),
                "calls_by_api_version": dict(self.calls_by_api_version),
                "errors_by_code": dict(self.errors_by_code),
                "http_status_counts": dict(self.http_status_counts),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "rejected_concurrency": self.rejected_concurrency,
                "retries_seen": self.retries_seen,
                "token_in_url_violations": self.token_in_url_violations,
                "dynamic_list_writes": self.dynamic_list_writes,
                "error_file_downloads": self.error_file_downloads,
                "error_file_pardot_headers": self.error_file_pardot_headers,
                "tokens_issued": self.tokens_issued,
                "faults_injected": dict(self.faults_injected),
                "rows_created": self.rows_created,
                "rows_updated": self.rows_updated,
                "rows_failed": self.rows_failed,
                "daily_calls_used": self.daily_calls_used,
            }


class Dice:
    """Seeded random draws (faults, jitter), thread-safe."""

    def __init__(self, seed: int | None = None) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(seed)

    def reseed(self, seed: int | None) -> None:
        with self.lock:
            self.rng = random.Random(seed)

    def chance(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self.lock:
            return self.rng.random() < rate

    def pick(self, options: tuple[str, ...]) -> str:
        with self.lock:
            return self.rng.choice(options)

    def uniform(self, hi: float) -> float:
        if hi <= 0.0:
            return 0.0
        with self.lock:
            return self.rng.uniform(0.0, hi)


def latency_seconds(settings: EmulatorSettings, dice: Dice) -> float:
    ms = settings.latency_ms + dice.uniform(settings.latency_jitter_ms)
    return ms / 1000.0


def draw_fault(rate: float, kinds: tuple[str, ...], dice: Dice) -> str | None:
    """One of ``kinds`` with probability ``rate``, else None."""
    if not dice.chance(rate):
        return None
    return dice.pick(kinds)
