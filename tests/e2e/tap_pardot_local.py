"""Run the real tap-pardot (PyPI) against a local Pardot such as `pardot-emulator`.

    python tap_pardot_local.py http://127.0.0.1:8765 --config tap.json --discover

tap-pardot 1.4.9 has no setting for its hosts: tap_pardot/client.py hard-codes
ENDPOINT_BASE = "https://pi.pardot.com/api/" and REFRESH_URL =
"https://login.salesforce.com/services/oauth2/token", and reads both when it makes a
call. This launcher rebinds those two names to the given base URL and then runs the
tap's own main(); nothing else of the tap changes. It runs under the tap's Python
(its own virtualenv), never under target-pardot's.
"""

import sys

import tap_pardot
import tap_pardot.client


def main() -> None:
    base = sys.argv.pop(1).rstrip("/")
    tap_pardot.client.ENDPOINT_BASE = f"{base}/api/"
    tap_pardot.client.REFRESH_URL = f"{base}/services/oauth2/token"
    tap_pardot.main()


if __name__ == "__main__":
    main()
