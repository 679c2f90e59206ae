"""Audience rows as marketers have them: memberships keyed by email and lists by name.
Pure functions, no I/O.

* A membership row names its list by ``list_id`` or ``list_name``, and its prospect by
  ``prospect_id`` or ``email``.
* An email names the prospect Pardot's ``upsertLatestByEmail`` would pick: "the most
  recently updated prospect by the email supplied" (guide:transitioning-v5). Only the
  live prospects count (a v5 query leaves deleted ones out by default); two with the same
  ``updatedAt`` go to the larger id, the newer prospect [guess, docs/wire-contract.md G17].
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from target_pardot.rows.keys import is_absent_key
from target_pardot.rows.memberships import MembershipRow, _explicit_boolean, _positive_id
from target_pardot.rows.payloads import InvalidRow, clean_email, shorten

#: Longest list name Pardot takes [guess: the v4 list object's name is a string; 255 is
#: the usual column size]; a longer one is refused before any call.
MAX_LIST_NAME = 255


@dataclass(frozen=True)
class ListRef:
    """How a row or a setting names a list: by id, or by name."""

    list_id: int | None = None
    name: str | None = None

    def __str__(self) -> str:
        return str(self.list_id) if self.list_id is not None else repr(self.name)


@dataclass(frozen=True)
class EmailMembership:
    """A membership whose prospect is named by email, waiting for its prospect id."""

    list_id: int
    email: str
    opted_out: bool | None

    @property
    def key(self) -> str:
        return f"list_id={self.list_id}, email={self.email}"

    def with_prospect(self, prospect_id: int) -> MembershipRow:
        return MembershipRow(self.list_id, prospect_id, self.opted_out)


@dataclass(frozen=True)
class KeyedMembership:
    """A validated membership row before its list name and email are resolved."""

    list_ref: ListRef
    prospect_id: int | None
    email: str | None
    opted_out: bool | None


def list_name_of(value: Any) -> str:
    """A list name as given, without surrounding spaces; InvalidRow when unusable."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRow("invalid_value",
                         f"'list_name' must be a non-empty text, got {shorten(repr(value))}")
    name = value.strip()
    if len(name) > MAX_LIST_NAME:
        raise InvalidRow("invalid_value",
                         f"'list_name' is {len(name)} characters; the limit is {MAX_LIST_NAME}")
    return name


def name_key(name: str) -> str:
    """Names that differ only in case or surrounding spaces are one name [guess]: a list
    made for "webinar q4" beside "Webinar Q4" would be two lists with one name to a
    marketer."""
    return " ".join(name.split()).casefold()


def prepare_keyed_membership(record: Mapping[str, Any], *, lowercase_emails: bool
                             ) -> KeyedMembership:  # fmt: skip
    """Validate a membership record keyed by id or by name and email."""
    # A blank key cell is absent (rows/keys.py): a blank list_id leaves the name to speak.
    if not is_absent_key(record.get("list_id")) or record.get("list_name") is None:
        ref = ListRef(list_id=_positive_id(record, "list_id"))
    else:
        ref = ListRef(name=list_name_of(record["list_name"]))
    prospect_id: int | None = None
    email: str | None = None
    if not is_absent_key(record.get("prospect_id")) or is_absent_key(record.get("email")):
        try:
            prospect_id = _positive_id(record, "prospect_id")
        except InvalidRow as exc:
            if exc.category == "missing_key":
                raise InvalidRow("missing_key", "the row has no 'prospect_id' or 'email'") from None
            raise
    else:
        email = clean_email(record["email"], lowercase=lowercase_emails)
        if not email:
            raise InvalidRow("missing_key", "the row has no 'prospect_id' or 'email'")
    return KeyedMembership(ref, prospect_id, email, _explicit_boolean(record.get("opted_out")))


def _moment(value: Any) -> datetime.datetime:
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment
    return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def latest_by_email(prospects: Iterable[Mapping[str, Any]]) -> dict[str, tuple[Any, int]]:
    """email -> (updatedAt, id) of the prospect upsertLatestByEmail would pick, from
    v5 query values (``id``, ``email``, ``updatedAt``)."""
    best: dict[str, tuple[Any, int]] = {}
    for prospect in prospects:
        pid, email = prospect.get("id"), prospect.get("email")
        if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(email, str):
            continue
        candidate = (_moment(prospect.get("updatedAt")), pid)
        if email not in best or candidate > best[email]:
            best[email] = candidate
    return best
