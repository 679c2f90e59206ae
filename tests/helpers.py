"""Build Singer streams and run the target, in-process or as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    target = TargetPardot(config=dict(config), validate_config=True)
    code = target.run(io.StringIO(to_lines(messages)))
    captured = capsys.readouterr()
    result = Result(code, captured.out, caplog.text, parse_states(captured.out))
    secrets = [config.get("client_secret"), config.get("refresh_token"), *REDACTOR.known()]
    for secret in filter(None, secrets):
        assert str(secret) not in result.stdout + result.stderr + captured.err
    return result


def run_cli(
    config: Mapping[str, Any] | Path,
    messages: Iterable[Any] | str | bytes,
    tmp_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    if isinstance(config, Path):
        config_path = config
    else:
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(dict(config)))
    if isinstance(messages, bytes):
        data = messages
    else:
        data = (messages if isinstance(messages, str) else to_lines(messages)).encode()
    completed = subprocess.run(
        [str(BIN / "target-pardot"), "--config", str(config_path)],
        input=data,
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
