"""Settings every test shares."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_cache_directory(tmp_path_factory, monkeypatch):
    """The identity map (on by default with upsert_by_email) and the ledger live under
    the user's cache directory unless ledger_path is set: give every test its own, so no
    test sees ids another test's emulator handed out, and none writes to the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
