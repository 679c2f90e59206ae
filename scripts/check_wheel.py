"""`make wheel-check`: install the built wheel into a fresh virtualenv and use it as a user would.

Not editable, not from this checkout: the wheel in dist/ is installed with pip into
.venv-wheel (recreated every time), then, from a directory outside the checkout so that
nothing can be imported from it by accident:
  - `target-pardot --about --format json` must name the wheel's version;
  - `pardot-emulator --help` must list its flags;
  - the demo pipeline (scripts/demo.py, run by the wheel's own Python) must load
    prospects and list memberships into the wheel's own emulator.
Needs the package registry (pip installs the wheel's dependencies).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "dist"
WHEEL_VENV = REPO / ".venv-wheel"


def run(argv: list[str], cwd: Path) -> str:
    """Run a command; on failure exit with its whole output."""
    completed = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        sys.stderr.write(f"$ {' '.join(argv)}\n{completed.stdout}\n{completed.stderr}\n")
        raise SystemExit(f"wheel check failed: {argv[0]} exited {completed.returncode}")
    return completed.stdout + completed.stderr


def the_wheel() -> Path:
    wheels = sorted(DIST.glob("target_pardot-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected exactly one wheel in {DIST}, found {wheels}: run make dist")
    return wheels[0]


def wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def demo_counts(output: str) -> tuple[int, int]:
    """(prospects, memberships) the demo reports the emulator holding at the end."""
    prospects = re.search(r"now holds (\d+) prospects", output)
    memberships = re.findall(r"now holds (\d+) list memberships", output)
    if prospects is None or not memberships:
        raise SystemExit(f"the demo did not report its outcome:\n{output[-3000:]}")
    return int(prospects.group(1)), int(memberships[-1])


def main() -> int:
    wheel = the_wheel()
    shutil.rmtree(WHEEL_VENV, ignore_errors=True)
    venv.create(WHEEL_VENV, with_pip=True)
    bin_dir = WHEEL_VENV / "bin"
    outside = Path(tempfile.mkdtemp(prefix="target-pardot-wheel-"))
    run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", str(wheel)], outside)  # fmt: skip
    location = run([str(bin_dir / "python"), "-c",
                    "import target_pardot, pardot_emulator; "
                    "print(target_pardot.__file__); print(pardot_emulator.__file__)"], outside)
    if str(REPO) in location.replace(str(WHEEL_VENV), ""):
        raise SystemExit(f"imported from the checkout, not from the wheel:\n{location}")
    about = json.loads(run([str(bin_dir / "target-pardot"), "--about", "--format", "json"],
                           outside))  # fmt: skip
    if about.get("version") != wheel_version(wheel):
        raise SystemExit(f"--about says version {about.get('version')}, the wheel {wheel.name}")
    help_text = run([str(bin_dir / "pardot-emulator"), "--help"], outside)
    if "--port" not in help_text:
        raise SystemExit(f"pardot-emulator --help does not list --port:\n{help_text}")
    demo = run([str(bin_dir / "python"), str(REPO / "scripts" / "demo.py")], outside)
    prospects, memberships = demo_counts(demo)
    if prospects == 0 or memberships == 0:
        raise SystemExit(f"the demo loaded {prospects} prospects, {memberships} memberships")
    shutil.rmtree(outside, ignore_errors=True)
    print(f"wheel check: {wheel.name} installed in {WHEEL_VENV.name}; --about version "
          f"{about['version']}; pardot-emulator --help; demo loaded {prospects} prospects and "
          f"{memberships} list memberships", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
