from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pardot_emulator import PardotEmulator
from tests.helpers import Result, run_inprocess


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
def run(capsys: Any, caplog: Any) -> Callable[[dict[str, Any], list[dict[str, Any]]], Result]:
    """Run the target in this process on Singer messages; returns its Result."""

    def runner(config: dict[str, Any], messages: list[dict[str, Any]]) -> Result:
        return run_inprocess(config, messages, capsys, caplog)

    return runner
