"""Settings every test shares."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from target_pardot.redact import REDACTOR


@pytest.fixture(autouse=True)
def private_cache_directory(tmp_path_factory, monkeypatch):
    """The identity map (on by default with upsert_by_email) and the ledger live under
    the user's cache directory unless ledger_path is set: give every test its own, so no
    test sees ids another test's emulator handed out, and none writes to the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def no_secrets_of_earlier_tests(monkeypatch):
    """The redactor is process-wide, as a real run (one target per process) needs. Runs
    in this process start with it empty too: a short secret of an earlier test ("7")
    would otherwise be masked in every later log line, and a run summary with it."""
    monkeypatch.setattr(REDACTOR, "_secrets", ())
    monkeypatch.setattr(REDACTOR, "_short", None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow-marked tests first, in their collected order: the workers start on the long
    tests and share the short ones at the end, so no long test runs on alone while the
    other workers are idle. Every worker sorts the same collection the same way, as
    pytest-xdist requires."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.hookimpl(wrapper=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> Generator[None, int, int]:
    """`-n auto` starts two workers per core: most tests spend their time waiting on the
    emulator's latency, sockets and child processes, so a second worker per core uses
    that wait (the integration tests took 84 s instead of 122 s on two cores). An
    explicit PYTEST_XDIST_AUTO_NUM_WORKERS is taken as it is."""
    workers = yield
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return workers
    return 2 * workers
