"""What an account answered in earlier runs: its v3/v4 API version, so that a run on
`api_version: auto` spends no call finding it again (a refused call and a log line on
every run otherwise). Kept in a small JSON file beside the ledger, keyed by
`pardot_domain` and business unit. Only a hint: a later error 88 or 89 still switches
the run, and a file that cannot be read or written changes nothing."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from target_pardot.run.ledger import default_ledger_path
from target_pardot.settings import Settings

FILE_NAME = "api-versions.json"


def memory_path(settings: Settings) -> Path:
    if settings.ledger_path:
        return Path(settings.ledger_path).expanduser().parent / FILE_NAME
    return default_ledger_path(settings.business_unit).parent / FILE_NAME


def account_key(settings: Settings) -> str:
    return f"{settings.pardot_domain} {settings.business_unit}"


def _read(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recall_version(settings: Settings) -> int | None:
    version = _read(memory_path(settings)).get(account_key(settings))
    return version if version in (3, 4) else None


def store_version(settings: Settings, version: int) -> None:
    path = memory_path(settings)
    data = _read(path)
    if data.get(account_key(settings)) == version:
        return
    data[account_key(settings)] = version
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.replace(partial, path)
