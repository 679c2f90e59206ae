"""What Pardot must hold: a reference model written from the account's documented
matching rules, not from the target's code.

- A row's key: `id`, else `fid` (AMPSEA), else `email`; an empty or whitespace cell in a
  key column is no key at all.
- Email matching: exact on AMPSEA accounts (v5 `upsertLatestByEmail` and the import pick
  the live prospect with the latest activity); on v3 accounts, ignoring case or exact as
  the account does; a v3 match keeps the stored email.
- `match_email`: the prospect with the old address takes the new one (else it is created).
- `empty_values` (docs/safe-defaults.md): a null, empty or whitespace-only value of a
  non-key field leaves the field as it is (`skip`, the default) or clears it (`clear`); a
  number field (`score`) has no empty value Pardot takes, so a blank one is left as it is.
- `prospect_lists` flags of a delivered row add or remove its memberships.
- Membership streams: upsert adds, delete removes, mirror makes each named list hold the
  stream's prospects unless the removals pass `mirror_max_removal_percent`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from target_pardot.settings_table import SETTINGS
from tests.simulation.scenario import CUSTOM_FIELDS, Account

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}
KEY_COLUMNS = ("id", "fid", "email", "match_email")
CUSTOM_BY_SPELLING = {name.lower(): name + "__c" for name in CUSTOM_FIELDS} | {
    name.lower() + "__c": name + "__c" for name in CUSTOM_FIELDS}


#: Fields that hold a number: Pardot refuses "" for them, and no other way to clear one is
#: documented, so `empty_values: clear` leaves them (docs/safe-defaults.md).
NUMBER_FIELDS = frozenset({"score"})


def blank(value: Any) -> bool:
    """A null, empty or whitespace-only value: `empty_values` says what it does."""
    return value is None or (isinstance(value, str) and not value.strip())


def key_value(value: Any) -> Any:
    """A key cell's value, None when the cell is null, empty or whitespace."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value.strip() if isinstance(value, str) else value


def store_name(column: str) -> str:
    return CUSTOM_BY_SPELLING.get(column.lower(), column)


def setting(settings: dict[str, Any], name: str) -> Any:
    if name in settings:
        return settings[name]
    known = SETTINGS_BY_NAME.get(name)
    return known.default if known is not None else None


@dataclass
class Prospect:
    mid: int
    #: Pardot id, known for prospects that existed before the run.
    pardot_id: int | None
    fields: dict[str, Any]
    activity: int = 0


@dataclass
class StepEffect:
    """What one step must do beyond the store: its exit code and rejected rows."""

    expected_exit: int = 0
    rejected: int = 0
    touched: set[int] = field(default_factory=set)
    touched_pairs: set[tuple[int, int]] = field(default_factory=set)


class Model:
    def __init__(self, account: Account, pardot_ids: list[int]) -> None:
        self.ampsea = account.ampsea
        self.v3_case_insensitive = account.v3_case_insensitive
        self.prospects: dict[int, Prospect] = {}
        self.memberships: set[tuple[int, int]] = set()
        self.clock = 0
        for index, (seeded, pardot_id) in enumerate(zip(account.seeded, pardot_ids,
                                                        strict=True)):
            fields = {"email": seeded.email, "crm_fid": seeded.fid, **seeded.fields}
            self.prospects[index] = Prospect(index, pardot_id, fields, self.tick())
        for list_id, index in account.seeded_memberships:
            self.memberships.add((list_id, index))

    def copy(self) -> Model:
        return copy.deepcopy(self)

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    # ------------------------------------------------------------------ matching

    def email_key(self, email: str) -> str:
        if not self.ampsea and self.v3_case_insensitive:
            return email.lower()
        return email

    def by_email(self, email: str) -> Prospect | None:
        key = self.email_key(email)
        found = [p for p in self.prospects.values()
                 if p.fields.get("email") is not None and self.email_key(p.fields["email"]) == key]
        return max(found, key=lambda p: p.activity) if found else None

    def by_fid(self, fid: str) -> Prospect | None:
        found = [p for p in self.prospects.values() if p.fields.get("crm_fid") == fid]
        return max(found, key=lambda p: p.activity) if found else None

    def by_pardot_id(self, pardot_id: int) -> Prospect | None:
        for p in self.prospects.values():
            if p.pardot_id == pardot_id:
                return p
        return None

    def create(self, fields: dict[str, Any]) -> Prospect:
        mid = max(self.prospects, default=-1) + 1
        prospect = Prospect(mid, None, {"crm_fid": None, **fields}, self.tick())
        self.prospects[mid] = prospect
        return prospect

    # ------------------------------------------------------------------ prospect rows

    def apply_prospect_row(self, row: dict[str, Any], settings: dict[str, Any],
                           effect: StepEffect) -> None:
        lowercase = bool(setting(settings, "lowercase_emails"))
        email = key_value(row.get("email"))
        if email is not None and lowercase:
            email = email.lower()
        match_email = key_value(row.get("match_email"))
        if match_email is not None and lowercase:
            match_email = match_email.lower()
        prospect_id, fid = key_value(row.get("id")), key_value(row.get("fid"))
        target: Prospect | None
        if prospect_id is not None:
            target = self.by_pardot_id(int(prospect_id))
            assert target is not None, f"row names an unknown id: {row}"
        elif fid is not None:
            target = self.by_fid(fid)
            if target is None:
                target = self.create({"email": email, "crm_fid": fid})
        elif match_email is not None:
            target = self.by_email(match_email)
            if target is None:
                target = self.create({"email": email})
        else:
            assert email is not None, f"row without a key: {row}"
            target = self.by_email(email)
            if target is None:
                target = self.create({"email": email})
            else:
                email = None if not self.ampsea else email  # a v3 match keeps its email
        if email is not None and (prospect_id is None or fid is not None or match_email):
            target.fields["email"] = email
        self.set_fields(target, row, settings)
        target.activity = self.tick()
        effect.touched.add(target.mid)
        self.apply_flags(target.mid, settings, effect)

    def set_fields(self, target: Prospect, row: dict[str, Any], settings: dict[str, Any]
                   ) -> None:
        clear = setting(settings, "empty_values") == "clear"
        for column, value in row.items():
            if column in KEY_COLUMNS:
                continue
            if blank(value):
                if clear and store_name(column) not in NUMBER_FIELDS:
                    target.fields[store_name(column)] = None
                continue
            target.fields[store_name(column)] = value

    def apply_flags(self, mid: int, settings: dict[str, Any], effect: StepEffect) -> None:
        lists = settings.get("prospect_lists")
        if not lists:
            return
        add = setting(settings, "prospect_list_operation") == "add"
        for list_id in (int(x) for x in str(lists).split(",")):
            pair = (list_id, mid)
            effect.touched_pairs.add(pair)
            if add:
                self.memberships.add(pair)
            else:
                self.memberships.discard(pair)

    # ------------------------------------------------------------------ membership rows

    def apply_memberships(self, rows: list[dict[str, Any]], settings: dict[str, Any],
                          effect: StepEffect) -> None:
        operation = setting(settings, "list_membership_operation")
        pairs = [(int(r["list_id"]), self.mid_of(int(r["prospect_id"]))) for r in rows]
        effect.touched_pairs.update(pairs)
        # A membership change is a change to its prospect (Pardot stamps `updated_at`).
        effect.touched.update(mid for _, mid in pairs)
        if operation == "upsert":
            self.memberships.update(pairs)
        elif operation == "delete":
            self.memberships.difference_update(pairs)
        else:
            self.mirror(pairs, settings, effect)

    def mirror(self, pairs: list[tuple[int, int]], settings: dict[str, Any],
               effect: StepEffect) -> None:
        limit = float(setting(settings, "mirror_max_removal_percent"))
        for list_id in sorted({list_id for list_id, _ in pairs}):
            wanted = {pair for pair in pairs if pair[0] == list_id}
            current = {pair for pair in self.memberships if pair[0] == list_id}
            removals = current - wanted
            effect.touched_pairs.update(current)
            effect.touched.update(mid for _, mid in current)
            self.memberships.update(wanted)
            if current and len(removals) * 100 / len(current) > limit:
                effect.expected_exit = 1
                continue
            self.memberships.difference_update(removals)

    def mid_of(self, pardot_id: int) -> int:
        prospect = self.by_pardot_id(pardot_id)
        assert prospect is not None, f"membership names an unknown prospect {pardot_id}"
        return prospect.mid

    # ------------------------------------------------------------------ a whole step

    def apply_step(self, stream: str, rows: list[dict[str, Any]], settings: dict[str, Any],
                   invalid: frozenset[int]) -> StepEffect:
        effect = StepEffect()
        if stream == "list_memberships":
            self.apply_memberships(rows, settings, effect)
            return effect
        for position, row in enumerate(rows):
            if position in invalid:
                effect.rejected += 1
                continue
            self.apply_prospect_row(row, settings, effect)
        limit = setting(settings, "max_rejected_percent")
        if limit is not None and rows and effect.rejected * 100 / len(rows) > float(limit):
            effect.expected_exit = 1
        return effect

    def edit(self, pardot_id: int, change: dict[str, Any]) -> None:
        prospect = self.by_pardot_id(pardot_id)
        assert prospect is not None
        prospect.fields.update(change)
        prospect.activity = self.tick()
