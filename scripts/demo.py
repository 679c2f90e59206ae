"""`make demo`: start the bundled emulator, load the sample streams, show the outcome."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK = ROOT / ".demo"


def emulator_state(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/_emulator/state", timeout=10) as response:
        return json.load(response)


def run_target(config: dict, stream: Path, name: str) -> None:
    config_path = WORK / f"{name}.config.json"
    config_path.write_text(json.dumps(config, indent=2))
    print(
        f"\n$ target-pardot --config {config_path.relative_to(ROOT)} < {stream.relative_to(ROOT)}",
        flush=True,
    )
    with stream.open("rb") as stdin:
        result = subprocess.run(
            [str(BIN / "target-pardot"), "--config", str(config_path)],
            stdin=stdin,
            capture_output=True,
            check=False,
        )
    sys.stderr.flush()
    stderr = result.stderr.decode()
    summary = stderr[stderr.rfind("run summary:") :] if "run summary:" in stderr else stderr
    print("--- log (stderr), last part: run summary ---")
    print(summary.rstrip())
    print("--- STATE messages (stdout) ---")
    print(result.stdout.decode().rstrip() or "(none)")
    print(f"--- exit code: {result.returncode}")


def membership_stream(prospect_ids: list[int]) -> Path:
    """Memberships for the prospects just loaded, plus one unknown list and prospect."""
    records = [
        {"list_id": list_id, "prospect_id": pid} for pid in prospect_ids[:60] for list_id in (3, 4)
    ]
    records.append({"list_id": 99_999, "prospect_id": prospect_ids[0]})
    records.append({"list_id": 3, "prospect_id": 987_654_321})
    schema = {
        "type": "object",
        "properties": {"list_id": {"type": "integer"}, "prospect_id": {"type": "integer"}},
    }
    lines = [
        {"type": "SCHEMA", "stream": "list_memberships", "schema": schema, "key_properties": []}
    ]
    lines += [{"type": "RECORD", "stream": "list_memberships", "record": r} for r in records]
    lines.append({"type": "STATE", "value": {"memberships_done": len(records)}})
    path = WORK / "list_memberships.singer"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def main() -> int:
    WORK.mkdir(exist_ok=True)
    emulator = subprocess.Popen(
        [str(BIN / "pardot-emulator"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its start-up line would interleave with ours
        text=True,
    )
    try:
        assert emulator.stdout is not None
        url = emulator.stdout.readline().strip()
        print(f"Pardot emulator listening on {url}")
        config = {
            "client_id": "emulator-client-id",
            "client_secret": "emulator-client-secret",
            "refresh_token": "emulator-refresh-token",
            "login_url": url,
            "pardot_domain": url,
            "business_unit": "0Uv000000000001AAA",
            "parallel_tasks": 5,
            "prospect_lists": "1,2",
            "skip_invalid_records": True,
            "rejected_records_path": str(WORK / "rejected.jsonl"),
        }
        (WORK / "rejected.jsonl").unlink(missing_ok=True)
        run_target(config, ROOT / "examples" / "prospects.singer", "prospects")
        state = emulator_state(url)
        prospects = state["prospects"]
        print(
            f"\nThe emulator now holds {len(prospects)} prospects and "
            f"{len(state['memberships'])} list memberships. First three prospects:"
        )
        for p in prospects[:3]:
            shown = {
                k: p.get(k)
                for k in ("id", "email", "first_name", "last_name", "company", "favorite_color__c")
            }
            print("  ", json.dumps(shown, ensure_ascii=False))
        print(f"Rejected rows are in {(WORK / 'rejected.jsonl').relative_to(ROOT)}:")
        for line in (WORK / "rejected.jsonl").read_text().splitlines():
            row = json.loads(line)
            print(f"   - {row['reason'][:110]} (code {row['code']})")

        ids = [int(p["id"]) for p in prospects]
        run_target({**config, "prospect_lists": None}, membership_stream(ids), "memberships")
        state = emulator_state(url)
        counters = state["counters"]
        print(
            f"\nThe emulator now holds {len(state['memberships'])} list memberships; it "
            f"served {counters.get('calls_total')} calls, at most "
            f"{counters.get('max_in_flight')} at once."
        )
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
