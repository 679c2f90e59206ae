"""The invariants, checked against the emulator's own state after every step.

1. Every key the streams named exists exactly once, with the last value the stream gave
   it (by the account's matching rules).
2. No prospect or membership the streams did not name has changed.
3. No STATE was emitted for a row that had not reached Pardot.
4. The run summary's counts equal what the emulator saw.
5. The exit code says what happened (0 only when every row was delivered or rejected
   with a reason).
6. No secret and no access token appears in the run's output (stderr, STATE).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.simulation.model import Model, Prospect, StepEffect


@dataclass(frozen=True)
class Violation:
    invariant: int
    step: int
    message: str

    def __str__(self) -> str:
        return f"invariant {self.invariant}, step {self.step}: {self.message}"


def norm(value: Any) -> Any:
    """Values as Pardot shows them, whatever the API: text, with empty meaning none."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def identity(model: Model, fields: dict[str, Any]) -> tuple[str, Any]:
    if fields.get("crm_fid"):
        return ("fid", fields["crm_fid"])
    email = fields.get("email")
    return ("email", model.email_key(email) if email is not None else None)


@dataclass
class Snapshot:
    prospects: dict[int, dict[str, Any]]
    memberships: set[tuple[int, int]]

    @classmethod
    def of(cls, emu: Any) -> Snapshot:
        return cls({p["id"]: p for p in emu.prospects()},
                   {(m["list_id"], m["prospect_id"]) for m in emu.memberships()})


class Checker:
    """Compares the model with the emulator; learns the ids of prospects the run made."""

    def __init__(self, model: Model, step: int) -> None:
        self.model, self.step = model, step
        self.violations: list[Violation] = []

    def fail(self, invariant: int, message: str) -> None:
        self.violations.append(Violation(invariant, self.step, message))

    def compare(self, now: Snapshot, before: Snapshot, effect: StepEffect,
                only: set[int] | None = None,
                only_pairs: set[tuple[int, int]] | None = None) -> list[Violation]:
        """Invariants 1 and 2 (or, with ``only``, invariant 3 on those prospects)."""
        invariant_named = 3 if only is not None else 1
        new = {p.mid for p in self.model.prospects.values() if p.pardot_id is None}
        seen = self.match_new(now, only, invariant_named)
        for prospect in self.model.prospects.values():
            if (only is not None and prospect.mid not in only) or prospect.mid in new:
                continue
            named = prospect.mid in effect.touched
            if prospect.pardot_id is None:
                continue
            found = now.prospects.get(prospect.pardot_id)
            if found is None:
                self.fail(invariant_named if named else 2,
                          f"prospect {prospect.pardot_id} ({prospect.fields.get('email')}) "
                          "is missing")
                continue
            if named or only is not None:
                self.compare_fields(prospect, found, invariant_named)
            elif found != before.prospects.get(prospect.pardot_id):
                self.fail(2, f"prospect {prospect.pardot_id} changed though no row named it: "
                          + diff(before.prospects.get(prospect.pardot_id) or {}, found))
        if only is None:
            known = seen | {p.pardot_id for p in self.model.prospects.values()}
            for pid in sorted(set(now.prospects) - known):
                self.fail(2, f"prospect {pid} ({now.prospects[pid].get('email')}) exists but "
                          "no row or seed made it")
        self.compare_memberships(now, effect, only_pairs, invariant_named)
        return self.violations

    def match_new(self, now: Snapshot, only: set[int] | None, invariant: int) -> set[int]:
        """Find each prospect the streams created, by its key; each key exactly once."""
        seeded_ids = {p.pardot_id for p in self.model.prospects.values()
                      if p.pardot_id is not None}
        candidates: dict[tuple[str, Any], list[int]] = defaultdict(list)
        for pid, record in now.prospects.items():
            if pid not in seeded_ids:
                candidates[identity(self.model, record)].append(pid)
        wanted: dict[tuple[str, Any], list[Prospect]] = defaultdict(list)
        for prospect in self.model.prospects.values():
            if prospect.pardot_id is None:
                wanted[identity(self.model, prospect.fields)].append(prospect)
        seen: set[int] = set()
        for key, prospects in wanted.items():
            found = candidates.get(key, [])
            seen.update(found)
            if only is not None and not any(p.mid in only for p in prospects):
                continue
            if len(found) != len(prospects):
                self.fail(invariant, f"{key[0]} {key[1]!r} is held by {len(found)} prospects "
                          f"{sorted(found)}, expected {len(prospects)}")
                continue
            for prospect, pid in zip(prospects, sorted(found), strict=True):
                if len(prospects) == 1:
                    prospect.pardot_id = pid
                self.compare_fields(prospect, now.prospects[pid], invariant)
        return seen

    def compare_fields(self, prospect: Prospect, record: dict[str, Any], invariant: int
                       ) -> None:
        wrong = [f"{name}: {record.get(name)!r} (expected {value!r})"
                 for name, value in prospect.fields.items()
                 if norm(record.get(name)) != norm(value)]
        if wrong:
            self.fail(invariant, f"prospect {record['id']} ({record.get('email')}) holds "
                      + "; ".join(wrong))

    def compare_memberships(self, now: Snapshot, effect: StepEffect,
                            only_pairs: set[tuple[int, int]] | None, invariant: int) -> None:
        ids = {p.mid: p.pardot_id for p in self.model.prospects.values()}
        expected = {(list_id, ids[mid]) for list_id, mid in self.model.memberships}
        named = {(list_id, ids[mid]) for list_id, mid in effect.touched_pairs}
        if only_pairs is not None:
            scope = {(list_id, ids[mid]) for list_id, mid in only_pairs}
            expected, actual = expected & scope, now.memberships & scope
        else:
            actual = now.memberships
        for pair in sorted(expected - actual, key=str):
            self.fail(invariant if pair in named else 2,
                      f"membership list {pair[0]} / prospect {pair[1]} is missing")
        for pair in sorted(actual - expected, key=str):
            self.fail(invariant if pair in named else 2,
                      f"membership list {pair[0]} / prospect {pair[1]} should not exist")


def diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    names = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    return ", ".join(f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in names[:6])


def check_summary(summary: dict[str, Any] | None, *, records: int | None, calls: int,
                  rejected: int | None, step: int) -> list[Violation]:
    """Invariant 4: the summary of a run that ended by itself."""
    if summary is None:
        return [Violation(4, step, "the run wrote no summary")]
    found = []
    for name, seen in (("rows_received", records), ("api_calls", calls),
                       ("rows_rejected", rejected)):
        if seen is not None and summary.get(name) != seen:
            found.append(Violation(4, step, f"summary {name} = {summary.get(name)}, "
                                   f"the emulator saw {seen}"))
    return found


def check_states(states: Iterable[dict[str, Any]], step: int, total: int) -> int:
    """The last row a run's STATE output vouches for (0 when none)."""
    upto = 0
    for state in states:
        marker = state.get("sim", {})
        if marker.get("step") == step:
            upto = max(upto, int(marker.get("upto", 0)))
    return min(upto, total)
