"""Combinations today's product code is known to get wrong, each with the seed that
shows it. While a defect is open, the ordinary sweep leaves its feature switch off and
its seed is an expected failure (strict: once fixed, the test passes, pytest reports it
as a failure, and the entry must move to FIXED, where its seed stays a regression case)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.simulation.generator import ALL_FEATURES


@dataclass(frozen=True)
class KnownDefect:
    feature: str
    seed: int
    reason: str


OPEN: tuple[KnownDefect, ...] = ()
FIXED: tuple[KnownDefect, ...] = ()


def sweep_features() -> frozenset[str]:
    """The switches the ordinary sweep turns on: every feature whose defect is fixed."""
    return ALL_FEATURES - {d.feature for d in OPEN}
