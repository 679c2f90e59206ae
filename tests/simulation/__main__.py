"""Replay one case, or soak many: ``python -m tests.simulation --seed N`` or
``python -m tests.simulation --seeds N``. Prints the coverage and every failing seed with
the command that replays it."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pardot_emulator import PardotEmulator
from tests.simulation.generator import ALL_FEATURES, generate
from tests.simulation.known_defects import sweep_features
from tests.simulation.runner import Coverage, Runner, describe


def replay_command(seed: int, features: frozenset[str]) -> str:
    extra = f" --features {','.join(sorted(features))}" if features else ""
    return f".venv/bin/python -m tests.simulation --seed {seed}{extra}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation")
    parser.add_argument("--seed", type=int, help="replay this one seed")
    parser.add_argument("--seeds", type=int, default=20, help="soak seeds 0..N-1")
    parser.add_argument("--first", type=int, default=0, help="first seed of a soak")
    parser.add_argument("--features", default=None,
                        help="comma-separated feature switches (default: the sweep's), "
                        f"'all' for {','.join(sorted(ALL_FEATURES))}")
    parser.add_argument("--verbose", action="store_true", help="print every case's steps")
    args = parser.parse_args(argv)
    if args.features is None:
        features = sweep_features()
    elif args.features == "all":
        features = ALL_FEATURES
    else:
        features = frozenset(f for f in args.features.split(",") if f)
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.seeds)
    total, failed, started = Coverage(), [], time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, PardotEmulator() as emu:
        runner = Runner(emu, Path(tmp))
        for seed in seeds:
            outcome = runner.play(generate(seed, features))
            total.add(outcome.coverage)
            if outcome.violations or args.verbose or args.seed is not None:
                print(describe(outcome), file=sys.stderr)
            if outcome.violations:
                failed.append(seed)
                print(f"replay: {replay_command(seed, features)}\n", file=sys.stderr)
    print(f"simulation: {len(seeds)} seeds in {time.monotonic() - started:.0f} s; "
          f"{total.line()}; failing seeds: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
