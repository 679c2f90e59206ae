"""How many v4 batchUpsert calls of 50 rows per second the emulator serves.

The emulator runs in its own process (``python -m target_pardot.emulator.cli``),
as it does under ``make demo``, so the client threads here do not share its GIL.
Several client threads each use a keep-alive ``requests.Session``; the
concurrency limit is raised so that no call is refused with 66.

Prints one line: ``emulator_throughput <calls/s> goal>=500 PASS|FAIL``.
Exit status 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode

import requests

GOAL = 500.0
ROWS_PER_CALL = 50


def start_emulator(concurrency: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "target_pardot.emulator.cli", "--port", "0",
         "--concurrency-limit", str(concurrency)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"emulator did not start (first line: {url!r})")
    return proc, url


def payload(worker: int, call: int) -> str:
    rows = [
        {
            "email": f"w{worker}-c{call}-r{i}@bench.example.com",
            "first_name": "Bench",
            "last_name": f"Row {i}",
            "company": "Throughput Inc",
            "job_title": "Tester",
            "city": "Paris",
            "country": "France",
            "score": i,
            "favorite_color__c": "blue",
            "list_7": 1,
        }
        for i in range(ROWS_PER_CALL)
    ]
    return json.dumps({"prospects": rows})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured warm-up")
    args = parser.parse_args()

    proc, url = start_emulator(concurrency=max(args.threads, 5))
    try:
        token = requests.post(f"{url}/services/oauth2/token", data={
            "grant_type": "refresh_token", "client_id": "emulator-client-id",
            "client_secret": "emulator-client-secret",
            "refresh_token": "emulator-refresh-token"}, timeout=10).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}",
                   "Pardot-Business-Unit-Id": "0Uv000000000001AAA"}
        form_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        endpoint = f"{url}/api/prospect/version/4/do/batchUpsert?format=json"

        start_measure = time.perf_counter() + args.warmup
        stop_at = start_measure + args.seconds
        counts = [0] * args.threads
        failures = [0] * args.threads

        def worker(n: int) -> None:
            session = requests.Session()
            # Encoded once: the measure is the server, not the client's urlencoding.
            bodies = [urlencode({"prospects": payload(n, c)}).encode() for c in range(20)]
            c = 0
            while True:
                now = time.perf_counter()
                if now >= stop_at:
                    break
                r = session.post(endpoint, data=bodies[c % len(bodies)], headers=form_headers,
                                 timeout=10)
                c += 1
                if r.status_code not in (200, 201) or '"errors":{}' not in r.text:
                    failures[n] += 1
                elif time.perf_counter() >= start_measure:
                    counts[n] += 1
            session.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rate = sum(counts) / args.seconds
        verdict = "PASS" if rate >= GOAL and not sum(failures) else "FAIL"
        if sum(failures):
            print(f"# {sum(failures)} calls failed", file=sys.stderr)
        print(f"# {os.cpu_count()} CPUs, {args.threads} client threads, {args.seconds:.0f} s, "
              f"{ROWS_PER_CALL} rows per call", file=sys.stderr)
        print(f"emulator_throughput {rate:.0f} goal>={GOAL:.0f} {verdict}")
        return 0 if verdict == "PASS" else 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
