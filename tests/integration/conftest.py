"""The fixtures every integration test module shares: one emulator per module (a clean
one for every test), in-process runs of the target, and quick import polls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import target_pardot.sinks.bulk_import as bulk_import
from pardot_emulator import PardotEmulator
from tests.helpers import Result, run_inprocess

Runner = Callable[[dict[str, Any], list[dict[str, Any]]], Result]


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[tuple[PardotEmulator, dict[str, Any]]]:
    with PardotEmulator() as emu:
        yield emu, dict(emu.state()["config"])


@pytest.fixture
def emu(shared_emulator: tuple[PardotEmulator, dict[str, Any]]) -> Iterator[PardotEmulator]:
    """A clean emulator with its default settings for every test (one server per module)."""
    emulator, defaults = shared_emulator
    emulator.configure(**defaults)
    emulator.reset()
    yield emulator
    emulator.configure(**defaults)


@pytest.fixture
def run(capsys: Any, caplog: Any) -> Runner:
    """Run the target in this process on Singer messages; returns its Result."""

    def runner(config: dict[str, Any], messages: list[dict[str, Any]]) -> Result:
        return run_inprocess(config, messages, capsys, caplog)

    return runner


@pytest.fixture
def run_ok(run: Runner) -> Runner:
    """Like ``run``, and the test fails unless the run exits 0."""

    def runner(config: dict[str, Any], messages: list[dict[str, Any]]) -> Result:
        result = run(config, messages)
        assert result.exit_code == 0, result.stderr[-3000:]
        return result

    return runner


@pytest.fixture
def quick_import_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first poll of an import after 0.02 s instead of 0.25 s, doubling from there:
    import tests do not wait on the product's pace."""
    monkeypatch.setattr(bulk_import, "IMPORT_FIRST_POLL_SECONDS", 0.02)
