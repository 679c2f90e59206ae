"""``pardot-emulator``: run the emulator as a process.

The first line on stdout is the base URL; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from .config import SPECS, SettingError, format_lists, public_view
from .embedded import PardotEmulator


def _default_text(name: str, default: Any) -> str:
    if default is None:
        return "none"
    if name == "lists":
        return format_lists(default)
    if isinstance(default, tuple):
        return ",".join(default)
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pardot-emulator",
        description=(
            "Local Salesforce Pardot (Account Engagement) + OAuth emulator. Serves "
            "POST /services/oauth2/token and the Pardot API (/api/...) on 127.0.0.1. "
            "Prints its base URL as the first line on stdout, then serves until "
            "SIGINT/SIGTERM. Inspect it with GET /_emulator/state; change settings at "
            "runtime with POST /_emulator/config (same names, snake_case, JSON); "
            "clear data and counters with POST /_emulator/reset."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port on 127.0.0.1 (0 picks a free one).")
    for spec in SPECS:
        flag = "--" + spec.name.replace("_", "-")
        help_text = f"{spec.help} (default: {_default_text(spec.name, spec.default)})"
        if spec.is_bool:
            parser.add_argument(flag, dest=spec.name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_text)
        else:
            parser.add_argument(flag, dest=spec.name, metavar=spec.metavar, default=None,
                                help=help_text)
    # ArgumentDefaultsHelpFormatter would print "None" for the settings: their
    # defaults are in the help text already.
    parser.formatter_class = argparse.HelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = {spec.name: getattr(args, spec.name) for spec in SPECS
                if getattr(args, spec.name) is not None}
    try:
        emu = PardotEmulator(port=args.port, **settings)
        emu.start()
    except SettingError as exc:
        parser.error(str(exc))
    except OSError as exc:
        print(f"pardot-emulator: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    sys.stdout.write(emu.url + "\n")
    sys.stdout.flush()
    cfg = public_view(emu.app.settings.values())
    print(f"pardot-emulator: listening on {emu.url} "
          f"(client_id={cfg['client_id']}, business_unit={cfg['business_unit']}, "
          f"lists={cfg['lists']}, ampsea={cfg['ampsea']})", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
        print("pardot-emulator: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
