"""The import contracts in pyproject.toml (run by `make lint`) hold, and fail on a
forbidden import: the layers, and the target and the emulator never importing each other."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BIN

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the two packages and the contracts, free to break."""
    for package in ("target_pardot", "pardot_emulator"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(module: Path, line: str) -> None:
    module.write_text(module.read_text() + f"\n{line}  # noqa\n")


def test_the_copy_keeps_every_contract(tree):
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "target_pardot/pardot/client.py",
            "import target_pardot.sinks.streams",
            "Data flows one way",
        ),
        ("target_pardot/rows/payloads.py", "import target_pardot.run.ledger", "Data flows one way"),
        ("target_pardot/run/stats.py", "import pardot_emulator", "never imports the emulator"),
        ("pardot_emulator/store.py", "import target_pardot.errors", "never imports the target"),
        ("target_pardot/settings.py", "import target_pardot.sinks.base", "shared settings"),
        (
            "target_pardot/pardot/client.py",
            "import target_pardot.settings",
            "never the settings",
        ),
        (
            "target_pardot/pardot/auth.py",
            "import target_pardot.settings_table",
            "never the settings",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tree, module, line, contract):
    add_import(tree / module, line)
    result = lint_imports(tree)
    assert result.returncode == 1
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(contract in row for row in broken), result.stdout
