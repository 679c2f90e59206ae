"""The wheel users install holds every module of the product and of the emulator, its
py.typed marker and console scripts, and nothing of the tests or benchmarks.

The wheel is built here, offline, with the build backend from the test extras
(`python -m build --no-isolation`), exactly as `make dist` builds it.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # the build frontend in the test extras brings tomli to Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                    "--outdir", str(out), str(REPO)],
                   check=True, capture_output=True, text=True)  # fmt: skip
    [path] = out.glob("*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def top_packages() -> list[str]:
    return list(PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])


def source_files(package: str) -> set[str]:
    root = REPO / package
    return {p.relative_to(REPO).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def entry_points(wheel: zipfile.ZipFile) -> dict[str, str]:
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(name).decode())
    return dict(parser["console_scripts"])


def test_every_file_of_every_package_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for package in top_packages():
        missing = source_files(package) - names
        assert not missing, f"{package}: not in the wheel: {sorted(missing)}"
        assert f"{package}/__init__.py" in names


def test_the_wheel_ships_type_information(wheel: zipfile.ZipFile) -> None:
    assert "target_pardot/py.typed" in wheel.namelist()


def test_every_console_script_points_into_the_wheel(wheel: zipfile.ZipFile) -> None:
    scripts = entry_points(wheel)
    assert set(scripts) == {"target-pardot", "target-pardot-login", "pardot-emulator"}
    names = set(wheel.namelist())
    for target in scripts.values():
        module = target.split(":")[0]
        as_path = module.replace(".", "/")
        assert f"{as_path}.py" in names or f"{as_path}/__init__.py" in names, target
    emulator_package = scripts["pardot-emulator"].split(".")[0]
    assert any(n.startswith(f"{emulator_package}/") for n in names)


def test_no_tests_benchmarks_or_scripts_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    allowed = tuple(f"{p}/" for p in top_packages())
    strays = [n for n in wheel.namelist()
              if not n.startswith(allowed) and ".dist-info/" not in n]
    assert strays == []
    assert not [n for n in wheel.namelist() if "/tests/" in n or n.startswith("tests/")
                or "conftest" in n or "/test_" in n]


def test_the_version_comes_from_pyproject(wheel: zipfile.ZipFile) -> None:
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = wheel.read(name).decode()
    assert f"\nVersion: {PYPROJECT['project']['version']}\n" in metadata
