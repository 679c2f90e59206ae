"""Prospect fields: the standard v4 list, the v5 camelCase names, value checks.

The standard list is the prospect column table of the Treasure Data Pardot
connector guide (seed 000), which is Pardot's v4 prospect field reference.
Custom fields are any ``<name>__c``. Anything else is rejected.
"""

from __future__ import annotations

import re
from typing import Any

# (v4 name, type) in the seed table's order. Types: int, str, bool.
STANDARD_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "int"),
    ("fid", "str"),
    ("email", "str"),
    ("campaign_id", "int"),
    ("salutation", "str"),
    ("first_name", "str"),
    ("last_name", "str"),
    ("password", "str"),
    ("company", "str"),
    ("prospect_account_id", "int"),
    ("website", "str"),
    ("job_title", "str"),
    ("department", "str"),
    ("country", "str"),
    ("address_one", "str"),
    ("address_two", "str"),
    ("city", "str"),
    ("state", "str"),
    ("territory", "str"),
    ("zip", "str"),
    ("phone", "str"),
    ("fax", "str"),
    ("source", "str"),
    ("annual_revenue", "str"),
    ("employees", "str"),
    ("industry", "str"),
    ("years_in_business", "str"),
    ("comments", "str"),
    ("notes", "str"),
    ("score", "int"),
    ("is_do_not_email", "bool"),
    ("is_do_not_call", "bool"),
    ("is_reviewed", "bool"),
    ("is_starred", "bool"),
    ("is_archived", "bool"),
)

FIELD_TYPES: dict[str, str] = dict(STANDARD_FIELDS)
V4_FIELDS: frozenset[str] = frozenset(FIELD_TYPES)

# The store keeps prospects under v4 names, except that v4 ``fid`` is stored
# as ``crm_fid`` (the Salesforce lead/contact id).
STORE_NAME: dict[str, str] = {name: ("crm_fid" if name == "fid" else name) for name in FIELD_TYPES}
STORE_FIELDS: tuple[str, ...] = tuple(STORE_NAME[name] for name, _ in STANDARD_FIELDS)
STORE_TYPES: dict[str, str] = {STORE_NAME[n]: t for n, t in STANDARD_FIELDS}


def snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)


# v5 camelCase name -> store name. fid is salesforceId in v5.
V5_TO_STORE: dict[str, str] = {
    ("salesforceId" if name == "fid" else snake_to_camel(name)): STORE_NAME[name]
    for name, _ in STANDARD_FIELDS
}
STORE_TO_V5: dict[str, str] = {v: k for k, v in V5_TO_STORE.items()}
# Read-only v5 fields that may be requested in ``fields`` but never written.
V5_READ_ONLY: dict[str, str] = {
    "id": "id",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "lastActivityAt": "last_activity_at",
    "isDeleted": "deleted",
}

CUSTOM_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*__c$")
LIST_FLAG_RE = re.compile(r"^list_(\d+)$")

MAX_EMAIL_LEN = 255
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
EMAIL_RE = re.compile(rf"^{_LOCAL}@{_DOMAIN}$")


def is_custom(name: str) -> bool:
    return CUSTOM_RE.match(name) is not None


def valid_email(value: Any) -> bool:
    return (isinstance(value, str) and len(value) <= MAX_EMAIL_LEN
            and EMAIL_RE.match(value) is not None)


class FieldValueError(ValueError):
    """A field value that Pardot would refuse. ``code`` is the Pardot error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Error for a non-integer value in each integer field (codes from Pardot's table).
INT_FIELD_ERRORS: dict[str, tuple[int, str]] = {
    "id": (3, "Invalid prospect ID"),
    "campaign_id": (38, "Invalid campaign ID"),
    "prospect_account_id": (61, "Invalid prospect account id"),
    "score": (29, "Invalid value specified for score"),
}

_TRUE = ("1", "true")
_FALSE = ("0", "false")


def coerce_int(value: Any) -> int | None:
    """An integer or a string of digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def coerce_bool_v4(value: Any) -> bool | None:
    """v4 booleans: true/false/1/0 as JSON or strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    return None


def v4_value(store_name: str, value: Any) -> Any:
    """Check and normalise one v4 value for a standard field (store name).

    v4 is form-based and lenient about scalar types: numbers are accepted for
    text fields. Raises FieldValueError."""
    ftype = STORE_TYPES[store_name]
    if ftype == "str" and type(value) is str and store_name != "email":
        return value  # the common case, first
    if ftype == "int":
        iv = coerce_int(value)
        if iv is None:
            code, msg = INT_FIELD_ERRORS[store_name]
            raise FieldValueError(code, msg)
        return iv
    if ftype == "bool":
        bv = coerce_bool_v4(value)
        if bv is None:
            raise FieldValueError(50, "Invalid boolean")
        return bv
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise FieldValueError(90, "Prospect array should be a flat array of attributes")
    if store_name == "email" and not valid_email(value):
        raise FieldValueError(4, "Invalid prospect email address")
    return value


def custom_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        raise FieldValueError(90, "Prospect array should be a flat array of attributes")
    return value


def v5_value(store_name: str, value: Any) -> Any:
    """Check one v5 (JSON-typed) value; stricter than v4. None clears the field."""
    if value is None:
        if store_name == "email":
            raise FieldValueError(4, "Invalid prospect email address")
        return None
    ftype = STORE_TYPES[store_name]
    if ftype == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldValueError(154, f"Invalid property in request: {STORE_TO_V5[store_name]} "
                                       "must be an integer")
        return value
    if ftype == "bool":
        if not isinstance(value, bool):
            raise FieldValueError(154, f"Invalid property in request: {STORE_TO_V5[store_name]} "
                                       "must be a boolean")
        return value
    if not isinstance(value, str):
        raise FieldValueError(154, f"Invalid property in request: {STORE_TO_V5[store_name]} "
                                   "must be a string")
    if store_name == "email" and not valid_email(value):
        raise FieldValueError(4, "Invalid prospect email address")
    return value


def csv_value(store_name: str, value: str) -> Any:
    """Check one import CSV cell (non-empty) for a standard field."""
    ftype = STORE_TYPES[store_name]
    if ftype == "int":
        iv = coerce_int(value.strip())
        if iv is None:
            raise FieldValueError(154, f"Invalid value for {STORE_TO_V5[store_name]}: {value!r}")
        return iv
    if ftype == "bool":
        bv = coerce_bool_v4(value)
        if bv is None:
            raise FieldValueError(154, f"Invalid value for {STORE_TO_V5[store_name]}: {value!r}")
        return bv
    if store_name == "email" and not valid_email(value):
        raise FieldValueError(4, "Invalid prospect email address")
    return value
