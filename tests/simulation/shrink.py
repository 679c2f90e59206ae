"""Make a failing case smaller: fewer steps, fewer rows per step, while it still fails.

A cut is two numbers a command line can carry (``--steps 0,3 --max-rows 12``), so the
smallest failing case replays exactly like the seed itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from tests.simulation.scenario import Scenario


@dataclasses.dataclass(frozen=True)
class Cut:
    steps: tuple[int, ...] | None = None
    max_rows: int | None = None

    def apply(self, scenario: Scenario) -> Scenario:
        steps = [dataclasses.replace(step) for step in scenario.steps]
        if self.steps is not None:
            steps = [steps[i] for i in self.steps if i < len(steps)]
        if self.max_rows is not None:
            for step in steps:
                step.rows = step.rows[: self.max_rows]
                step.invalid_rows = frozenset(p for p in step.invalid_rows
                                              if p < self.max_rows)
        return dataclasses.replace(scenario, steps=steps)

    def options(self) -> str:
        parts = []
        if self.steps is not None:
            parts.append(f"--steps {','.join(map(str, self.steps))}")
        if self.max_rows is not None:
            parts.append(f"--max-rows {self.max_rows}")
        return " ".join(parts)


def shrink(scenario: Scenario, fails: Callable[[Scenario], bool]) -> Cut:
    """The smallest cut found greedily: drop steps one at a time (restarts and edits
    too), then halve the rows of every step, keeping each change that still fails
    (``fails`` decides what counts: the runner's CLI asks for the same invariant)."""
    kept = list(range(len(scenario.steps)))
    for index in reversed(range(len(scenario.steps))):
        trial = [i for i in kept if i != index]
        if trial and fails(Cut(tuple(trial)).apply(scenario)):
            kept = trial
    longest = max((len(scenario.steps[i].rows) for i in kept), default=0)
    best = Cut(tuple(kept))
    for limit in halvings(longest):
        cut = Cut(tuple(kept), limit)
        if not fails(cut.apply(scenario)):
            break
        best = cut
    return best


def halvings(longest: int) -> Sequence[int]:
    limits = []
    limit = longest // 2
    while limit >= 1:
        limits.append(limit)
        limit //= 2
    return limits
