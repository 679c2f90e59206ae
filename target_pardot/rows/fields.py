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
class CustomField:
    """One custom field of the account, by its two API names (docs/wire-contract.md, R11).

    ``field_id`` (the custom-fields object's ``fieldId``) is the v3/v4 name, with or
    without a ``__c`` ending of its own; ``api_field_id`` (``apiFieldId``) is the v5 and
    import name, which Pardot computes as field_id + ``__c``, always.
    """

    field_id: str
    api_field_id: str

    @classmethod
    def from_names(cls, field_id: str | None, api_field_id: str | None) -> CustomField | None:
        """Either name alone is enough: the other follows Pardot's ``__c`` rule."""
        if field_id and api_field_id:
            return cls(field_id, api_field_id)
        if field_id:
            return cls(field_id, field_id + CUSTOM_SUFFIX)
        if api_field_id and api_field_id.endswith(CUSTOM_SUFFIX) and api_field_id != CUSTOM_SUFFIX:
            return cls(api_field_id[: -len(CUSTOM_SUFFIX)], api_field_id)
        return None


@dataclass(frozen=True)
class CustomFields:
    """The account's custom fields; internally a field goes by its v3/v4 name.

    A column matches a field case-insensitively (Pardot's own import code lowercases
    names), in this order: its v3/v4 name, else its v5 name, else its v3/v4 name
    without the ``__c`` it ends in (a column ``Legacy_Code`` for the field
    ``Legacy_Code__c``). The field is then sent under the account's spelling of the name
    each path uses. ``known=False``: the account's list could not be read; then a column
    ending in ``__c`` is sent verbatim everywhere, and no other column is a custom field.
    """

    known: bool = False
    by_lower_name: dict[str, str] = field(default_factory=dict, compare=False)
    v5_by_v4: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, fields: Iterable[CustomField], *, complete: bool = True) -> CustomFields:
        """The catalog of these fields; ``complete=False`` when only part of the list
        could be read, so that other ``__c`` columns keep the fallback rule."""
        ordered = sorted(set(fields), key=lambda f: (f.field_id, f.api_field_id))
        by_lower: dict[str, str] = {}
        # Later tiers overwrite earlier ones: the most exact spelling wins.
        for f in ordered:
            if f.field_id.lower().endswith(CUSTOM_SUFFIX) and len(f.field_id) > len(CUSTOM_SUFFIX):
                by_lower[f.field_id[: -len(CUSTOM_SUFFIX)].lower()] = f.field_id
        for f in ordered:
            by_lower[f.api_field_id.lower()] = f.field_id
        for f in ordered:
            by_lower[f.field_id.lower()] = f.field_id
        return cls(
            known=complete,
            by_lower_name=by_lower,
            v5_by_v4={f.field_id: f.api_field_id for f in ordered},
        )

    def ambiguous_names(self) -> list[str]:
        """Column spellings that name one field by one rule and another by a stricter one
        (a field ``X`` next to a field ``X__c``): each goes to the stricter match."""
        spellings: dict[str, set[str]] = {}
        for v4, v5 in self.v5_by_v4.items():
            names = [v4, v5]
            if v4.lower().endswith(CUSTOM_SUFFIX) and len(v4) > len(CUSTOM_SUFFIX):
                names.append(v4[: -len(CUSTOM_SUFFIX)])
            for name in names:
                spellings.setdefault(name.lower(), set()).add(v4)
        return sorted(name for name, owners in spellings.items() if len(owners) > 1)


#: Names remembered per FieldNames: a stream whose every row brings new column names
#: must not grow memory without bound.
MEMO_SIZE = 4096


class FieldNames:
    """How one account names its prospect fields: the standard set plus its custom fields.

    A value, not a process-wide setting: each run holds its own (``Runtime.field_names``)
    and hands it to the row functions that map names, so two runs in one process map
    columns by their own account. Lookups are memoised per instance (a name is mapped
    once per run, not once per row).
    """

    __slots__ = ("_pardot", "_v5", "custom", "pardot_name_of")

    def __init__(self, custom: CustomFields | None = None) -> None:
        self.custom = custom if custom is not None else CustomFields()
        self._pardot: dict[str, str | None] = {}
        self._v5: dict[str, str] = {}
        #: pardot_name as a mapping's lookup: the same answers, with no Python call for a
        #: name already mapped (map_record asks once per column of every row).
        self.pardot_name_of = _PardotNames(self).__getitem__

    def __repr__(self) -> str:
        return f"FieldNames(custom fields: {len(self.custom.v5_by_v4)}, known={self.custom.known})"

    def pardot_name(self, column: str) -> str | None:
        """The v4 field a column maps to, or None when it is not a prospect field.

        A custom field comes out under its v4 API name (see CustomFields).
        """
        try:
            return self._pardot[column]
        except KeyError:
            name = _pardot_name(column, self.custom)
            if len(self._pardot) < MEMO_SIZE:
                self._pardot[column] = name
            return name

    def v5_name(self, v4_name: str) -> str:
        """first_name -> firstName, fid -> salesforceId; a custom field goes by its v5 name
        (apiFieldId), or verbatim when the account's list is unknown and it ends in ``__c``."""
        try:
            return self._v5[v4_name]
        except KeyError:
            name = _v5_name(v4_name, self.custom)
            if len(self._v5) < MEMO_SIZE:
                self._v5[v4_name] = name
            return name


class _PardotNames(dict[str, "str | None"]):
    """column -> FieldNames.pardot_name(column), filled from the FieldNames' own memo."""

    __slots__ = ("_names",)

    def __init__(self, names: FieldNames) -> None:
        super().__init__()
        self._names = names

    def __missing__(self, column: str) -> str | None:
        name = self._names.pardot_name(column)
        if len(self) < MEMO_SIZE:
            self[column] = name
        return name


def _pardot_name(column: str, custom: CustomFields) -> str | None:
    field_id = custom.by_lower_name.get(column.lower())
    if field_id is not None:
        return field_id
    if column.endswith(CUSTOM_SUFFIX) and len(column) > len(CUSTOM_SUFFIX):
        return None if custom.known else column
    snake = to_snake_case(column)
    snake = _ALIASES.get(snake, snake)
    return snake if snake in _STANDARD else None


def _v5_name(v4_name: str, custom: CustomFields) -> str:
    api_field_id = custom.v5_by_v4.get(v4_name)
    if api_field_id is not None:
        return api_field_id
    if v4_name.endswith(CUSTOM_SUFFIX):
        return v4_name
    if v4_name in _V5_EXCEPTIONS:
        return _V5_EXCEPTIONS[v4_name]
    head, *rest = v4_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


#: The standard fields only, with the account's custom-field list unknown (a column
#: ending in ``__c`` is sent verbatim): before the list is read, or where none is.
STANDARD_NAMES = FieldNames()


#: The column that carries a prospect's current email when the row changes it.
MATCH_EMAIL_COLUMN = "match_email"


@lru_cache(maxsize=4096)
def is_match_email_column(column: str) -> bool:
    """match_email, matchEmail, MATCH_EMAIL: the address to match on (not a field)."""
    return to_snake_case(column) == MATCH_EMAIL_COLUMN
