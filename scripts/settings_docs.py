"""Write the README's settings table and meltano.yml's settings from the settings table.

    python scripts/settings_docs.py          # rewrite both files
    python scripts/settings_docs.py --check  # exit 1 if either is out of date

The table is target_pardot/settings_table.py; tests/unit/test_docs_agree.py runs the check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from target_pardot.settings_table import SETTINGS, meltano_setting, readme_row  # noqa: E402

README = ROOT / "README.md"
MELTANO = ROOT / "meltano.yml"
TABLE_HEAD = "| Setting | Default | Meaning |\n|---|---|---|\n"
SETTINGS_KEY = "      settings:\n"


def readme_text(text: str) -> str:
    """The README with its settings table made from the table."""
    section = text.index("## Settings")
    start = text.index(TABLE_HEAD, section) + len(TABLE_HEAD)
    end = text.index("\n\n", start) + 1
    rows = "".join(readme_row(s) + "\n" for s in SETTINGS)
    return text[:start] + rows + text[end:]


def _yaml_value(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix(
        "\n..."
    )


def meltano_text(text: str) -> str:
    """meltano.yml with the loader's settings (its last key) made from the table."""
    start = text.index(SETTINGS_KEY) + len(SETTINGS_KEY)
    lines: list[str] = []
    for setting in SETTINGS:
        entry = meltano_setting(setting)
        lines.append(f"        - name: {entry.pop('name')}")
        options = entry.pop("options", None)
        description = entry.pop("description")
        for key, value in entry.items():
            lines.append(f"          {key}: {_yaml_value(value)}")
        if options:
            lines.append("          options:")
            for option in options:
                label, value = _yaml_value(option["label"]), _yaml_value(option["value"])
                lines.append(f"            - {{label: {label}, value: {value}}}")
        lines.append(f"          description: {_yaml_value(description)}")
    return text[:start] + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift")
    args = parser.parse_args(argv)
    stale = []
    for path, render in ((README, readme_text), (MELTANO, meltano_text)):
        text = path.read_text()
        wanted = render(text)
        if wanted != text:
            stale.append(path.name)
            if not args.check:
                path.write_text(wanted)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run python scripts/settings_docs.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
