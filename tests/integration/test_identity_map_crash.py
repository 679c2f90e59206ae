"""Real processes, killed with SIGKILL while the identity map is being written and used:
the re-run from the last STATE finishes, every field is right, and no prospect exists
twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from target_pardot.run.reader import IDLE_TICK_SECONDS
from tests.helpers import (
    base_config,
    feed_in_steps,
    kill_after_states,
    run_cli_inprocess,
    start_target,
    stream_with_states,
)

pytestmark = pytest.mark.slow

ROWS = 1000
EVERY = 100


def rows(city: str) -> list[dict]:
    return [{"email": f"k{i}@example.com", "city": city} for i in range(ROWS)]


#: Between two steps of the input, stdin stays quiet for longer than the reader's idle
#: tick: the target then sends the step's rows and commits what the map learned before it
#: writes the step's STATE, as with a tap that reads its source page by page.
STEP_PAUSE = IDLE_TICK_SECONDS + 0.2


def killed_after_states(config: dict, records: list[dict], tmp_path: Path, states: int) -> int:
    """Run the target as a real process on ``records``, sent a hundred rows and a STATE
    at a time, and SIGKILL it after it wrote ``states`` STATEs; the last STATE it wrote."""
    process = start_target(config, tmp_path)
    feed_in_steps(process, stream_with_states(records, EVERY), pause=STEP_PAUSE)
    seen = kill_after_states(process, states)
    assert seen, (tmp_path / "stderr.log").read_text()[-2000:]
    upto = int(seen[-1]["upto"])
    assert upto < ROWS, "the run must have been killed before the end"
    return upto


def assert_loaded_once(emu, city: str) -> None:
    prospects = emu.prospects()
    counts = Counter(p["email"] for p in prospects)
    assert len(counts) == ROWS, f"{len(counts)} distinct emails"
    assert counts.most_common(1)[0][1] == 1, f"duplicates: {counts.most_common(3)}"
    assert {p["city"] for p in prospects} == {city}


def test_sigkill_while_learning_and_while_using_the_map_never_duplicates(emu, tmp_path):
    # A short batch wait: each step of the input is sent in the quiet after it.
    config = base_config(emu, upsert_by_email=True, parallel_tasks=3, batch_wait_limit_seconds=0.2,
                         ledger_path=str(tmp_path / "ledger.sqlite3"))  # fmt: skip
    # 1. The first load (every row through upsertLatestByEmail), killed half way; the
    # re-run from its last STATE in this process, without latency (the kill is the
    # subject, not the re-run).
    emu.configure(latency_ms=15)
    first = rows("Oslo")
    upto = killed_after_states(config, first, tmp_path, states=3)
    emu.configure(latency_ms=0)
    resumed = run_cli_inprocess(config, stream_with_states(first[upto:], EVERY, start=upto),
                                tmp_path)
    assert resumed.exit_code == 0, resumed.stderr[-2000:]
    assert_loaded_once(emu, "Oslo")
    # 2. Every row changed: they go by mapped id, and this run is killed half way too
    # (the steps of the input, not the latency, keep it running until the kill).
    emu.configure(latency_ms=50)
    second = rows("Bergen")
    upto = killed_after_states(config, second, tmp_path, states=2)
    emu.configure(latency_ms=0)
    resumed = run_cli_inprocess(config, stream_with_states(second[upto:], EVERY, start=upto),
                                tmp_path)
    assert resumed.exit_code == 0, resumed.stderr[-2000:]
    assert resumed.states[-1] == {"upto": ROWS}
    summary = resumed.summary
    # Entries learned just before the first kill may not have been committed: those rows
    # cost an upsertLatestByEmail call, never a duplicate.
    assert summary["identity_map_hits"] + summary["identity_map_misses"] == ROWS - upto
    assert summary["rows_sent_by_mapped_id"] >= (ROWS - upto) // 2
    assert summary["identity_map_fallbacks"] == 0
    assert_loaded_once(emu, "Bergen")
