"""Real processes, killed with SIGKILL while the identity map is being written and used:
the re-run from the last STATE finishes, every field is right, and no prospect exists
twice."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import (
    BIN,
    base_config,
    parse_states,
    record_message,
    run_cli,
    schema_message,
    state_message,
    to_lines,
)

pytestmark = pytest.mark.slow

ROWS = 1000
EVERY = 100


def rows(city: str) -> list[dict]:
    return [{"email": f"k{i}@example.com", "city": city} for i in range(ROWS)]


def stream_text(records: list[dict], start: int = 0) -> str:
    messages = [schema_message("prospects")]
    for offset, record in enumerate(records[start:], start=start + 1):
        messages.append(record_message("prospects", record))
        if offset % EVERY == 0:
            messages.append(state_message({"upto": offset}))
    return to_lines(messages)


def killed_after_states(config: dict, text: str, tmp_path: Path, states: int) -> int:
    """Run the target as a real process and SIGKILL it after it wrote ``states`` STATEs;
    the last STATE it wrote."""
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "input.singer").write_text(text)
    with (tmp_path / "input.singer").open("rb") as stdin, \
            (tmp_path / "stderr.log").open("wb") as stderr:  # fmt: skip
        process = subprocess.Popen(
            [str(BIN / "target-pardot"), "--config", str(tmp_path / "config.json")],
            stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, env=dict(os.environ),
        )  # fmt: skip
    try:
        assert process.stdout is not None
        seen = []
        while len(seen) < states:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(json.loads(line))
        process.kill()
        process.wait(timeout=30)
        seen += parse_states(process.stdout.read().decode())
    finally:
        if process.poll() is None:
            process.kill()
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
    config = base_config(emu, upsert_by_email=True, parallel_tasks=3,
                         ledger_path=str(tmp_path / "ledger.sqlite3"))  # fmt: skip
    # 1. The first load (every row through upsertLatestByEmail), killed half way.
    emu.configure(latency_ms=15)
    first = rows("Oslo")
    upto = killed_after_states(config, stream_text(first), tmp_path, states=3)
    resumed = run_cli(config, stream_text(first, start=upto), tmp_path)
    assert resumed.exit_code == 0, resumed.stderr[-2000:]
    assert_loaded_once(emu, "Oslo")
    # 2. Every row changed: they go by mapped id, and this run is killed half way too.
    emu.configure(latency_ms=500)
    second = rows("Bergen")
    upto = killed_after_states(config, stream_text(second), tmp_path, states=2)
    emu.configure(latency_ms=0)
    resumed = run_cli(config, stream_text(second, start=upto), tmp_path)
    assert resumed.exit_code == 0, resumed.stderr[-2000:]
    assert resumed.states[-1] == {"upto": ROWS}
    summary = resumed.summary
    # Entries learned just before the first kill may not have been committed: those rows
    # cost an upsertLatestByEmail call, never a duplicate.
    assert summary["identity_map_hits"] + summary["identity_map_misses"] == ROWS - upto
    assert summary["rows_sent_by_mapped_id"] >= (ROWS - upto) // 2
    assert summary["identity_map_fallbacks"] == 0
    assert_loaded_once(emu, "Bergen")
