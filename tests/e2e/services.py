"""The real services the end-to-end tests run: PostgreSQL, the emulator process, Meltano.

Each one is started by the test, on loopback, and stopped by it. Nothing here needs the
internet except the package registries (apt for PostgreSQL, PyPI for Meltano and the tap),
which tests/e2e/run.sh uses before pytest starts.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output, which is what one needs to debug."""
    completed = subprocess.run(
        list(argv),
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
        check=False,
    )
    if completed.returncode != 0:
        # The whole output goes to a file: Meltano's logs of a failed run are long, and the
        # cause is often far above the last lines.
        log = Path(tempfile.mkdtemp(prefix="target-pardot-e2e-failure-")) / "output.log"
        log.write_text(f"$ {' '.join(argv)}\n--- stdout\n{completed.stdout}\n"
                       f"--- stderr\n{completed.stderr}")  # fmt: skip
        raise AssertionError(
            f"{' '.join(argv)} exited {completed.returncode}; whole output in {log}\n"
            f"--- stdout\n{completed.stdout[-4000:]}\n--- stderr\n{completed.stderr[-20000:]}"
        )
    return completed


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- PostgreSQL ----------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """Debian puts the server binaries in /usr/lib/postgresql/<version>/bin, off the PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise AssertionError(
        "PostgreSQL server binaries not found: tests/e2e/run.sh installs Debian's "
        "'postgresql' package with apt-get; run the end-to-end tests with `make e2e`."
    )


class Postgres:
    """A throwaway PostgreSQL server on 127.0.0.1, in a temporary data directory.

    The server refuses to run as root, so when the tests run as root (CI does) every
    server command runs as the `postgres` user that Debian's package creates.
    """

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.user = "postgres"
        # tap-postgres insists on a password, so the server asks for one.
        self.password = secrets.token_urlsafe(16)
        self.database = "crm"
        self.root = Path(tempfile.mkdtemp(prefix="target-pardot-e2e-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.root, user="postgres", group="postgres")

    def _server_cmd(self, *argv: str) -> list[str]:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        return ["runuser", "-u", "postgres", "--", *command] if self._as_root else command

    def start(self) -> Postgres:
        pwfile = self.root / "password"
        pwfile.write_text(self.password)
        if self._as_root:
            shutil.chown(pwfile, user="postgres", group="postgres")
        run(self._server_cmd(
            "initdb", "-D", str(self.datadir), "-U", self.user, "-A", "scram-sha-256",
            f"--pwfile={pwfile}", "--no-locale", "-E", "UTF8", "--no-sync",
        ))  # fmt: skip
        pwfile.unlink()
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        run(self._server_cmd(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-o", options,
            "-w", "-t", "60", "start",
        ))  # fmt: skip
        self.psql(f"CREATE DATABASE {self.database}", database="postgres")
        return self

    def stop(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            run(self._server_cmd("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop"))
        shutil.rmtree(self.root, ignore_errors=True)

    def psql(self, sql: str, *, database: str | None = None) -> str:
        """Run SQL through psql; return its unaligned, tuples-only output."""
        completed = run(
            [
                str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                "-d", database or self.database,
            ],
            input_text=sql,
            env={"PGPASSWORD": self.password},
        )  # fmt: skip
        return completed.stdout.strip()

    def tap_config(self, **extra: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            **extra,
        }


# -- the emulator, as the `pardot-emulator` process ----------------------------------------


class EmulatorProcess:
    """`pardot-emulator` started as a process, inspected over its /_emulator endpoints."""

    def __init__(self, executable: Path, log: Path) -> None:
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [str(executable), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        # The first line on stdout is the base URL, printed once it listens.
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise AssertionError(f"pardot-emulator did not start; see {log}")
        self.settings = self.get("/_emulator/config")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as reply:
            return json.load(reply)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(dict(body or {})).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.load(reply)

    def state(self) -> dict[str, Any]:
        return dict(self.get("/_emulator/state"))

    def reset(self) -> None:
        self.post("/_emulator/reset")

    def configure(self, **settings: Any) -> dict[str, Any]:
        return dict(self.post("/_emulator/config", settings))

    def pardot(self, path: str, params: Mapping[str, Any]) -> Any:
        """One authenticated Pardot call (POST, parameters in the body), as any client makes."""
        token_request = urllib.request.Request(
            f"{self.url}/services/oauth2/token",
            data=urllib.parse.urlencode({
                "grant_type": "refresh_token", "client_id": self.settings["client_id"],
                "client_secret": self.settings["client_secret"],
                "refresh_token": self.settings["refresh_token"]}).encode(),
            method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(token_request, timeout=30) as reply:
            token = json.load(reply)["access_token"]
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=urllib.parse.urlencode({"format": "json", **params}).encode(),
            headers={"Authorization": f"Bearer {token}",
                     "Pardot-Business-Unit-Id": self.settings["business_unit"]},
            method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.load(reply)

    def target_config(self, **extra: Any) -> dict[str, Any]:
        return {
            "client_id": self.settings["client_id"],
            "client_secret": self.settings["client_secret"],
            "refresh_token": self.settings["refresh_token"],
            "business_unit": self.settings["business_unit"],
            "login_url": self.url,
            "pardot_domain": self.url,
            **extra,
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


# -- timing --------------------------------------------------------------------------------


@contextlib.contextmanager
def timed(label: str, log: list[str]) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        log.append(f"{label}: {time.monotonic() - started:.1f} s")
