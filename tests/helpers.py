"""Build Singer streams and run the target: in this process (``run_inprocess`` on a
target object, ``run_cli_inprocess`` on its command line) or as a real process
(``run_cli``, for tests whose subject is the process: signals, pipes, crashes, the
environment)."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from singer_sdk.logging import ConsoleFormatter

from target_pardot.redact import REDACTOR
from target_pardot.target import TargetPardot

BIN = Path(sys.executable).parent

PROSPECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": ["integer", "null"]},
        "fid": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]},
        "company": {"type": ["string", "null"]},
        "city": {"type": ["string", "null"]},
        "score": {"type": ["integer", "null"]},
        "comments": {"type": ["string", "null"]},
    },
}
MEMBERSHIP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "list_id": {"type": ["integer", "string"]},
        "prospect_id": {"type": ["integer", "string"]},
        "opted_out": {"type": ["boolean", "null"]},
    },
    "required": ["list_id", "prospect_id"],
}


def schema_message(
    stream: str, schema: Mapping[str, Any] | None = None, key_properties: list[str] | None = None
) -> dict[str, Any]:
    if schema is None:
        schema = MEMBERSHIP_SCHEMA if stream == "list_memberships" else PROSPECT_SCHEMA
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": schema,
        "key_properties": key_properties or [],
    }


def record_message(stream: str, record: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": dict(record)}


def state_message(value: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "STATE", "value": dict(value)}


def stream_of(
    stream: str,
    records: Iterable[Mapping[str, Any]],
    *,
    schema: Mapping[str, Any] | None = None,
    final_state: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    messages = [schema_message(stream, schema)]
    messages += [record_message(stream, r) for r in records]
    if final_state is not None:
        messages.append(state_message(final_state))
    return messages


def to_lines(messages: Iterable[Mapping[str, Any] | str]) -> str:
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


#: The emulator's faults that a retry gets past: server errors, error 183, dropped
#: connections (not "slow", which only a timeout turns into a failure).
TRANSIENT_FAULTS = ["http500", "http503", "code183", "drop"]


def with_transient_faults(emu: Any, rate: float, *, seed: int, **settings: Any) -> None:
    """Make the emulator fail ``rate`` of its calls with transient faults, repeatably."""
    emu.configure(fault_rate=rate, fault_kinds=TRANSIENT_FAULTS, seed=seed, **settings)


def base_config(emu: Any, **overrides: Any) -> dict[str, Any]:
    config = {
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "refresh_token": emu.refresh_token,
        "login_url": emu.url,
        "pardot_domain": emu.url,
        "business_unit": emu.business_unit,
        "initial_retry_wait": 0.01,
        "maximum_retry_wait": 0.05,
        "maximum_connection_timeout": 10,
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    states: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        for line in self.stderr.splitlines():
            if "run summary: {" in line:
                return json.loads(line[line.index("{") :])
        raise AssertionError(f"no run summary in stderr:\n{self.stderr[-3000:]}")


def log_lines(stderr: str) -> list[str]:
    """stderr without the run summary, whose outcome repeats a failure's reason: the lines
    a test counts when it checks that something is said once."""
    lines = stderr.splitlines()
    kept, in_table = [], False
    for line in lines:
        if "run summary: {" in line:
            in_table = True
            continue
        if in_table and (not line.strip() or line.startswith("  ")):
            continue
        in_table = False
        kept.append(line)
    return kept


def parse_states(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line must be a STATE value; anything else fails the test."""
    states = []
    for line in stdout.splitlines():
        if line.strip():
            states.append(json.loads(line))
    return states


def run_inprocess(
    config: Mapping[str, Any], messages: Iterable[Any], capsys: Any, caplog: Any
) -> Result:
    """Run the target in this process at DEBUG level; fail if any secret reached the logs."""
    caplog.clear()
    capsys.readouterr()
    caplog.set_level("DEBUG")
    with restored_signal_handlers():
        target = TargetPardot(config=dict(config), validate_config=True)
        code = target.run(io.StringIO(to_lines(messages)))
    captured = capsys.readouterr()
    result = Result(code, captured.out, caplog.text, parse_states(captured.out))
    secrets = [config.get("client_secret"), config.get("refresh_token"), *REDACTOR.known()]
    for secret in filter(None, secrets):
        assert str(secret) not in result.stdout + result.stderr + captured.err
    return result


def write_config(config: Mapping[str, Any] | Path, tmp_path: Path) -> Path:
    """A config object as ``tmp_path/config.json``; a path is used as it is."""
    if isinstance(config, Path):
        return config
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(dict(config)))
    return config_path


def input_bytes(messages: Iterable[Any] | str | bytes) -> bytes:
    if isinstance(messages, bytes):
        return messages
    return (messages if isinstance(messages, str) else to_lines(messages)).encode()


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record comes: the CliRunner's while the
    command runs, so log lines and prints keep their order in one stderr text."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


@contextmanager
def restored_signal_handlers() -> Iterator[None]:
    """A target installs its SIGINT and SIGTERM handlers (which end the process): put
    back the test process's own once the target has run."""
    old_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in old_signals.items():
            signal.signal(signum, old)


@contextmanager
def _console_logging(level: str) -> Iterator[None]:
    """What the real command line sets up before it runs: a root handler on stderr, at
    TARGET_PARDOT_LOGLEVEL; undone afterwards, so that nothing of one run stays."""
    root = logging.getLogger()
    handler = _CurrentStderrHandler()
    handler.setFormatter(ConsoleFormatter())
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def run_cli_inprocess(
    config: Mapping[str, Any] | Path,
    messages: Iterable[Any] | str | bytes,
    tmp_path: Path,
    *,
    env: Mapping[str, str] | None = None,
) -> Result:
    """``target-pardot --config FILE`` in this process (click's CliRunner): the same
    exit code, stdout and stderr as ``run_cli`` without the cost of a process. An
    exception that would have ended the process shows as its traceback on stderr."""
    config_path = write_config(config, tmp_path)
    env = dict(env or {})
    level = env.get("TARGET_PARDOT_LOGLEVEL") or os.environ.get("TARGET_PARDOT_LOGLEVEL")
    with restored_signal_handlers(), _console_logging((level or "INFO").upper()):
        outcome = CliRunner().invoke(
            TargetPardot.get_singer_command(),
            ["--config", str(config_path)],
            input=input_bytes(messages),
            env=env,
            catch_exceptions=True,
        )
    stderr = outcome.stderr
    crash = outcome.exception
    if crash is not None and not isinstance(crash, SystemExit):
        stderr += "".join(traceback.format_exception(type(crash), crash, crash.__traceback__))
    return Result(outcome.exit_code, outcome.stdout, stderr, parse_states(outcome.stdout))


def run_cli(
    config: Mapping[str, Any] | Path,
    messages: Iterable[Any] | str | bytes,
    tmp_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    """``target-pardot --config FILE`` as a real process."""
    config_path = write_config(config, tmp_path)
    completed = subprocess.run(
        [str(BIN / "target-pardot"), "--config", str(config_path)],
        input=input_bytes(messages),
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    stdout = completed.stdout.decode(errors="replace")
    return Result(
        completed.returncode,
        stdout,
        completed.stderr.decode(errors="replace"),
        parse_states(stdout),
    )


def assert_no_secrets(result: Result, config: Mapping[str, Any], emu: Any, *files: Path) -> None:
    """No configured secret and no issued access token in any output of the run."""
    secrets = [
        str(config.get("client_secret", "")),
        str(config.get("refresh_token", "")),
        *emu.issued_tokens(),
    ]
    texts = [result.stdout, result.stderr] + [f.read_text() for f in files if f.exists()]
    for secret in filter(None, secrets):
        for text in texts:
            assert secret not in text
    assert emu.counters()["token_in_url_violations"] == 0


def stream_with_states(
    records: Iterable[Mapping[str, Any]],
    every: int,
    *,
    start: int = 0,
    stream: str = "prospects",
) -> list[dict[str, Any]]:
    """SCHEMA, then ``records`` with a STATE ``{"upto": n}`` after every ``every``-th row.
    ``n`` counts the rows of the whole input: a stream that resumes after ``start`` rows
    (``records`` holds the rest) goes on with the numbers of the first."""
    messages = [schema_message(stream)]
    for offset, record in enumerate(records, start=start + 1):
        messages.append(record_message(stream, record))
        if offset % every == 0:
            messages.append(state_message({"upto": offset}))
    return messages


# -- real processes: for tests whose subject is the process itself --------------------


def start_target(
    config: Mapping[str, Any] | Path,
    tmp_path: Path,
    *,
    messages: Iterable[Any] | str | bytes | None = None,
    stdout: Any = subprocess.PIPE,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``target-pardot --config FILE`` as a real process, still running. stdin reads
    ``messages`` from a file, or is a pipe for the test to write to when they are None;
    stderr goes to ``tmp_path/stderr.log`` (a pipe nobody reads would fill up and block
    the target)."""
    config_path = write_config(config, tmp_path)
    stdin: Any = subprocess.PIPE
    if messages is not None:
        input_path = tmp_path / "input.singer"
        input_path.write_bytes(input_bytes(messages))
        stdin = input_path.open("rb")
    with (tmp_path / "stderr.log").open("wb") as stderr:
        try:
            return subprocess.Popen(
                [str(BIN / "target-pardot"), "--config", str(config_path)],
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env={**os.environ, **(env or {})},
            )
        finally:
            if stdin is not subprocess.PIPE:
                stdin.close()


def read_states(process: subprocess.Popen[bytes], count: int) -> list[dict[str, Any]]:
    """The next ``count`` STATE values on the process's stdout (fewer if it ends)."""
    assert process.stdout is not None
    states: list[dict[str, Any]] = []
    while len(states) < count:
        line = process.stdout.readline()
        if not line:
            break
        states.append(json.loads(line))
    return states


def kill_after_states(process: subprocess.Popen[bytes], count: int) -> list[dict[str, Any]]:
    """SIGKILL the process once it wrote ``count`` STATEs; every STATE it wrote."""
    try:
        seen = read_states(process, count)
        process.kill()
        process.wait(timeout=30)
        assert process.stdout is not None
        return seen + parse_states(process.stdout.read().decode())
    finally:
        if process.poll() is None:
            process.kill()


def feed_in_steps(
    process: subprocess.Popen[bytes], messages: Iterable[Mapping[str, Any]], pause: float
) -> threading.Thread:
    """Write ``messages`` to the process's stdin up to each STATE, ``pause`` seconds
    apart, then close it (a tap that sends as it reads): in the background, until the
    input ends or the process is gone."""
    assert process.stdin is not None
    stdin = process.stdin
    steps: list[list[Mapping[str, Any]]] = [[]]
    for message in messages:
        steps[-1].append(message)
        if message.get("type") == "STATE":
            steps.append([])

    def feed() -> None:
        try:
            for step in steps:
                stdin.write(to_lines(step).encode())
                stdin.flush()
                time.sleep(pause)
            stdin.close()
        except (OSError, ValueError):
            pass  # the process was killed: the rest of the input is not needed

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    return feeder
