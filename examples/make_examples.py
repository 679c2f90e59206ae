"""Regenerate examples/prospects.singer: realistic prospects, a few deliberately invalid.

Deterministic (fixed seed), so the committed file and the demo output stay stable.
Run: python examples/make_examples.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

FIRST = [
    "Ann",
    "Bjorn",
    "Chen",
    "Dara",
    "Emeka",
    "Fatima",
    "Gus",
    "Hana",
    "Ivan",
    "Jo",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
]
LAST = [
    "Smith",
    "Larsen",
    "Wang",
    "Okafor",
    "Haddad",
    "Novak",
    "Garcia",
    "Kim",
    "Rossi",
    "Müller",
    "Dubois",
    "Silva",
    "Tanaka",
    "Cohen",
    "Ahmed",
    "Jensen",
]
COMPANIES = [
    ("Acme Corp", "acme.com"),
    ("Globex", "globex.io"),
    ("Initech", "initech.com"),
    ("Umbrella Labs", "umbrella-labs.org"),
    ("Hooli", "hooli.xyz"),
    ("Stark Industries", "stark.example"),
    ("Wayne Enterprises", "wayne.example"),
]
TITLES = ["Data Engineer", "VP Marketing", "CTO", "Analyst", "Growth Lead", "Head of Sales"]
COUNTRIES = ["Norway", "Nigeria", "Japan", "Brazil", "Germany", "United States", "India"]
COLORS = ["teal", "orange", "violet", "green"]

SCHEMA = {
    "type": "SCHEMA",
    "stream": "prospects",
    "key_properties": ["email"],
    "schema": {
        "type": "object",
        "properties": {
            "email": {"type": ["string", "null"]},
            "FirstName": {"type": ["string", "null"]},
            "lastName": {"type": ["string", "null"]},
            "company": {"type": ["string", "null"]},
            "job_title": {"type": ["string", "null"]},
            "country": {"type": ["string", "null"]},
            "score": {"type": ["integer", "null"]},
            "is_do_not_email": {"type": ["boolean", "null"]},
            "favorite_color__c": {"type": ["string", "null"]},
            "comments": {"type": ["string", "null"]},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
}


def prospect(rng: random.Random, index: int) -> dict[str, object]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company, domain = rng.choice(COMPANIES)
    return {
        "email": f"{first.lower()}.{last.lower().replace('ü', 'u')}{index}@{domain}",
        "FirstName": first,
        "lastName": last,
        "company": company,
        "job_title": rng.choice(TITLES),
        "country": rng.choice(COUNTRIES),
        "score": rng.randint(0, 150),
        "is_do_not_email": rng.random() < 0.1,
        "favorite_color__c": rng.choice(COLORS),
        "comments": None,
        "updated_at": f"2026-11-{1 + index % 20:02d}T08:00:00Z",
    }


def invalid_rows() -> list[tuple[int, dict[str, object]]]:
    """(position, record) pairs, each broken in a different way."""
    return [
        (40, {"FirstName": "NoKey", "company": "Acme Corp"}),  # no id, fid or email
        (90, {"email": "not-an-email", "FirstName": "Bad"}),  # Pardot rejects the address
        (140, {"email": "long.comment@acme.com", "comments": "x" * 8_000}),  # > 7,500 chars
        (190, {"email": "wrong.type@acme.com", "score": "very high"}),  # fails the schema
        (240, {"email": "  Spaces.Around@Globex.io  ", "FirstName": "Trim"}),  # valid: trimmed
    ]


def main() -> None:
    rng = random.Random(7)
    rows = [prospect(rng, i) for i in range(300)]
    for position, record in invalid_rows():
        rows.insert(position, record)
    lines = [json.dumps(SCHEMA)]
    for number, record in enumerate(rows, start=1):
        lines.append(
            json.dumps(
                {"type": "RECORD", "stream": "prospects", "record": record}, ensure_ascii=False
            )
        )
        if number % 100 == 0:
            state = {"bookmarks": {"prospects": {"replication_key_value": number}}}
            lines.append(json.dumps({"type": "STATE", "value": state}))
    lines.append(
        json.dumps(
            {
                "type": "STATE",
                "value": {"bookmarks": {"prospects": {"replication_key_value": len(rows)}}},
            }
        )
    )
    out = Path(__file__).with_name("prospects.singer")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(rows)} records)")


if __name__ == "__main__":
    main()
