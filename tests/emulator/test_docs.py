"""docs/emulator.md (the README section) documents every flag and setting."""

from __future__ import annotations

import re
from pathlib import Path

from pardot_emulator.cli import build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"


def cli_flags() -> set[str]:
    flags: set[str] = set()
    for action in build_parser()._actions:
        flags.update(s for s in action.option_strings if s.startswith("--") and s != "--help")
    return flags


def test_every_flag_is_in_the_settings_table() -> None:
    text = DOC.read_text()
    table_flags = set(re.findall(r"^\| `(--[a-z0-9-]+)", text, flags=re.M))
    table_flags |= set(re.findall(r"` / `(--no-[a-z0-9-]+)`", text))
    assert cli_flags() == table_flags


def test_every_setting_name_is_documented() -> None:
    text = DOC.read_text()
    for action in build_parser()._actions:
        if action.dest not in ("help", "port"):
            assert f"`{action.dest}`" in text, action.dest


def test_the_example_config_uses_the_emulator_defaults() -> None:
    text = DOC.read_text()
    for value in ("emulator-client-id", "emulator-client-secret", "emulator-refresh-token",
                  "0Uv000000000001AAA"):
        assert f'"{value}"' in text
