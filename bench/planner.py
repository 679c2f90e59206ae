"""The planner (prospect_operation auto) against the fixed paths, by calls.

A first load of email-only rows with default_campaign_id, and its re-run with one row in
ten changed, each under auto, sync and import, on a fresh emulator and a fresh ledger
directory per operation (so none remembers the account's API version). Calls are the
emulator's (the token excluded), the fewer of two runs for auto and import (see
IMPORT_REPEATS). Goal: auto takes at most 1.2 times the calls of the
cheapest of the others on each run, and no run leaves a duplicate.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from bench import datasets
from bench.harness import WORK, emulator, pardot_calls, run_target, target_config

OPERATIONS = ("auto", "sync", "import")
GOAL = 1.2


def partly_changed_file(rows: int, every: int = 10) -> Path:
    """The prospects file of ``rows`` rows with one row in ``every`` changed."""
    path = datasets.DATA_DIR / f"prospects-{rows}-one-in-{every}-changed.singer"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"type": "SCHEMA", "stream": "prospects",
                              "schema": datasets.PROSPECT_SCHEMA,
                              "key_properties": ["email"]}) + "\n")  # fmt: skip
        for i in range(rows):
            record = datasets.record(i, changed=i % every == 0)
            out.write(json.dumps({"type": "RECORD", "stream": "prospects", "record": record},
                                 separators=(",", ":")) + "\n")  # fmt: skip
            if (i + 1) % datasets.STATE_EVERY == 0:
                out.write(json.dumps({"type": "STATE", "value": {"rows": i + 1}}) + "\n")
        out.write(json.dumps({"type": "STATE", "value": {"rows": rows}}) + "\n")
    partial.replace(path)
    return path


def duplicates(prospects: list[dict]) -> int:
    counts = Counter(p["email"] for p in prospects)
    return sum(n - 1 for n in counts.values() if n > 1)


def first_and_rerun(operation: str, rows: int) -> tuple[int, int, int]:
    """(calls of the first load, calls of the re-run, duplicates left) under one operation."""
    directory = WORK / f"planner-{operation}-{rows}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    with emulator() as emu:
        config = target_config(emu, prospect_operation=operation, default_campaign_id=1,
                               upsert_by_email=True,
                               ledger_path=str(directory / "ledger.sqlite3"))  # fmt: skip
        run_target(config, datasets.prospects_file(rows)).check()
        first = pardot_calls(emu.counters())
        run_target(config, partly_changed_file(rows)).check()
        second = pardot_calls(emu.counters()) - first
        prospects = emu.prospects()
    if len({p["email"] for p in prospects}) != rows:
        raise RuntimeError(f"{operation}: {len(prospects)} prospects after {rows} rows")
    return first, second, duplicates(prospects)


#: Runs of each import-lane operation; the fewest calls count. An import's status polls
#: depend on how soon it completes, which a loaded machine delays: noise of a few calls
#: on figures of about seven. sync's one call per row is measured once (minutes).
IMPORT_REPEATS = 2


def measure(rows: int) -> dict[str, tuple[int, int, int]]:
    figures = {}
    for operation in OPERATIONS:
        repeats = 1 if operation == "sync" else IMPORT_REPEATS
        runs = [first_and_rerun(operation, rows) for _ in range(repeats)]
        figures[operation] = (min(r[0] for r in runs), min(r[1] for r in runs),
                              max(r[2] for r in runs))  # fmt: skip
    return figures


def ratios(figures: dict[str, tuple[int, int, int]]) -> tuple[float, float]:
    """auto's calls over the cheapest other operation's, on the first load and the re-run."""
    others = [figures[o] for o in OPERATIONS if o != "auto"]
    auto = figures["auto"]
    return (auto[0] / min(o[0] for o in others), auto[1] / min(o[1] for o in others))
