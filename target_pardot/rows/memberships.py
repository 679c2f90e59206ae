"""List-membership rows: one record -> a validated (list, prospect, opted_out) row, and the
batch element that carries a prospect's list flags. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from target_pardot.rows.keys import is_absent_key
from target_pardot.rows.payloads import InvalidRow, is_ascii_digits, list_flags, shorten


@dataclass(frozen=True)
class MembershipRow:
    """One list membership. ``opted_out`` is None unless the row carried the column."""

    list_id: int
    prospect_id: int
    opted_out: bool | None

    @property
    def key(self) -> str:
        return f"list_id={self.list_id}, prospect_id={self.prospect_id}"


def _positive_id(record: Mapping[str, Any], name: str) -> int:
    value = record.get(name)
    if is_absent_key(value):
        raise InvalidRow("missing_key", f"the row has no '{name}'")
    text = str(value).strip()
    if isinstance(value, bool) or not is_ascii_digits(text) or int(text) <= 0:
        raise InvalidRow(
            "invalid_value",
            f"'{name}' must be a positive whole number, got {shorten(repr(value))}",
        )
    return int(text)


def _explicit_boolean(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1"}:
        return True
    if text in {"false", "0"}:
        return False
    raise InvalidRow(
        "invalid_value", f"'opted_out' must be true or false, got {shorten(repr(value))}"
    )


def prepare_membership(record: Mapping[str, Any]) -> MembershipRow:
    """Validate a list-membership record. Opting out is never implied: only an explicit
    `opted_out` column opts a prospect out, because the API cannot undo it."""
    return MembershipRow(
        list_id=_positive_id(record, "list_id"),
        prospect_id=_positive_id(record, "prospect_id"),
        opted_out=_explicit_boolean(record.get("opted_out")),
    )


def group_memberships_by_prospect(rows: Iterable[Any], *, key: Any) -> dict[int, list[Any]]:
    """Group items by prospect id, keeping input order, so one batch element carries all
    of a prospect's lists."""
    groups: dict[int, list[Any]] = {}
    for item in rows:
        groups.setdefault(key(item).prospect_id, []).append(item)
    return groups


def membership_element(prospect_id: int, list_ids: Iterable[int], *, add: bool) -> dict[str, Any]:
    return {"id": prospect_id, **list_flags(list_ids, add=add)}
