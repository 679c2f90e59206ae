"""Singer input files for the benchmarks, generated once and cached under .bench/data.

Rows look like a CRM export: an email and a handful of standard fields, about 200
bytes of JSON each. Every row is valid, so each benchmark measures the sending path
rather than rejections. A STATE message follows every 10,000 rows, as taps write them.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / ".bench" / "data"
STATE_EVERY = 10_000

PROSPECT_SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]},
        "company": {"type": ["string", "null"]},
        "job_title": {"type": ["string", "null"]},
        "city": {"type": ["string", "null"]},
        "country": {"type": ["string", "null"]},
        "score": {"type": ["integer", "null"]},
    },
}

_TITLES = ("Engineer", "Analyst", "Director", "Manager", "Founder", "Consultant")
_CITIES = (("Oslo", "Norway"), ("Lyon", "France"), ("Austin", "United States"),
           ("Osaka", "Japan"), ("Leeds", "United Kingdom"))  # fmt: skip


def record(i: int, *, domain: str = "bench.example.com", changed: bool = False) -> dict:
    """Row i; ``changed`` gives the same person (same email) another name and city."""
    city, country = _CITIES[(i + changed) % len(_CITIES)]
    return {
        "email": f"person{i}@{domain}",
        "first_name": f"Renamed{i}" if changed else f"First{i}",
        "last_name": f"Last{i % 997}",
        "company": f"Company {i % 1000} Ltd",
        "job_title": _TITLES[i % len(_TITLES)],
        "city": city,
        "country": country,
        "score": i % 100,
    }


def write_prospects(
    path: Path, rows: int, *, domain: str = "bench.example.com", changed: bool = False
) -> Path:
    """Write a prospects stream of `rows` email-keyed rows; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as out:
        schema = {"type": "SCHEMA", "stream": "prospects", "schema": PROSPECT_SCHEMA,
                  "key_properties": ["email"]}  # fmt: skip
        out.write(json.dumps(schema) + "\n")
        for i in range(rows):
            out.write('{"type":"RECORD","stream":"prospects","record":')
            out.write(json.dumps(record(i, domain=domain, changed=changed), separators=(",", ":")))
            out.write("}\n")
            if (i + 1) % STATE_EVERY == 0:
                out.write(json.dumps({"type": "STATE", "value": {"rows": i + 1}}) + "\n")
        if rows % STATE_EVERY:
            out.write(json.dumps({"type": "STATE", "value": {"rows": rows}}) + "\n")
    partial.replace(path)
    return path


def prospects_file(
    rows: int, *, domain: str = "bench.example.com", changed: bool = False
) -> Path:
    """The cached prospects file with `rows` rows, generated on first use; ``changed``:
    the same people with every row changed."""
    suffix = "-changed" if changed else ""
    path = DATA_DIR / f"prospects-{rows}-{domain}{suffix}.singer"
    if not path.exists():
        write_prospects(path, rows, domain=domain, changed=changed)
    return path
