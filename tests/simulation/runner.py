"""Plays a scenario against the emulator and checks the invariants after every step."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pardot_emulator import PardotEmulator
from tests.simulation.invariants import (
    Checker,
    Snapshot,
    Violation,
    check_states,
    check_summary,
)
from tests.simulation.model import Model, StepEffect
from tests.simulation.playback import Played, run_inprocess, run_process, run_two_processes
from tests.simulation.scenario import (
    CUSTOM_FIELDS,
    DAILY_LIMIT,
    SHARED_LEDGER,
    SIGKILL,
    SIGTERM,
    Account,
    PreRef,
    Scenario,
    Step,
)
from tests.simulation.streams import shape_rows, singer_text, split_by_identity

MAX_RESUMES = 4
#: Exit codes a run may end with when the daily limit stops it, or it finishes first.
DAILY_LIMIT_EXITS = (0, 3)


@dataclass
class Coverage:
    scenarios: int = 0
    steps: int = 0
    rows: int = 0
    faults: int = 0
    restarts: int = 0
    kills: int = 0
    resumes: int = 0
    daily_limit_stops: int = 0
    shared_ledger_pairs: int = 0
    edits: int = 0

    def add(self, other: Coverage) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self) -> str:
        return ", ".join(f"{name.replace('_', ' ')} {getattr(self, name)}"
                         for name in self.__dataclass_fields__)


@dataclass
class Outcome:
    scenario: Scenario
    violations: list[Violation]
    coverage: Coverage
    steps_played: list[str] = field(default_factory=list)


def connection_settings(emu: PardotEmulator) -> dict[str, Any]:
    return {
        "client_id": emu.client_id, "client_secret": emu.client_secret,
        "refresh_token": emu.refresh_token, "login_url": emu.url, "pardot_domain": emu.url,
        "business_unit": emu.business_unit, "initial_retry_wait": 0.01,
        "maximum_retry_wait": 0.05, "maximum_connection_timeout": 10,
        "progress_interval_seconds": 0,
    }


class Runner:
    """Plays scenarios on one emulator; each scenario gets a fresh account and cache."""

    def __init__(self, emu: PardotEmulator, workdir: Path) -> None:
        self.emu, self.workdir = emu, workdir
        self.defaults = dict(emu.state()["config"])

    def play(self, scenario: Scenario) -> Outcome:
        cache = self.workdir / f"cache-{scenario.seed}"
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        previous = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = str(cache)
        try:
            return self._play(scenario)
        finally:
            if previous is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = previous

    def _play(self, scenario: Scenario) -> Outcome:
        emu, account = self.emu, scenario.account
        emu.configure(**{**self.defaults, "ampsea": account.ampsea,
                         "v3_email_case_insensitive": account.v3_case_insensitive,
                         "custom_fields": list(CUSTOM_FIELDS), "seed": scenario.seed})
        emu.reset()
        coverage = Coverage(scenarios=1)
        outcome = Outcome(scenario, [], coverage)
        ids = self.seed_account(account)
        model = Model(account, ids)
        for index, step in enumerate(scenario.steps):
            outcome.steps_played.append(f"step {index}: {step.describe()}")
            if step.action == "restart":
                assert step.account is not None
                coverage.faults += faults_so_far(emu)  # a reset clears the counters
                emu.reset()
                ids = self.seed_account(step.account)
                model = Model(step.account, ids)
                coverage.restarts += 1
                continue
            if step.action == "edit":
                assert step.edit is not None
                ref, change = step.edit
                emu.edit_prospect(ids[ref.index], **change)
                model.edit(ids[ref.index], change)
                coverage.edits += 1
                continue
            model, violations = self.run_step(index, step, model, ids, coverage)
            coverage.steps += 1
            if violations:
                outcome.violations = violations
                break
        coverage.faults += faults_so_far(emu)
        emu.configure(**self.defaults)
        return outcome

    def seed_account(self, account: Account) -> list[int]:
        ids = [self.emu.add_prospect(email=s.email, crm_fid=s.fid, **s.fields)
               for s in account.seeded]
        for list_id, index in account.seeded_memberships:
            self.emu.add_membership(list_id, ids[index])
        return ids

    # ------------------------------------------------------------------ one step

    def run_step(self, index: int, step: Step, model: Model, ids: list[int],
                 coverage: Coverage) -> tuple[Model, list[Violation]]:
        emu = self.emu
        rows = shape_rows(step, [resolve(row, ids) for row in step.rows])
        before = Snapshot.of(emu)
        expected = model.copy()
        effect = expected.apply_step(step.stream, rows, step.settings, step.invalid_rows)
        config = {**connection_settings(emu), **step.settings}
        emu.configure(**step.faults.emulator_settings())
        violations: list[Violation] = []
        if step.lifecycle == SHARED_LEDGER:
            violations += self.play_pair(index, step, rows, config, coverage)
        else:
            violations += self.play_with_resumes(index, step, rows, config, model, before,
                                                 effect, coverage)
        emu.configure(fault_rate=0, applied_but_lost_rate=0, token_lifetime_calls=None,
                      reserved_slots=0, latency_ms=0, daily_limit=None)
        violations += Checker(expected, index).compare(Snapshot.of(emu), before, effect)
        return expected, violations

    def play_with_resumes(self, index: int, step: Step, rows: list[dict[str, Any]],
                          config: dict[str, Any], model: Model, before: Snapshot,
                          effect: StepEffect, coverage: Coverage) -> list[Violation]:
        emu, violations = self.emu, []
        start, lifecycle = 0, step.lifecycle
        kill_after = random.Random(f"{index}:{len(rows)}").randint(1, 3)
        for _ in range(MAX_RESUMES + 1):
            text = singer_text(step, rows, start, index)
            calls_before = emu.counters()["calls_total"]
            if lifecycle == DAILY_LIMIT:
                used = emu.counters()["daily_calls_used"]
                emu.configure(daily_limit=used + random.Random(index).randint(2, 8))
            played = self.play_once(lifecycle, config, text, kill_after)
            coverage.rows += len(rows) - start
            calls = emu.counters()["calls_total"] - calls_before
            upto = check_states(played.states, index, len(rows))
            violations += self.check_attempt(index, step, rows, start, upto, played, calls,
                                             lifecycle, model, before, effect)
            if violations or played.exit_code == 0 or played.exit_code == effect.expected_exit:
                return violations
            coverage.kills += lifecycle in (SIGKILL, SIGTERM)
            coverage.daily_limit_stops += lifecycle == DAILY_LIMIT
            if lifecycle == DAILY_LIMIT:
                emu.new_day()
                emu.configure(daily_limit=None)
            # An orchestrator sends again what follows the last STATE it saw.
            start, lifecycle = max(start, upto), "inprocess"
            coverage.resumes += 1
        return [*violations, Violation(5, index, f"still failing after {MAX_RESUMES} resumes")]

    def play_once(self, lifecycle: str, config: dict[str, Any], text: str, kill_after: int
                  ) -> Played:
        if lifecycle in (SIGKILL, SIGTERM):
            sig = signal.SIGKILL if lifecycle == SIGKILL else signal.SIGTERM
            return run_process(config, text, self.workdir, kill_signal=sig,
                               after_states=kill_after)
        return run_inprocess(config, text)

    def check_attempt(self, index: int, step: Step, rows: list[dict[str, Any]], start: int,
                      upto: int, played: Played, calls: int, lifecycle: str, model: Model,
                      before: Snapshot, effect: StepEffect) -> list[Violation]:
        found: list[Violation] = []
        killed = lifecycle in (SIGKILL, SIGTERM)
        allowed = ((*DAILY_LIMIT_EXITS, effect.expected_exit) if lifecycle == DAILY_LIMIT
                   else (played.exit_code,) if killed and played.exit_code != 0
                   else (effect.expected_exit,))
        if played.exit_code not in allowed:
            found.append(Violation(5, index, f"exit code {played.exit_code} (expected "
                                   f"{' or '.join(map(str, allowed))}): {played.last_lines()}"))
        if played.ended and lifecycle != SIGTERM:
            rejected = sum(1 for p in step.invalid_rows if p >= start)
            # A run that stopped early (the daily limit) has not read every row.
            complete = played.exit_code == 0
            found += check_summary(played.summary,
                                   records=len(rows) - start if complete else None,
                                   calls=calls, rejected=rejected if complete else None,
                                   step=index)
        found += self.check_secrets(index, played)
        if played.exit_code != 0 and step.settings.get("list_membership_operation") != "mirror":
            found += self.check_state_prefix(index, step, rows, upto, model, before)
        return found

    def check_secrets(self, index: int, played: Played) -> list[Violation]:
        """Invariant 6: no secret and no access token in the run's output."""
        output = played.log + json.dumps(played.states)
        secrets = [self.emu.client_secret, self.emu.refresh_token, *self.emu.issued_tokens()]
        if any(secret and secret in output for secret in secrets):
            return [Violation(6, index, "a secret or an access token is in the run's output")]
        return []

    def check_state_prefix(self, index: int, step: Step, rows: list[dict[str, Any]],
                           upto: int, model: Model, before: Snapshot) -> list[Violation]:
        """Invariant 3: what the last STATE vouches for is in Pardot (rows no later row
        changes again)."""
        if upto == 0:
            return []
        prefix = model.copy()
        early = prefix.apply_step(step.stream, rows[:upto], step.settings,
                                  frozenset(p for p in step.invalid_rows if p < upto))
        rest = prefix.copy().apply_step(step.stream, rows[upto:], step.settings,
                                        frozenset(p - upto for p in step.invalid_rows
                                                  if p >= upto))
        only = early.touched - rest.touched
        pairs = early.touched_pairs - rest.touched_pairs
        return Checker(prefix, index).compare(Snapshot.of(self.emu), before, early,
                                              only=only, only_pairs=pairs)

    def play_pair(self, index: int, step: Step, rows: list[dict[str, Any]],
                  config: dict[str, Any], coverage: Coverage) -> list[Violation]:
        halves = split_by_identity(rows)
        texts = (singer_text(step, halves[0], 0, index), singer_text(step, halves[1], 0, index))
        coverage.shared_ledger_pairs += 1
        coverage.rows += len(rows)
        return [Violation(5, index, f"one of two runs sharing a ledger ended with exit "
                          f"{p.exit_code}: {p.last_lines()}")
                for p in run_two_processes(config, texts, self.workdir) if p.exit_code != 0]


def faults_so_far(emu: PardotEmulator) -> int:
    """Injected faults and lost replies, and the refusals a run must ride out: expired
    tokens (184), no free slot (66), the daily limit (122)."""
    counters = emu.counters()
    refusals = sum(counters["errors_by_code"].get(code, 0) for code in ("66", "122", "184"))
    return sum(counters["faults_injected"].values()) + refusals


def resolve(row: dict[str, Any], ids: list[int]) -> dict[str, Any]:
    return {k: ids[v.index] if isinstance(v, PreRef) else v for k, v in row.items()}


def describe(outcome: Outcome) -> str:
    lines = [f"seed {outcome.scenario.seed}: account {outcome.scenario.account.kind}"]
    lines += outcome.steps_played
    lines += [str(v) for v in outcome.violations[:12]]
    if len(outcome.violations) > 12:
        lines.append(f"... and {len(outcome.violations) - 12} more violations")
    return "\n".join(lines)
