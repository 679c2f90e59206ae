"""The prospects a scenario talks about, and rows that name them as taps do.

Three disjoint pools, so that each prospect has one kind of key in the streams:
- by email (``email`` only, in case variants; some exist before the run, some in
  mixed case);
- by Salesforce id (``fid`` and ``email``; AMPSEA accounts only: v3 has no fid);
- by Pardot id (``id`` of a prospect that existed before the run).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from tests.simulation.scenario import (
    CUSTOM_FIELDS,
    MEMBERSHIP_LISTS,
    Account,
    PreRef,
    SeededProspect,
)

#: A value the prospect field `score` refuses (an integer field): the row is rejected.
BAD_SCORE = "not a number"
#: A cell that is empty as a CSV tap writes it, and one that is only whitespace.
EMPTY_CELLS = ("", "  ")


def case_variant(rng: random.Random, email: str) -> str:
    local, _, domain = email.partition("@")
    choice = rng.randrange(3)
    if choice == 0:
        return email.upper()
    if choice == 1:
        return local.capitalize() + "@" + domain.capitalize()
    return local + "@" + domain.upper()


@dataclass
class Identities:
    emails: list[str]
    fids: list[tuple[str, str]]
    seeded: list[SeededProspect]
    #: Seeded indices addressed by id, and the indices of every seeded prospect.
    by_id: list[int] = field(default_factory=list)
    next_email: int = 0
    #: Rows may carry `match_email` (AMPSEA with upsert_by_email only).
    renames: bool = False
    rename_rate: float = 0.05

    def prospect_rows(self, rng: random.Random, *, operation: str, email_rows: bool
                      ) -> list[dict[str, Any]]:
        """Rows of one prospect stream (some with a value Pardot must refuse).
        ``email_rows``: email-only rows are upserts (v5, v3, import), not creates."""
        count = rng.choice((3, 8, 20, 45, 60, 120))
        if len(self.emails) > 50:
            count = 2 * len(self.emails)
        kinds = []
        if email_rows:
            kinds.append("email")
        if operation == "sync":
            kinds.append("id")
            if self.fids:
                kinds.append("fid")
        variants = rng.random() < 0.5
        rows: list[dict[str, Any]] = []
        for _ in range(count):
            kind = rng.choice(kinds)
            row = self.keyed_row(rng, kind, variants=variants)
            if kind == "email" and self.renames and operation == "sync" and (
                    rng.random() < self.rename_rate):
                row = self.rename_row(rng, row)
            row.update(field_values(rng))
            if rng.random() < 0.03:
                row["score"] = BAD_SCORE
            rows.append(row)
        return rows

    def keyed_row(self, rng: random.Random, kind: str, *, variants: bool) -> dict[str, Any]:
        if kind == "id":
            return {"id": PreRef(rng.choice(self.by_id))}
        if kind == "fid":
            fid, email = rng.choice(self.fids)
            return {"fid": fid, "email": email}
        email = rng.choice(self.emails)
        if variants and rng.random() < 0.3:
            email = case_variant(rng, email)
        return {"email": email}

    def rename_row(self, rng: random.Random, row: dict[str, Any]) -> dict[str, Any]:
        """A row that changes a prospect's email (`match_email`): the old address stays in
        the pool as a key that may create a new prospect later."""
        self.next_email += 1
        new = f"renamed{self.next_email}.{rng.randrange(1000)}@sim.example"
        self.emails.append(new)
        return {"match_email": row["email"], "email": new}

    def membership_rows(self, rng: random.Random, *, mirror: bool) -> list[dict[str, Any]]:
        if mirror:
            rows = []
            for list_id in rng.sample(MEMBERSHIP_LISTS, k=rng.randint(1, 2)):
                members = rng.sample(range(len(self.seeded)),
                                     k=rng.randint(1, len(self.seeded)))
                rows += [{"list_id": list_id, "prospect_id": PreRef(i)} for i in members]
            rng.shuffle(rows)
            return rows
        return [{"list_id": rng.choice(MEMBERSHIP_LISTS),
                 "prospect_id": PreRef(rng.randrange(len(self.seeded)))}
                for _ in range(rng.choice((1, 4, 12, 60)))]


def row_keys(row: dict[str, Any]) -> set[Any]:
    """Every way the row names a prospect (emails in lowercase)."""
    keys: set[Any] = set()
    for name in ("id", "fid", "email", "match_email"):
        value = row.get(name)
        if value is not None:
            keys.add(value.lower() if isinstance(value, str) else value)
    return keys


def once_each(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that name a prospect no earlier row named."""
    named: set[Any] = set()
    kept = []
    for row in rows:
        keys = row_keys(row)
        if not keys & named:
            kept.append(row)
        named |= keys
    return kept


def field_values(rng: random.Random) -> dict[str, Any]:
    """Some of the fields, as a tap writes them: text, unicode, numbers, dates, null or
    empty cells, and custom fields under several spellings."""
    values: dict[str, Any] = {}
    for name, pool in (("first_name", NAMES), ("company", COMPANIES), ("city", CITIES),
                       ("comments", COMMENTS)):
        if rng.random() < 0.5:
            values[name] = rng.choice(pool)
    if rng.random() < 0.4:
        values["score"] = rng.randrange(0, 500)
    if rng.random() < 0.3:
        custom = rng.choice(CUSTOM_FIELDS)
        spelling = rng.choice((custom, custom + "__c", custom.upper()))
        values[spelling] = rng.choice(("blue", "gold", "Ünïcode", "12.5"))
    for name in list(values):
        roll = rng.random()
        if roll < 0.08:
            values[name] = None
        elif roll < 0.14 and name not in ("score",):
            values[name] = rng.choice(EMPTY_CELLS)
    return values


def draw_identities(rng: random.Random, account: Account, *, many: bool = False
                    ) -> Identities:
    """``many``: more email prospects than one batch call holds (50)."""
    count = rng.randint(3, 30)
    if many:
        count += 60
    emails = [f"e{n}.{rng.randrange(1000)}@sim.example" for n in range(count)]
    fids = []
    if account.ampsea:
        fids = [(f"00Q{rng.randrange(10**14):015d}", f"f{n}@fid.example")
                for n in range(rng.randint(0, 10))]
    seeded: list[SeededProspect] = []
    by_id = []
    for n in range(rng.randint(2, 8)):
        by_id.append(len(seeded))
        seeded.append(SeededProspect(email=f"i{n}@seed.example",
                                     fields={"company": "seeded", "city": "Old Town"}))
    for email in rng.sample(emails, k=len(emails) // 3):
        stored = case_variant(rng, email) if rng.random() < 0.2 else email
        seeded.append(SeededProspect(email=stored, fields={"first_name": "Seeded"}))
    for fid, email in rng.sample(fids, k=len(fids) // 2):
        seeded.append(SeededProspect(email=email, fid=fid, fields={"company": "crm"}))
    return Identities(emails=emails, fids=fids, seeded=seeded, by_id=by_id)


NAMES = ("Ann", "Zoë", "Björk", "李", "O'Brien", "Renée", "Ωmega", "Ana María", "José")
COMPANIES = ("Acme", "Initech", "Globex & Co", "Société Générale", "東京", 'a"quote', "x,y")
CITIES = ("Paris", "Zürich", "São Paulo", "Kraków", "New York")
COMMENTS = ("line one\nline two", "2024-02-29", "2024-03-01T10:00:00Z", "emoji 🎉", "tab\there")
