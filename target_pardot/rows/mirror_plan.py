"""Mirroring a list: what to add, what to remove, and whether the guard stops removals.

Pure functions: the current members (read from Pardot) and the prospects the stream named
go in; the plan and the lines that report it come out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class ListPlan:
    """One list's mirror: members before, and the changes that make it equal the stream."""

    list_id: int
    size_before: int
    adds: frozenset[int]
    removes: frozenset[int]
    unchanged: int
    max_removal_percent: float
    #: Opted-out members the stream does not name: kept, since deleting an opted-out
    #: membership could lose the opt-out (a guess: see docs/wire-contract.md).
    kept_opted_out: frozenset[int] = frozenset()

    @property
    def removal_percent(self) -> float:
        return 100.0 * len(self.removes) / self.size_before if self.size_before else 0.0

    @property
    def guard_stops_removals(self) -> bool:
        """True when the removals would take more than the allowed share of the list."""
        return bool(self.removes) and self.removal_percent > self.max_removal_percent


def plan_list(
    list_id: int,
    named: Collection[int],
    current: Collection[int],
    *,
    max_removal_percent: float,
    opted_out: Collection[int] = (),
) -> ListPlan:
    """``opted_out``: the current members who opted out; never removed."""
    named_set, current_set = frozenset(named), frozenset(current)
    leaving = current_set - named_set
    kept = leaving & frozenset(opted_out)
    return ListPlan(
        list_id=list_id,
        size_before=len(current_set),
        adds=named_set - current_set,
        removes=leaving - kept,
        unchanged=len(named_set & current_set),
        max_removal_percent=max_removal_percent,
        kept_opted_out=kept,
    )


def opted_out_line(plan: ListPlan) -> str:
    """The report of the opted-out members a mirror keeps."""
    examples = ", ".join(map(str, sorted(plan.kept_opted_out)[:5]))
    more = ", ..." if len(plan.kept_opted_out) > 5 else ""
    return (
        f"Mirror of list {plan.list_id}: {len(plan.kept_opted_out)} members not in the "
        f"stream opted out of the list (prospects {examples}{more}); they stay on it, opted "
        "out: deleting an opted-out membership could lose the opt-out."
    )


def guard_message(plan: ListPlan) -> str:
    """The one-line error of a list whose removals the guard stopped."""
    return (
        f"Mirror of list {plan.list_id}: {len(plan.removes)} of its {plan.size_before} "
        f"members ({plan.removal_percent:.1f}%) are not in the stream, more than "
        f"mirror_max_removal_percent ({plan.max_removal_percent:g}%); none was removed "
        f"({len(plan.adds)} added). Check that the stream holds the whole segment, or raise "
        "mirror_max_removal_percent for this run."
    )


def dry_run_line(plan: ListPlan, *, members_known: bool = True) -> str:
    if not members_known:
        return (
            f"Dry run, mirror of list {plan.list_id}: {len(plan.adds)} prospects named; the "
            "current members are not read offline, so adds and removals are unknown."
        )
    verdict = (
        f"the guard would stop the removals ({plan.removal_percent:.1f}% > "
        f"{plan.max_removal_percent:g}%)"
        if plan.guard_stops_removals
        else f"within the guard ({plan.removal_percent:.1f}% <= {plan.max_removal_percent:g}%)"
    )
    kept = f", keep {len(plan.kept_opted_out)} opted out" if plan.kept_opted_out else ""
    return (
        f"Dry run, mirror of list {plan.list_id}: {plan.size_before} members now; would add "
        f"{len(plan.adds)}, remove {len(plan.removes)}, keep {plan.unchanged}{kept}; "
        f"{verdict}."
    )
