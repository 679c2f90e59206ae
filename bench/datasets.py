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


def memberships_file(list_id: int, prospect_ids: list[int], *, name: str) -> Path:
    """A list_memberships stream naming ``prospect_ids`` for ``list_id`` (written each time:
    the ids depend on the emulator that was seeded)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"{name}.singer"
    schema = {"type": "SCHEMA", "stream": "list_memberships", "key_properties": [],
              "schema": {"type": "object", "properties": {"list_id": {"type": "integer"},
                                                          "prospect_id": {"type": "integer"}}}}
    with path.open("w") as out:
        out.write(json.dumps(schema) + "\n")
        for pid in prospect_ids:
            record = {"list_id": list_id, "prospect_id": pid}
            out.write(json.dumps({"type": "RECORD", "stream": "list_memberships",
                                  "record": record}) + "\n")
    return path


def audience_file(list_name: str, emails: list[str], *, name: str) -> Path:
    """A list_memberships stream naming its list by name and its prospects by email."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"{name}.singer"
    schema = {"type": "SCHEMA", "stream": "list_memberships", "key_properties": [],
              "schema": {"type": "object", "properties": {"list_name": {"type": "string"},
                                                          "email": {"type": "string"}}}}
    with path.open("w") as out:
        out.write(json.dumps(schema) + "\n")
        for email in emails:
            record = {"list_name": list_name, "email": email}
            out.write(json.dumps({"type": "RECORD", "stream": "list_memberships",
                                  "record": record}) + "\n")
    return path


def case_variants_file(rows: int) -> Path:
    """Email-only rows where every 7th row repeats an earlier address in upper case: some
    in the same call of 50, some in an earlier one (cached like prospects_file)."""
    path = DATA_DIR / f"case-variants-{rows}.singer"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    emails: list[str] = []
    with path.open("w", encoding="utf-8") as out:
        schema = {"type": "SCHEMA", "stream": "prospects", "schema": PROSPECT_SCHEMA,
                  "key_properties": ["email"]}  # fmt: skip
        out.write(json.dumps(schema) + "\n")
        for i in range(rows):
            row = record(i)
            if i % 7 == 6:
                row["email"] = emails[i - 3 if i % 2 or i < 60 else i - 60].upper()
            emails.append(row["email"])
            out.write(json.dumps({"type": "RECORD", "stream": "prospects", "record": row}) + "\n")
        out.write(json.dumps({"type": "STATE", "value": {"rows": rows}}) + "\n")
    return path
