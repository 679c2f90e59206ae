"""Pardot prospect field names: the standard set, input-name normalisation, v4 <-> v5."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

#: The standard prospect fields (Treasure Data's column table), in v4 snake_case.
STANDARD_PROSPECT_FIELDS: tuple[str, ...] = (
    "id", "fid", "email", "campaign_id", "salutation", "first_name", "last_name",
    "password", "company", "prospect_account_id", "website", "job_title", "department",
    "country", "address_one", "address_two", "city", "state", "territory", "zip", "phone",
    "fax", "source", "annual_revenue", "employees", "industry", "years_in_business",
    "comments", "notes", "score", "is_do_not_email", "is_do_not_call", "is_reviewed",
    "is_starred", "is_archived",
)  # fmt: skip
_STANDARD = frozenset(STANDARD_PROSPECT_FIELDS)

INTEGER_FIELDS = frozenset({"id", "campaign_id", "prospect_account_id", "score"})
BOOLEAN_FIELDS = frozenset(
    {"is_do_not_email", "is_do_not_call", "is_reviewed", "is_starred", "is_archived"}
)

#: Standard fields that hold text: a number or boolean for one is sent as its text.
TEXT_FIELDS = _STANDARD - INTEGER_FIELDS - BOOLEAN_FIELDS - {"fid", "email"}

#: Other spellings users bring from their warehouses, after snake-casing.
_ALIASES = {
    "salesforce_id": "fid",
    "crm_fid": "fid",
    "prospect_id": "id",
    "email_address": "email",
}

#: v4 name -> v5 name where the v5 name is not plain camelCase.
_V5_EXCEPTIONS = {"fid": "salesforceId"}

CUSTOM_SUFFIX = "__c"

_SEPARATORS = re.compile(r"[\s\-.]+")
_LOWER_UPPER = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ACRONYM_WORD = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")


def to_snake_case(name: str) -> str:
    """FirstName, firstName, FIRST_NAME and 'first name' all become first_name."""
    text = _SEPARATORS.sub("_", name.strip())
    text = _LOWER_UPPER.sub("_", text)
    text = _ACRONYM_WORD.sub("_", text)
    return re.sub(r"_+", "_", text).strip("_").lower()


@dataclass(frozen=True)
class CustomFields:
    """The account's custom fields, by their v4 API name (``field_id``).

    v3/v4 address a custom field by its field_id exactly, which often has no ``__c``;
    v5 (prospects, imports) names it field_id + ``__c``, always (docs/wire-contract.md,
    R11). A column matches a field by either name, case-insensitively (Pardot's own
    import code lowercases them), and is sent under the account's spelling.
    ``known=False``: the account's list could not be read; then a column ending in
    ``__c`` is sent verbatim everywhere, and no other column is a custom field.
    """

    v4_names: frozenset[str] = frozenset()
    known: bool = False
    by_lower_name: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_v5_names(cls, names: Iterable[str]) -> CustomFields:
        v4 = {n[: -len(CUSTOM_SUFFIX)] if n.endswith(CUSTOM_SUFFIX) else n for n in names if n}
        by_lower: dict[str, str] = {}
        for name in sorted(v4):
            by_lower[name.lower()] = name
            by_lower[(name + CUSTOM_SUFFIX).lower()] = name
        return cls(frozenset(v4), known=True, by_lower_name=by_lower)


class _Catalog:
    """The run's custom fields; set once at the start of a run by use_custom_fields()."""

    current = CustomFields()


def use_custom_fields(custom: CustomFields) -> None:
    """Make ``custom`` the catalog the name functions use (before any row is mapped)."""
    _Catalog.current = custom
    pardot_field_name.cache_clear()
    v5_field_name.cache_clear()


def custom_fields() -> CustomFields:
    return _Catalog.current


@lru_cache(maxsize=4096)
def pardot_field_name(column: str) -> str | None:
    """The v4 field a column maps to, or None when it is not a prospect field.

    A custom field comes out under its v4 API name (see CustomFields).
    """
    catalog = _Catalog.current
    custom = catalog.by_lower_name.get(column.lower())
    if custom is not None:
        return custom
    if column.endswith(CUSTOM_SUFFIX) and len(column) > len(CUSTOM_SUFFIX):
        return None if catalog.known else column
    snake = to_snake_case(column)
    snake = _ALIASES.get(snake, snake)
    return snake if snake in _STANDARD else None


@lru_cache(maxsize=4096)
def v5_field_name(v4_name: str) -> str:
    """first_name -> firstName, fid -> salesforceId; a custom field gets ``__c`` (kept
    verbatim when the account's list is unknown)."""
    if v4_name in _Catalog.current.v4_names:
        return v4_name + CUSTOM_SUFFIX
    if v4_name.endswith(CUSTOM_SUFFIX):
        return v4_name
    if v4_name in _V5_EXCEPTIONS:
        return _V5_EXCEPTIONS[v4_name]
    head, *rest = v4_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


#: The column that carries a prospect's current email when the row changes it.
MATCH_EMAIL_COLUMN = "match_email"


@lru_cache(maxsize=4096)
def is_match_email_column(column: str) -> bool:
    """match_email, matchEmail, MATCH_EMAIL: the address to match on (not a field)."""
    return to_snake_case(column) == MATCH_EMAIL_COLUMN
