"""How many v4 batchUpsert calls of 50 rows per second the emulator serves.

The emulator runs in its own process (``python -m pardot_emulator.cli``),
as it does under ``make demo``, so the client threads here do not share its GIL.
Several client threads each keep one HTTP/1.1 keep-alive connection open. Each
row has ten fields, a custom field and a list flag; bodies are encoded once up
front, and the concurrency limit is raised so that no call is refused with 66.

``--client http`` (the default) uses the standard library's HTTPConnection,
which costs the client about 0.2 ms per call, so the figure is the emulator's
capacity. ``--client requests`` uses ``requests.Session`` like the target does;
on a 2-core machine its own CPU use (about 1 ms per call) then competes with
the emulator's, which is a measure of the pair, not of the emulator.

Prints one line: ``emulator_throughput <calls/s> goal>=500 PASS|FAIL``.
Exit status 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import requests

GOAL = 500.0
ROWS_PER_CALL = 50
PATH = "/api/prospect/version/4/do/batchUpsert?format=json"


def start_emulator(concurrency: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pardot_emulator.cli", "--port", "0",
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
            "favorite_color": "blue",
            "list_7": 1,
        }
        for i in range(ROWS_PER_CALL)
    ]
    return json.dumps({"prospects": rows})


Poster = Callable[[bytes], tuple[int, bytes]]


def http_poster(url: str, headers: dict[str, str]) -> tuple[Poster, Callable[[], None]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)

    def post(body: bytes) -> tuple[int, bytes]:
        conn.request("POST", PATH, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()

    return post, conn.close


def requests_poster(url: str, headers: dict[str, str]) -> tuple[Poster, Callable[[], None]]:
    session = requests.Session()

    def post(body: bytes) -> tuple[int, bytes]:
        r = session.post(url + PATH, data=body, headers=headers, timeout=10)
        return r.status_code, r.content

    return post, session.close


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=4, help="client threads (default: 4)")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="measured duration (default: 5)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="unmeasured warm-up (default: 1)")
    parser.add_argument("--client", choices=("http", "requests"), default="http",
                        help="HTTP client used by the threads (default: http)")
    args = parser.parse_args()

    proc, url = start_emulator(concurrency=max(args.threads, 5))
    try:
        token = requests.post(f"{url}/services/oauth2/token", data={
            "grant_type": "refresh_token", "client_id": "emulator-client-id",
            "client_secret": "emulator-client-secret",
            "refresh_token": "emulator-refresh-token"}, timeout=10).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}",
                   "Pardot-Business-Unit-Id": "0Uv000000000001AAA",
                   "Content-Type": "application/x-www-form-urlencoded"}
        make_poster = http_poster if args.client == "http" else requests_poster

        start_measure = time.perf_counter() + args.warmup
        stop_at = start_measure + args.seconds
        counts = [0] * args.threads
        failures = [0] * args.threads
        ready = threading.Barrier(args.threads)

        def worker(n: int) -> None:
            # Encoded once: the measure is the server, not the client's urlencoding.
            bodies = [urlencode({"prospects": payload(n, c)}).encode() for c in range(20)]
            post, close = make_poster(url, headers)
            ready.wait()
            c = 0
            while time.perf_counter() < stop_at:
                status, body = post(bodies[c % len(bodies)])
                c += 1
                if status not in (200, 201) or b'"errors":{}' not in body:
                    failures[n] += 1
                elif time.perf_counter() >= start_measure:
                    counts[n] += 1
            close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rate = sum(counts) / args.seconds
        verdict = "PASS" if rate >= GOAL and not sum(failures) else "FAIL"
        print(f"# {os.cpu_count()} CPUs, {args.threads} {args.client} client threads, "
              f"{args.seconds:.0f} s, {ROWS_PER_CALL} rows per call, "
              f"{sum(failures)} failed calls", file=sys.stderr)
        print(f"emulator_throughput {rate:.0f} goal>={GOAL:.0f} {verdict}")
        return 0 if verdict == "PASS" else 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
