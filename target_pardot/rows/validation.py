"""Record validation that costs about a dictionary lookup per column.

The SDK's validator (jsonschema, Draft 2020-12) walks the schema for every record and
is most of a target's own cost. Tap schemas are nearly always a flat object of typed
columns, so this module compiles such a schema into a table of allowed Python types
per column and checks a record against it directly. It only ever says "valid" when
jsonschema would agree; anything it cannot decide on its own (a keyword it does not
model, a value of an unexpected type, a missing required column) goes to the SDK's
validator, which gives the verdict and the error message. So verdicts and messages are
exactly the SDK's, and only valid rows of plain schemas take the fast road.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from itertools import repeat
from typing import Any, NamedTuple

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import JSONSchemaValidator

# Keywords that never constrain a value when formats are not validated.
_ANNOTATIONS = frozenset(
    {"description", "title", "default", "examples", "$comment", "readOnly", "writeOnly",
     "deprecated", "format", "contentEncoding", "contentMediaType"}
)  # fmt: skip
_TOP_LEVEL = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties",
                             "$schema", "$id"}  # fmt: skip

# JSON types as the Python types the SDK's JSON parser produces. Integral floats count
# as integers for jsonschema; they are left to it (a float is not in the integer set).
_PYTHON_TYPES: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float, decimal.Decimal}),
    "boolean": frozenset({bool}),
    "null": frozenset({type(None)}),
    "object": frozenset({dict}),
    "array": frozenset({list}),
}


class _Any:
    """A column whose schema accepts every value."""


ANY = _Any()
ColumnRule = frozenset[type] | _Any | None  # None: the fast check cannot decide


def _types_of(schema: Any) -> ColumnRule:
    """Python types a column's schema accepts, ANY, or None when it is not simple."""
    if schema is True or schema == {}:
        return ANY
    if not isinstance(schema, dict):
        return None
    keys = set(schema) - _ANNOTATIONS
    if keys == {"anyOf"} and isinstance(schema["anyOf"], list) and schema["anyOf"]:
        rules = [_types_of(option) for option in schema["anyOf"]]
        if any(rule is None for rule in rules):
            return None
        if any(rule is ANY for rule in rules):
            return ANY
        return frozenset().union(*rules)  # type: ignore[arg-type]
    if not keys:
        return ANY
    if keys != {"type"}:
        return None
    names = schema["type"]
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not names:
        return None
    if any(not isinstance(name, str) or name not in _PYTHON_TYPES for name in names):
        return None
    return frozenset().union(*(_PYTHON_TYPES[name] for name in names))


#: Every type the reader's JSON parser makes: what a column that takes anything accepts
#: on the fast road.
_PARSED_TYPES = frozenset().union(*_PYTHON_TYPES.values())


_contains = frozenset.__contains__


def _accepted(rule: ColumnRule) -> frozenset[type]:
    if rule is None:
        return frozenset()
    return _PARSED_TYPES if rule is ANY else rule  # type: ignore[return-value]


def _compile(schema: Any) -> tuple[dict[str, ColumnRule], tuple[str, ...], bool] | None:
    """(rule per column, required columns, other columns allowed), or None."""
    if not isinstance(schema, dict) or set(schema) - _TOP_LEVEL:
        return None
    kind = schema.get("type", "object")
    if kind != "object" and not (isinstance(kind, list) and "object" in kind):
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list):
        return None
    if not all(isinstance(name, str) for name in required):
        return None
    if extra is not True and extra is not False and extra != {}:
        return None
    rules = {name: _types_of(column) for name, column in properties.items()}
    return rules, tuple(required), extra is not False


class Problem(NamedTuple):
    """Why a row cannot be sent: its category in reports, and the reason."""

    category: str
    reason: str


#: A row nested deeper than the validator can walk: a value no Pardot field takes.
TOO_DEEP = Problem(
    "invalid_value", "the row is nested too deeply to be checked against the stream's schema"
)


class FastRecordValidator(JSONSchemaValidator):
    """The SDK's validator with a fast road for valid rows of plain schemas.

    Raises the SDK's InvalidRecord, with the SDK's message, for every invalid row.
    """

    def __init__(self, schema: dict, *, validate_formats: bool = False) -> None:
        super().__init__(schema, validate_formats=validate_formats)
        # With formats validated, "format" constrains values: leave it all to jsonschema.
        plan = None if validate_formats else _compile(schema)
        #: Per column, the value types certainly valid: every type the parser makes for a
        #: column that takes anything, none for a column only jsonschema can judge. A
        #: value of any other type is left to jsonschema (a slower road, the same verdict).
        self._accepts: dict[str, frozenset[type]] | None = None
        self._other: frozenset[type] = frozenset()
        self._required: tuple[str, ...] = ()
        if plan is not None:
            rules, self._required, extra_allowed = plan
            self._accepts = {name: _accepted(rule) for name, rule in rules.items()}
            self._other = _PARSED_TYPES if extra_allowed else frozenset()

    def is_plainly_valid(self, record: Mapping[str, Any]) -> bool:
        """True when the record is certainly valid; False means "ask jsonschema"."""
        accepts = self._accepts
        if accepts is None:
            return False
        # Per column, its value's type in the types it accepts: all in C, no bytecode
        # per column (a dict's keys and values come in the same order).
        accepted = map(accepts.get, record, repeat(self._other))
        if not all(map(_contains, accepted, map(type, record.values()))):
            return False
        required = self._required
        return not required or all(name in record for name in required)

    def validate(self, record: dict) -> None:
        if not self.is_plainly_valid(record):
            super().validate(record)

    def problem(self, record: dict) -> Problem | None:
        """The verdict on a row: None when it matches the schema, else why not."""
        if self.is_plainly_valid(record):
            return None
        try:
            super().validate(record)
        except InvalidRecord as exc:
            return Problem(
                "invalid_schema", f"does not match the stream's schema: {exc.error_message}"
            )
        except RecursionError:
            return TOO_DEEP
        return None
