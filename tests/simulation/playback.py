"""Running the target on a stream: in this process, or as a real process that may be
killed after its n-th STATE line, or as two processes at once sharing one ledger."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from target_pardot.target import TargetPardot

BIN = Path(sys.executable).parent


@dataclass
class Played:
    exit_code: int
    states: list[dict[str, Any]]
    log: str
    #: The run ended by itself (not killed).
    ended: bool = True
    summary: dict[str, Any] | None = field(default=None)

    def last_lines(self, count: int = 2) -> str:
        """The run's error lines (or its last lines): what it said went wrong."""
        lines = [line for line in self.log.splitlines() if line.strip()]
        errors = [line for line in lines if "ERROR" in line or "CRITICAL" in line]
        return " | ".join(line.strip()[:300] for line in (errors or lines)[-count:])


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


def summary_of(log: str) -> dict[str, Any] | None:
    for line in log.splitlines():
        if "run summary: {" in line:
            return dict(json.loads(line[line.index("{"):]))
    return None


def parse_states(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def run_inprocess(config: dict[str, Any], text: str) -> Played:
    handler = _Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            try:
                code = TargetPardot(config=dict(config), validate_config=True).run(
                    io.StringIO(text))
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    log = "\n".join(handler.lines)
    return Played(int(code or 0), parse_states(out.getvalue()), log, summary=summary_of(log))


def start_process(config: dict[str, Any], text: str, workdir: Path, name: str
                  ) -> subprocess.Popen[bytes]:
    config_path = workdir / f"{name}.config.json"
    config_path.write_text(json.dumps(config))
    input_path = workdir / f"{name}.singer"
    input_path.write_text(text)
    with input_path.open("rb") as stdin, (workdir / f"{name}.stderr").open("wb") as stderr:
        return subprocess.Popen([str(BIN / "target-pardot"), "--config", str(config_path)],
                                stdin=stdin, stdout=subprocess.PIPE, stderr=stderr,
                                env=dict(os.environ))


def run_process(config: dict[str, Any], text: str, workdir: Path, *,
                kill_signal: int | None = None, after_states: int = 1) -> Played:
    """A real process; with ``kill_signal``, signalled once it wrote ``after_states``
    STATE lines (it may finish first)."""
    process = start_process(config, text, workdir, "run")
    assert process.stdout is not None
    lines: list[bytes] = []
    signalled = False
    for line in process.stdout:
        lines.append(line)
        if kill_signal is not None and not signalled and len(lines) >= after_states:
            process.send_signal(kill_signal)
            signalled = True
    code = process.wait(timeout=120)
    log = (workdir / "run.stderr").read_text(errors="replace")
    states = parse_states(b"".join(lines).decode(errors="replace"))
    ended = not signalled or kill_signal == signal.SIGTERM
    return Played(code, states, log, ended=ended and code >= 0, summary=summary_of(log))


def run_two_processes(config: dict[str, Any], texts: tuple[str, str], workdir: Path
                      ) -> list[Played]:
    """Two runs at once on one ledger file (the default location, shared)."""
    processes = [start_process(config, text, workdir, f"pair{n}")
                 for n, text in enumerate(texts)]
    played = []
    for n, process in enumerate(processes):
        out, _ = process.communicate(timeout=120)
        log = (workdir / f"pair{n}.stderr").read_text(errors="replace")
        played.append(Played(process.returncode, parse_states(out.decode(errors="replace")),
                             log, summary=summary_of(log)))
    return played
