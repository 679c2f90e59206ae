from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pardot_emulator import PardotEmulator


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
