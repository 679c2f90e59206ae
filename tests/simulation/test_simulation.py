"""The simulation in the suite: a time-bounded sweep of seeds, the seeds of known defects
(expected failures while open, regression cases once fixed), and checks that the
invariants can fail at all."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pardot_emulator import PardotEmulator
from tests.simulation.__main__ import replay_command
from tests.simulation.generator import generate
from tests.simulation.invariants import Checker, Snapshot
from tests.simulation.known_defects import FIXED, OPEN, KnownDefect, sweep_features
from tests.simulation.model import Model, StepEffect
from tests.simulation.runner import Coverage, Runner, describe
from tests.simulation.scenario import (
    SIGKILL,
    SIGTERM,
    Account,
    Faults,
    PreRef,
    Scenario,
    SeededProspect,
    Step,
)

#: Wall time of the sweep; `make test` stays within its budget with the seeds below.
SWEEP_SECONDS = float(os.environ.get("SIMULATION_SECONDS", "35"))
#: The sweep runs as this many tests of an equal share of its time, each on every
#: SWEEP_PARTS-th seed, so that pytest-xdist spreads it over its workers rather than
#: one worker ending the run alone with it.
SWEEP_PARTS = 4
#: Each part plays at least this many seeds, past its share of time if it must (one seed
#: can take a few seconds on a loaded host): the parts together play at least 8.
MIN_SEEDS_PER_PART = 2


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    with PardotEmulator() as emu:
        yield Runner(emu, tmp_path_factory.mktemp("simulation"))


@pytest.mark.slow
@pytest.mark.parametrize("part", range(SWEEP_PARTS))
def test_sweep_of_seeds_keeps_every_invariant(runner: Runner, part: int) -> None:
    features = sweep_features()
    deadline = time.monotonic() + SWEEP_SECONDS / SWEEP_PARTS
    played, failures, covered = 0, [], Coverage()
    seed = part
    while played < MIN_SEEDS_PER_PART or time.monotonic() < deadline:
        outcome = runner.play(generate(seed, features))
        if outcome.violations:
            failures.append(f"{describe(outcome)}\nreplay: "
                            f"{replay_command(seed, features)}")
        covered.add(outcome.coverage)
        played += 1
        seed += SWEEP_PARTS
    assert not failures, "\n\n".join(failures)
    # A sweep whose scenarios play no step or load no row has tested nothing.
    assert covered.steps >= played and covered.rows > 0, covered


def defect_cases() -> list[object]:
    cases: list[object] = [
        pytest.param(d, id=d.feature, marks=(
            pytest.mark.skip(reason=f"{d.reason} ({d.timing}; replay the seed by hand)")
            if d.timing else pytest.mark.xfail(strict=True, reason=d.reason)))
        for d in OPEN]
    cases += [pytest.param(d, id=f"fixed-{d.feature}") for d in FIXED]
    return cases


@pytest.mark.parametrize("defect", defect_cases())
def test_known_defect_seed(runner: Runner, defect: KnownDefect) -> None:
    """Open: fails until the product is fixed (then XPASS fails the suite: move the entry
    to FIXED). Fixed: the seed stays as a regression case."""
    features, focus = defect.features(), defect.focus()
    outcome = runner.play(generate(defect.seed, features, focus=focus))
    assert not outcome.violations, (
        f"{describe(outcome)}\nreplay: {replay_command(defect.seed, features, focus=focus)}")


def test_mirror_removal_then_upsert_with_skip_unchanged(runner: Runner) -> None:
    """The mirror-and-ledger case written out by hand (a regression case: the mirror's
    removals were missing from the ledger): upsert three members, mirror the list down to
    one, upsert the three again, every run with skip_unchanged."""
    account = Account(ampsea=True, v3_case_insensitive=False, seeded_memberships=[],
                      seeded=[SeededProspect(email=f"s{i}@x.example") for i in range(3)])
    upsert = {"list_membership_operation": "upsert", "skip_unchanged": True}
    three = [{"list_id": 11, "prospect_id": PreRef(i)} for i in range(3)]
    steps = [
        Step(action="run", stream="list_memberships", rows=three, settings=upsert),
        Step(action="run", stream="list_memberships", rows=three[:1],
             settings={"list_membership_operation": "mirror", "skip_unchanged": True,
                       "mirror_max_removal_percent": 100}),
        Step(action="run", stream="list_memberships", rows=three, settings=upsert),
    ]
    outcome = runner.play(Scenario(seed=0, account=account, steps=steps))
    assert not outcome.violations, describe(outcome)


@pytest.mark.parametrize("stop", [SIGTERM, SIGKILL])
def test_an_older_payload_after_a_stopped_run_with_skip_unchanged(runner: Runner, stop: str
                                                                   ) -> None:  # fmt: skip
    """The stopped-run ledger case written out by hand (a regression case: STATE lines
    were written before the ledger committed their rows): payload A, then B in a run
    stopped after its first STATE lines and resumed, then A again, every run with
    skip_unchanged. Pardot must end with A."""
    account = Account(ampsea=True, v3_case_insensitive=False, seeded_memberships=[],
                      seeded=[SeededProspect(email=f"s{i}@x.example") for i in range(12)])
    skip = {"skip_unchanged": True, "parallel_tasks": 2}
    rows = [[{"email": f"s{i}@x.example", "first_name": name} for i in range(12)]
            for name in ("A", "B")]
    steps = [
        Step(action="run", rows=rows[0], settings=skip, state_every=1),
        Step(action="run", rows=rows[1], settings=skip, state_every=1, lifecycle=stop,
             faults=Faults(latency_ms=40)),
        Step(action="run", rows=rows[0], settings=skip, state_every=1),
    ]  # fmt: skip
    outcome = runner.play(Scenario(seed=0, account=account, steps=steps))
    assert not outcome.violations, describe(outcome)


# ---------------------------------------------------------------------- the checker


def seeded_model(emu: PardotEmulator) -> tuple[Model, list[int]]:
    account = Account(ampsea=True, v3_case_insensitive=False, seeded=[
        SeededProspect(email="a@x.example", fields={"company": "A"}),
        SeededProspect(email="b@x.example", fields={"company": "B"})],
        seeded_memberships=[(11, 0)])
    emu.reset()
    ids = [emu.add_prospect(email=s.email, **s.fields) for s in account.seeded]
    emu.add_membership(11, ids[0])
    return Model(account, ids), ids


@pytest.fixture
def emu(runner: Runner) -> PardotEmulator:
    runner.emu.reset()
    return runner.emu


def test_checker_sees_a_prospect_no_row_named_change(emu: PardotEmulator) -> None:
    model, ids = seeded_model(emu)
    before = Snapshot.of(emu)
    emu.edit_prospect(ids[1], company="overwritten")
    found = Checker(model, 0).compare(Snapshot.of(emu), before, StepEffect())
    assert [v.invariant for v in found] == [2]
    assert "overwritten" in found[0].message


def test_checker_sees_a_duplicate_and_a_lost_value(emu: PardotEmulator) -> None:
    model, _ = seeded_model(emu)
    before = Snapshot.of(emu)
    effect = model.apply_step("prospects", [{"email": "new@x.example", "city": "Paris"}],
                              {"upsert_by_email": True}, frozenset())
    emu.add_prospect(email="new@x.example", city="Paris")
    emu.add_prospect(email="new@x.example", city="Rome")
    found = Checker(model, 0).compare(Snapshot.of(emu), before, effect)
    assert [v.invariant for v in found] == [1]
    assert "held by 2 prospects" in found[0].message


def test_checker_sees_a_lost_membership(emu: PardotEmulator, tmp_path: Path) -> None:
    model, ids = seeded_model(emu)
    before = Snapshot.of(emu)
    effect = model.apply_step("list_memberships", [{"list_id": 12, "prospect_id": ids[1]}],
                              {"list_membership_operation": "upsert"}, frozenset())
    found = Checker(model, 0).compare(Snapshot.of(emu), before, effect)
    assert [v.invariant for v in found] == [1]
    assert "list 12" in found[0].message and "missing" in found[0].message
