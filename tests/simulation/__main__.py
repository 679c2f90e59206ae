"""Replay one case, or soak many: ``python -m tests.simulation --seed N`` or
``python -m tests.simulation --seeds N``. Prints the coverage and every failing seed with
the command that replays it (``--shrink`` also looks for a smaller failing case)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from pardot_emulator import PardotEmulator
from tests.simulation.generator import ALL_FEATURES, generate
from tests.simulation.known_defects import sweep_features
from tests.simulation.runner import Coverage, Runner, describe
from tests.simulation.scenario import Scenario
from tests.simulation.shrink import Cut, shrink


def replay_command(seed: int, features: frozenset[str], cut: Cut | None = None,
                   focus: str | None = None) -> str:
    extra = f" --features {','.join(sorted(features))}" if features else " --features ''"
    if focus:
        extra += f" --focus {focus}"
    if cut is not None and cut.options():
        extra += " " + cut.options()
    return f".venv/bin/python -m tests.simulation --seed {seed}{extra}"


def same_invariant(runner: Runner, invariant: int, scenario: Scenario) -> bool:
    return any(v.invariant == invariant for v in runner.play(scenario).violations)


def parse_features(text: str | None) -> frozenset[str]:
    if text is None:
        return sweep_features()
    if text == "all":
        return ALL_FEATURES
    features = frozenset(f for f in text.split(",") if f)
    unknown = features - ALL_FEATURES
    if unknown:
        raise SystemExit(f"unknown features {sorted(unknown)}; known: {sorted(ALL_FEATURES)}")
    return features


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation")
    parser.add_argument("--seed", type=int, help="replay this one seed")
    parser.add_argument("--seeds", type=int, default=20, help="soak seeds FIRST..FIRST+N-1")
    parser.add_argument("--first", type=int, default=0, help="first seed of a soak")
    parser.add_argument("--features", default=None,
                        help="comma-separated feature switches (default: those of the "
                        "sweep), 'all' for every one")
    parser.add_argument("--focus", default=None, help="make this switch's combination likely")
    parser.add_argument("--steps", default=None, help="replay only these steps (0,2,...)")
    parser.add_argument("--max-rows", type=int, default=None, help="cut every stream")
    parser.add_argument("--shrink", action="store_true", help="shrink each failing case")
    parser.add_argument("--verbose", action="store_true", help="print every case's steps")
    args = parser.parse_args(argv)
    features = parse_features(args.features)
    cut = Cut(tuple(int(i) for i in args.steps.split(",")) if args.steps else None,
              args.max_rows)
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.seeds)
    total, failed, started = Coverage(), [], time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, PardotEmulator() as emu:
        runner = Runner(emu, Path(tmp))
        for seed in seeds:
            scenario = cut.apply(generate(seed, features, args.focus))
            outcome = runner.play(scenario)
            total.add(outcome.coverage)
            if total.scenarios % 100 == 0:
                print(f"after {total.scenarios} seeds: {total.line()}; failing seeds: "
                      f"{failed or 'none'}", flush=True)
            if outcome.violations or args.verbose or args.seed is not None:
                print(describe(outcome), file=sys.stderr)
            if not outcome.violations:
                continue
            failed.append(seed)
            print(f"replay: {replay_command(seed, features, cut, args.focus)}", file=sys.stderr)
            if args.shrink:
                smaller = shrink(scenario, partial(same_invariant, runner,
                                                   outcome.violations[0].invariant))
                print(f"smaller: {replay_command(seed, features, smaller, args.focus)}",
                      file=sys.stderr)
            print(file=sys.stderr)
    print(f"simulation: {len(seeds)} seeds in {time.monotonic() - started:.0f} s; "
          f"{total.line()}; failing seeds: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
