"""The real `tap-pardot` from PyPI, in its own virtualenv, pointed at the emulator.

tests/e2e/run.sh installs tap-pardot==1.4.9 (the newest on PyPI) into .venv-tap-pardot,
next to Meltano's .venv-e2e: its exact pins (singer-python 5.13.2, requests, backoff 1.x)
must not meet ours. tap_pardot_local.py points its two hard-coded hosts at the emulator.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.e2e.services import REPO, EmulatorProcess, run

TAP_PARDOT_VERSION = "1.4.9"
LAUNCHER = Path(__file__).with_name("tap_pardot_local.py")


def tap_python() -> Path:
    path = Path(os.environ.get("E2E_TAP_PARDOT_PYTHON",
                               REPO / ".venv-tap-pardot" / "bin" / "python"))
    if not path.exists():
        raise AssertionError(
            f"tap-pardot's Python not found at {path}: tests/e2e/run.sh installs "
            f"tap-pardot=={TAP_PARDOT_VERSION} into .venv-tap-pardot; run `make e2e`."
        )
    return path


def select_streams(catalog: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The catalog with only these streams, each selected as a whole."""
    wanted = set(names)
    streams = [s for s in catalog["streams"] if s["tap_stream_id"] in wanted]
    for stream in streams:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    return {"streams": streams}


def records_by_stream(stdout: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for line in stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            out.setdefault(message["stream"], []).append(message["record"])
    return out


class TapPardot:
    """`tap-pardot --discover` and a sync, against one emulator, from a work directory."""

    def __init__(self, emulator: EmulatorProcess, workdir: Path, start_date: str) -> None:
        self.python = tap_python()
        self.url = emulator.url
        self.workdir = workdir
        settings = emulator.settings
        self.config = workdir / "tap-pardot.json"
        self.config.write_text(json.dumps({
            "client_id": settings["client_id"],
            "client_secret": settings["client_secret"],
            "refresh_token": settings["refresh_token"],
            "pardot_business_unit_id": settings["business_unit"],
            "start_date": start_date,
        }))  # fmt: skip

    def _run(self, *args: str) -> str:
        argv = [str(self.python), str(LAUNCHER), self.url, "--config", str(self.config), *args]
        return run(argv, cwd=self.workdir, timeout=600).stdout

    def discover(self) -> dict[str, Any]:
        return dict(json.loads(self._run("--discover")))

    def sync(self, catalog: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        path = self.workdir / "catalog.json"
        path.write_text(json.dumps(catalog))
        return records_by_stream(self._run("--catalog", str(path)))
