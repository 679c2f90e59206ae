"""`make bench`: run every benchmark, one line each.

    python bench/run_all.py                 # the full suite (several minutes)
    python bench/run_all.py --smoke         # tiny sizes: checks that everything runs
    python bench/run_all.py ceiling calls   # only these benchmarks

Exit status 1 when a line says FAIL or a benchmark could not run.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

# Run as a script (`python bench/run_all.py`), the repository root is not on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.suite import BENCHMARKS, FULL, SMOKE, scaled


def main(argv: list[str] | None = None) -> int:
    names = [name for name, _ in BENCHMARKS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "only",
        nargs="*",
        choices=[[], *names],
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(names)}",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes")
    parser.add_argument(
        "--factor",
        type=float,
        default=1.0,
        help="multiply every row count (e.g. 0.1 for a quick look)",
    )
    args = parser.parse_args(argv)
    scale = scaled(SMOKE if args.smoke else FULL, args.factor)
    failed = False
    for name, benchmark in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        try:
            line = benchmark(scale)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            print(f"   {name:<20} could not run (see stderr)", flush=True)
            failed = True
            continue
        print(line.render(), flush=True)
        print(f"   ({name}: {time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        failed = failed or not line.passed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
