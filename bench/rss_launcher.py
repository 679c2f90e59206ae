"""Run a command and write its peak RSS (KiB) to a file: ``rss_launcher.py OUT CMD...``.

Why a launcher: a child's ru_maxrss counts the memory of the process it was forked from
(the pages it shared before exec), and the benchmark runner holds an emulator with up to
a million prospects. Forked from this small process instead, the target's figure is its
own. stdin, stdout and stderr pass straight through; the exit status is the command's.
"""

from __future__ import annotations

import resource
import subprocess
import sys


def main() -> int:
    out, *command = sys.argv[1:]
    code = subprocess.call(command)
    with open(out, "w") as handle:
        handle.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    return code


if __name__ == "__main__":
    sys.exit(main())
