"""Run a target as a real process against an emulator, and measure it.

The emulator runs in this process (a thread serving HTTP on loopback) and the target in
a child process, as in production: `tap | target-pardot`. The two never share an
interpreter lock, and on a 2-core machine each gets a core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pardot_emulator import PardotEmulator

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK = ROOT / ".bench" / "work"
TARGET = [str(BIN / "target-pardot")]
NOOP_TARGET = [sys.executable, str(ROOT / "bench" / "noop_target.py")]
LAUNCHER = ROOT / "bench" / "rss_launcher.py"


@dataclass
class Run:
    """One finished target process."""

    exit_code: int
    wall_seconds: float
    max_rss_kb: int
    stdout: str
    stderr: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, Any]:
        marker = "run summary: {"
        for line in reversed(self.stderr.splitlines()):
            if marker in line:
                return json.loads(line[line.index(marker) + len(marker) - 1 :])
        raise RuntimeError(f"no run summary in the target's stderr:\n{self.stderr[-3000:]}")

    @property
    def states(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def check(self) -> Run:
        """Raise when the process failed: a benchmark of a failed run means nothing."""
        if self.exit_code != 0:
            raise RuntimeError(
                f"target exited {self.exit_code}; last stderr:\n{self.stderr[-3000:]}"
            )
        return self


def run_process(argv: list[str], stdin_path: Path, *, timeout: float = 1800) -> Run:
    """Run argv with stdin from a file; measure wall time and the process's peak RSS."""
    WORK.mkdir(parents=True, exist_ok=True)
    fd, rss_path = tempfile.mkstemp(prefix="rss-", dir=WORK)
    os.close(fd)
    with (
        stdin_path.open("rb") as stdin,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(LAUNCHER), rss_path, *argv], stdin=stdin, stdout=out, stderr=err
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        rss_text = Path(rss_path).read_text().strip()
        os.unlink(rss_path)
        return Run(
            exit_code=proc.returncode,
            wall_seconds=wall,
            max_rss_kb=int(rss_text or 0),
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def target_config(emu: PardotEmulator, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "refresh_token": emu.refresh_token,
        "business_unit": emu.business_unit,
        "login_url": emu.url,
        "pardot_domain": emu.url,
        "parallel_tasks": 5,
        # The batch path the figures have always measured (email-only rows, 50 per call);
        # the v5 benchmarks set upsert_by_email: true, the target's default.
        "upsert_by_email": False,
    }
    config.update(overrides)
    return config


def run_target(
    config: Mapping[str, Any],
    stdin_path: Path,
    *,
    argv: list[str] | None = None,
    timeout: float = 1800,
) -> Run:
    WORK.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="config-", suffix=".json", dir=WORK)
    with os.fdopen(fd, "w") as handle:
        json.dump(dict(config), handle)
    try:
        run = run_process([*(argv or TARGET), "--config", name], stdin_path, timeout=timeout)
    finally:
        os.unlink(name)
    run.config = dict(config)
    return run


@contextmanager
def emulator(**settings: Any) -> Iterator[PardotEmulator]:
    with PardotEmulator(**settings) as emu:
        yield emu


#: Calls that read and never write: the token, the run's custom-field read, and the
#: member reads of list_membership_operation mirror.
READ_ENDPOINTS = frozenset({"oauth/token", "v5/custom-fields/query", "v5/list-memberships/query",
                            "v5/lists/query", "v5/lists/read", "list/query",
                            "v5/prospects/query"})


def write_calls(counters: Mapping[str, Any]) -> int:
    """Calls the emulator served that may change data (reads excluded)."""
    return sum(n for name, n in counters["calls_by_endpoint"].items() if name not in READ_ENDPOINTS)


def pardot_calls(counters: Mapping[str, Any]) -> int:
    """Calls the emulator served on the Pardot API (the token endpoint excluded)."""
    return sum(n for name, n in counters["calls_by_endpoint"].items() if name != "oauth/token")
