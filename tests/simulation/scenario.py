"""What one simulated case is: an account, a pool of identities, and steps.

A scenario is plain data made by ``generator.generate(seed)``; the runner plays it and the
model predicts what Pardot must hold after each step. Rows name prospects that existed
before the run by ``PreRef`` (their index in the account's seed list), because their
Pardot ids are only known once the emulator has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Lists the membership streams use (pre-existing members live here).
MEMBERSHIP_LISTS = (11, 12, 13)
#: Lists `prospect_lists` flags use.
FLAG_LISTS = (21, 22)
#: The account's custom fields (v4 API names); the stream names them in several spellings.
CUSTOM_FIELDS = ("favorite_color", "loyalty_tier")
#: Campaign for prospects an import creates (`default_campaign_id`).
CAMPAIGN_ID = 7


@dataclass(frozen=True)
class PreRef:
    """A prospect present before the run: its index in ``Account.seeded``."""

    index: int


@dataclass
class SeededProspect:
    email: str
    fid: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Account:
    ampsea: bool
    v3_case_insensitive: bool
    seeded: list[SeededProspect]
    #: (list id, seeded index) memberships present before the run, none opted out.
    seeded_memberships: list[tuple[int, int]]

    @property
    def kind(self) -> str:
        if self.ampsea:
            return "AMPSEA (v4)"
        return "v3, emails " + ("case-insensitive" if self.v3_case_insensitive else "exact")


@dataclass
class Faults:
    """Emulator settings for one step (0 = off)."""

    fault_rate: float = 0.0
    applied_but_lost_rate: float = 0.0
    token_lifetime_calls: int | None = None
    reserved_slots: int = 0
    latency_ms: int = 0

    def emulator_settings(self) -> dict[str, Any]:
        return {
            "fault_rate": self.fault_rate,
            "fault_kinds": ["http500", "http503", "code183", "drop"],
            "applied_but_lost_rate": self.applied_but_lost_rate,
            "token_lifetime_calls": self.token_lifetime_calls,
            "reserved_slots": self.reserved_slots,
            "latency_ms": self.latency_ms,
        }

    def names(self) -> list[str]:
        found = []
        if self.fault_rate:
            found.append("transient")
        if self.applied_but_lost_rate:
            found.append("applied_but_lost")
        if self.token_lifetime_calls:
            found.append("token_expiry")
        if self.reserved_slots:
            found.append("error_66")
        return found


#: How a step's run is played: in this process, or as a real process that is killed.
INPROCESS, DAILY_LIMIT, SIGKILL, SIGTERM, SHARED_LEDGER = (
    "inprocess", "daily_limit", "sigkill", "sigterm", "shared_ledger")  # fmt: skip


@dataclass
class Step:
    """One run of the target (and its resumes), or a change to the account between runs."""

    #: "run", "restart" (a fresh account, same business unit) or "edit" (a Pardot user
    #: changes a prospect between runs).
    action: str
    stream: str = "prospects"
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: Target settings for this run (on top of the connection settings).
    settings: dict[str, Any] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    lifecycle: str = INPROCESS
    #: A STATE message after every this many rows (and one at the end).
    state_every: int = 10
    #: "db" (typed columns, absent keys) or "csv" (every cell a string, empty cells "").
    shape: str = "db"
    #: For "restart": the fresh account's prospects; for "edit": (seeded index, fields).
    account: Account | None = None
    edit: tuple[PreRef, dict[str, Any]] | None = None
    #: Rows the model expects the target to reject (by position in ``rows``).
    invalid_rows: frozenset[int] = frozenset()

    def describe(self) -> str:
        if self.action != "run":
            return self.action
        keys = sorted(self.settings)
        shown = ", ".join(f"{k}={self.settings[k]!r}" for k in keys)
        faults = "+".join(self.faults.names()) or "no faults"
        return (f"run {self.stream} x{len(self.rows)} ({self.shape}, {self.lifecycle}, "
                f"{faults}) {shown}")


@dataclass
class Scenario:
    seed: int
    account: Account
    steps: list[Step]
    #: The feature switches this case was generated with (see known_defects.py).
    features: frozenset[str] = frozenset()
    #: The switch made likely, if any (generator.generate's ``focus``).
    focus: str | None = None
