"""The later row of a prospect wins, on every API version: calls that carry the same
prospect are applied in stream order, even when they run in parallel or one is retried."""

from __future__ import annotations

import pytest

from tests.helpers import base_config, stream_of

ROUNDS = 8
PEOPLE = 50


@pytest.mark.parametrize("ampsea", [True, False], ids=["v4", "v3"])
def test_parallel_calls_for_one_prospect_land_in_stream_order(emu, run, ampsea):
    emu.configure(ampsea=ampsea, latency_jitter_ms=120, seed=7)
    ids = [emu.add_prospect(f"p{i}@example.com") for i in range(PEOPLE)]
    # Every round updates every prospect by id: one call per round, all queued at once.
    rows = [{"id": pid, "city": f"round {r}"} for r in range(ROUNDS) for pid in ids]
    config = base_config(emu, parallel_tasks=5, api_version="4" if ampsea else "3")
    result = run(config, stream_of("prospects", rows))
    assert result.exit_code == 0, result.stderr[-2000:]
    cities = {p["id"]: p.get("city") for p in emu.prospects()}
    stale = {pid: cities[pid] for pid in ids if cities[pid] != f"round {ROUNDS - 1}"}
    assert stale == {}, f"{len(stale)} prospects kept an older row's value"
    assert emu.counters()["calls_by_endpoint"]["prospect/batchUpsert"] >= ROUNDS
