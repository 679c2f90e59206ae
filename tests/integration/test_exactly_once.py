"""Rows arrive exactly once where features meet: blank key cells, API v3 accounts, the
identity map and match_email (each test fails on the code before its fix)."""

from __future__ import annotations

from collections import Counter

import pytest

import target_pardot.sinks.bulk_import as imports_module
from tests.helpers import base_config, stream_of

#: How a CSV tap declares its columns: every one a string.
CSV_SCHEMA = {
    "type": "object",
    "properties": {
        name: {"type": ["string", "null"]}
        for name in ("id", "salesforce_id", "email", "first_name", "campaign_id", "match_email")
    },
}


def csv_rows(n: int, name: str = "F") -> list[dict]:
    return [{"id": "", "salesforce_id": " " if i % 2 else "", "email": f"u{i}@example.com",
             "first_name": f"{name}{i}", "campaign_id": ""} for i in range(n)]  # fmt: skip


def emails_once(emu) -> dict[str, dict]:
    counts = Counter(p["email"] for p in emu.prospects())
    assert counts and max(counts.values()) == 1, f"duplicates: {counts.most_common(3)}"
    return {p["email"]: p for p in emu.prospects()}


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(imports_module, "IMPORT_FIRST_POLL_SECONDS", 0.02)


@pytest.mark.parametrize("operation", ["sync", "import"])
def test_blank_key_cells_are_absent_on_every_load(emu, run, tmp_path, operation):
    config = base_config(emu, upsert_by_email=True, prospect_operation=operation,
                         default_campaign_id=7, ledger_path=str(tmp_path / "l.sqlite3"))  # fmt: skip
    for name in ("First", "Second"):
        result = run(config, stream_of("prospects", csv_rows(20, name), schema=CSV_SCHEMA))
        assert result.exit_code == 0, result.stderr[-3000:]
        assert result.summary["rows_rejected"] == 0
    prospects = emails_once(emu)
    assert len(prospects) == 20
    assert {p["first_name"] for p in prospects.values()} == {f"Second{i}" for i in range(20)}
    if operation == "import":
        assert {p["campaign_id"] for p in prospects.values()} == {7}
