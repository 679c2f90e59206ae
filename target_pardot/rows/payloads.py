"""Pure functions: a record becomes a v4 batch element or a v5 request body.

Nothing here does I/O, so every rule (field mapping, null handling, email clean-up, the
7,500-character row rule, batching by count and size) is unit-tested directly.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from json import encoder as json_encoder
from typing import Any, NamedTuple

from target_pardot.pardot.limits import MAX_BATCH_ROWS, MAX_ROW_JSON_CHARS
from target_pardot.rows.fields import (
    BOOLEAN_FIELDS,
    INTEGER_FIELDS,
    STANDARD_NAMES,
    TEXT_FIELDS,
    FieldNames,
    is_match_email_column,
)
from target_pardot.rows.keys import KEY_FIELDS, is_absent_key
from target_pardot.rows.unusable import UnusableValue


class InvalidRow(ValueError):
    """The row cannot be sent; ``category`` is the short reason counted in the summary."""

    def __init__(self, category: str, message: str):
        super().__init__(message)
        self.category = category
        self.message = message


class ProspectRow(NamedTuple):
    """One prospect ready to send. ``fields`` are v4 names, nulls already dropped;
    ``text`` is their compact JSON with sorted keys, kept from the row-length check.

    A named tuple, immutable: one is made for every row, and a frozen dataclass's
    __init__ (one object.__setattr__ per field) took several times as long."""

    fields: dict[str, Any]
    key: str
    text: str = ""
    #: The address to match on when the row changes a prospect's email (v5 matchEmail).
    match_email: str | None = None
    #: Non-key fields the row left blank (skipped or cleared, as empty_values says).
    blank_fields: int = 0

    @property
    def lookup_email(self) -> str:
        """The email that identifies the prospect: the old one when it is changing."""
        return self.match_email or str(self.fields["email"])


#: Decimals beyond this many digits before the point are not numbers Pardot can hold;
#: converting them to int would also take time and memory without bound (1e999999999).
_MAX_INTEGER_DIGITS = 100


class _NeedsExactDigits(Exception):
    """A decimal no float writes with the same digits: the row takes the exact road."""


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return _decimal_number(value)
    if isinstance(value, UnusableValue):
        raise InvalidRow("invalid_value", f"a value {value.reason}")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def decimal_text(value: decimal.Decimal) -> str:
    """The digits of a decimal as the tap sent them (``2.50``, ``123456789.0123456789``);
    InvalidRow when it is no finite JSON number."""
    if not value.is_finite() or value.adjusted() >= _MAX_INTEGER_DIGITS:
        raise InvalidRow("invalid_value", f"the number {shorten(str(value))} is out of range")
    return str(value)


def _decimal_number(value: decimal.Decimal) -> int | float:
    """The int or float that the JSON encoder writes with exactly the decimal's digits.
    A float holds about 17 significant digits and drops trailing zeros, so any other
    decimal raises _NeedsExactDigits: a row's value reaches Pardot byte for byte."""
    text = decimal_text(value)
    if text.lstrip("-").isdigit():
        return int(text)
    number = float(value)
    if repr(number) == text:
        return number
    raise _NeedsExactDigits


#: Stands in for a decimal's digits in the exact road's JSON, then is replaced by them:
#: random per process (no input can hold it by chance), and never escaped by the encoder.
_DIGITS_MARK = f"\ue000decimal-{secrets.token_hex(8)}:"
_MARKED_DIGITS = re.compile('"' + re.escape(_DIGITS_MARK) + r'([-+.0-9E]+)"')


def _marked_decimal(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return _DIGITS_MARK + decimal_text(value)
    return _json_default(value)


_EXACT_ENCODERS = {
    sort_keys: json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                                default=_marked_decimal, sort_keys=sort_keys, allow_nan=False)
    for sort_keys in (False, True)
}  # fmt: skip


def _exactly(value: Any, *, sort_keys: bool) -> str:
    """The slow road, for values holding a decimal no float writes exactly: decimals are
    written as marked strings, then the marks give way to the bare digits."""
    return _MARKED_DIGITS.sub(r"\1", _EXACT_ENCODERS[sort_keys].encode(value))


def shorten(text: str, limit: int = 40) -> str:
    """A value for a message: never a whole multi-megabyte cell."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def is_ascii_digits(text: str) -> bool:
    """str.isdigit() also accepts digits that int() refuses ("²"): only 0-9 here, and few
    enough of them that int() converts them."""
    return text.isascii() and text.isdigit() and len(text) <= _MAX_INTEGER_DIGITS


# One encoder for the process: json.dumps with options builds a new one per call.
# allow_nan=False: NaN and Infinity are not JSON, and must never reach the wire or a file.
_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, default=_json_default, allow_nan=False
)


def _encode_function(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode``, minus what it costs per call beyond the writing itself: it
    builds a new C encoder on every call, with a table of the containers it is inside
    (to refuse a value that contains itself, which values parsed from JSON text never
    do; one would still end in RecursionError). The C encoder writes the same text."""
    make = getattr(json_encoder, "c_make_encoder", None)  # untyped: the C accelerator
    if make is None:  # a Python without the C accelerator: the same text, slower
        return encoder.encode
    escape = json_encoder.encode_basestring_ascii if encoder.ensure_ascii else (
        json_encoder.encode_basestring)  # fmt: skip
    chunks = make(None, encoder.default, escape, None, encoder.key_separator,
                  encoder.item_separator, encoder.sort_keys, encoder.skipkeys,
                  encoder.allow_nan)  # fmt: skip

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


_encode = _encode_function(_ENCODER)


def to_json(value: Any) -> str:
    """Compact JSON, as sent on the wire and as measured by the row-length rule; decimals
    as their exact digits."""
    try:
        return _encode(value)
    except _NeedsExactDigits:
        return _exactly(value, sort_keys=False)


# A row's fields are serialised with sorted keys: the same length (the row-length rule),
# just as good on the wire, and the same text whatever the column order, which lets
# skip_unchanged fingerprint the text itself.
_ROW_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, default=_json_default, sort_keys=True,
    allow_nan=False,
)
_encode_row = _encode_function(_ROW_ENCODER)


# urllib's quote_plus maps every byte through a Python-level lookup. JSON rows use only
# a handful of distinct characters that need escaping, so escaping each distinct one with
# str.replace (a C loop) is several times faster. Non-ASCII text is escaped byte by byte,
# as quote_plus does, by viewing its UTF-8 bytes as Latin-1 characters.
_ALWAYS_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_ESCAPES = {chr(byte): f"%{byte:02X}" for byte in range(256) if chr(byte) not in _ALWAYS_SAFE}
_ESCAPES[" "] = "+"
_SAFE_BYTES = bytes(sorted(ord(c) for c in _ALWAYS_SAFE | {" "}))


def form_quote(text: str) -> str:
    """Same result as urllib.parse.quote_plus(text), several times faster."""
    if not text.isascii():
        text = text.encode("utf-8").decode("latin-1")
    present = set(text)
    present.difference_update(_ALWAYS_SAFE)
    # Escapes introduce "%" and "+": escape those two first, and spaces (-> "+") last.
    for char in ("%", "+"):
        if char in present:
            present.discard(char)
            text = text.replace(char, _ESCAPES[char])
    space = " " in present
    present.discard(" ")
    for char in present:
        text = text.replace(char, _ESCAPES[char])
    return text.replace(" ", "+") if space else text


def form_quoted_length(text: str) -> int:
    """len(form_quote(text)), without building it: every unsafe byte becomes three."""
    data = text.encode("utf-8")
    return len(data) + 2 * len(data.translate(None, _SAFE_BYTES))


def clean_email(value: Any, *, lowercase: bool) -> str:
    text = str(value).strip()
    return text.lower() if lowercase else text


#: empty_values: what a null or blank non-key value does.
EMPTY_SKIP, EMPTY_CLEAR = "skip", "clear"
#: The value that clears a field in a v3/v4 batch (docs/wire-contract.md, B1).
CLEARED = ""


def _as_text(name: str, value: Any) -> Any:
    """A standard text field takes text: a number or boolean goes as the JSON wrote it
    (Decimal keeps the digits as written); a nested value cannot go at all."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, float):  # only from a stream map: the reader keeps Decimal
        return repr(value)
    if isinstance(value, (dict, list)):
        kind = "an object" if isinstance(value, dict) else "a list"
        raise InvalidRow(
            "nested_value",
            f"'{name}' holds {kind}, and this Pardot field takes text; set "
            "flattening_enabled: true to spread nested columns into fields, or send it "
            "as a string",
        )
    return value


def _coerce(name: str, value: Any) -> Any:
    if name in INTEGER_FIELDS:
        if isinstance(value, bool):
            raise InvalidRow("invalid_value", f"'{name}' must be a whole number, got {value}")
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if is_ascii_digits(text):
            return int(text)
        raise InvalidRow(
            "invalid_value", f"'{name}' must be a whole number, got {shorten(repr(value))}"
        )
    if name in BOOLEAN_FIELDS and isinstance(value, bool):
        return 1 if value else 0
    if name == "fid":
        return str(value).strip()
    if name in TEXT_FIELDS and not isinstance(value, str):
        return _as_text(name, value)
    return value


#: Fields whose text value _coerce or clean_email changes; any other field takes text as it is.
_TEXT_NEEDS_WORK = INTEGER_FIELDS | {"fid", "email"}


def map_record(
    record: Mapping[str, Any],
    *,
    lowercase_emails: bool,
    empty_values: str = EMPTY_SKIP,
    blanks: list[str] | None = None,
    names: FieldNames = STANDARD_NAMES,
) -> tuple[dict[str, Any], list[str]]:
    """Map input columns to v4 fields; return (fields, columns that are not prospect fields).

    A null, empty or whitespace-only value of a non-key field is left out (`skip`: the
    Pardot field stays as it is) or sent as "" (`clear`; a number field is left as it
    is); the name of each field skipped or cleared goes to ``blanks``. Such a key cell is
    always absent (rows/keys.py). ``names``: the account's field names (its custom
    fields), which decide what a column maps to.
    """
    fields: dict[str, Any] = {}
    ignored: list[str] = []
    clear = empty_values == EMPTY_CLEAR
    pardot_name = names.pardot_name_of
    for column, value in record.items():
        name = pardot_name(column)
        if name is None:
            ignored.append(column)
            continue
        if value.__class__ is str and value and not value.isspace():
            # Most values: text that goes as it is (the fast road, no _coerce call).
            if name not in _TEXT_NEEDS_WORK:
                fields[name] = value
                continue
        elif value is None or value.__class__ is str:  # null, empty or whitespace only
            if name in KEY_FIELDS:  # is_absent_key(value): the key rule of rows/keys.py
                continue
            if clear and name in INTEGER_FIELDS:
                # Pardot refuses "" for a number field (error 29 for score), which loses
                # the whole row, and documents no other way to clear one: leave it.
                continue
            if blanks is not None:
                blanks.append(name)
            if clear:
                fields[name] = CLEARED
            continue
        if name == "email":
            value = clean_email(value, lowercase=lowercase_emails)
        fields[name] = _coerce(name, value)
    return fields, ignored


class _ColumnVerdicts(dict[str, bool]):
    """A column name -> ``test(column)``, computed once per name (for the first 4,096
    names: a stream with a new column on every row must not grow it without bound)."""

    def __init__(self, test: Callable[[str], bool]) -> None:
        super().__init__()
        self._test = test

    def __missing__(self, column: str) -> bool:
        verdict = self._test(column)
        if len(self) < 4096:
            self[column] = verdict
        return verdict


_MATCH_EMAIL_COLUMNS = _ColumnVerdicts(is_match_email_column)


def split_match_email(
    record: Mapping[str, Any], *, lowercase_emails: bool
) -> tuple[str | None, Mapping[str, Any]]:
    """Take out the ``match_email`` column (any spelling): the current address of a
    prospect whose email the row changes. It is not a prospect field."""
    if not any(map(_MATCH_EMAIL_COLUMNS.__getitem__, record)):
        return None, record  # nearly every row: one C-level pass over its columns
    column = next(c for c in record if is_match_email_column(c))
    rest = {k: v for k, v in record.items() if k != column}
    value = record[column]
    if is_absent_key(value):
        return None, rest
    return clean_email(value, lowercase=lowercase_emails), rest


def prospect_key(fields: Mapping[str, Any]) -> str:
    """How the row identifies its prospect, for logs and rejected-row reports."""
    for name in ("id", "fid", "email"):
        if name in fields:
            return f"{name}={fields[name]}"
    return "no key"


def prepare_prospect(
    record: Mapping[str, Any],
    *,
    lowercase_emails: bool,
    upsert_by_email: bool,
    update_only: bool,
    empty_values: str = EMPTY_SKIP,
    names: FieldNames = STANDARD_NAMES,
) -> tuple[ProspectRow, list[str]]:
    """Validate one record; raise InvalidRow when it cannot be sent. Which path carries
    the row is decided per drain (target_pardot/run/plan.py)."""
    match_email, record = split_match_email(record, lowercase_emails=lowercase_emails)
    blanks: list[str] = []
    fields, ignored = map_record(record, lowercase_emails=lowercase_emails,
                                 empty_values=empty_values, blanks=blanks, names=names)  # fmt: skip
    has_identity = "id" in fields or "fid" in fields
    if not has_identity and "email" not in fields:
        raise InvalidRow("missing_key", "the row has no 'id', 'fid' or 'email'")
    if has_identity or match_email == fields.get("email"):
        match_email = None  # id or fid identifies the prospect; its email is just a field
    if match_email and not upsert_by_email:
        raise InvalidRow(
            "match_email_needs_upsert_by_email",
            "'match_email' changes a prospect's email through upsertLatestByEmail, which "
            "needs upsert_by_email: true (or send the row with its 'id' or 'fid')",
        )
    if update_only and not has_identity:
        raise InvalidRow(
            "update_needs_id",
            "prospect_operation 'update' only updates existing prospects, which needs "
            "'id' or 'fid'",
        )
    text = _row_text(fields)
    length = len(text)
    if length > MAX_ROW_JSON_CHARS:
        raise InvalidRow(
            "row_too_long",
            f"the row is {length} characters as JSON; the limit is {MAX_ROW_JSON_CHARS}",
        )
    # Positional, in the order of ProspectRow's fields: cheaper than keywords, every row.
    row = ProspectRow(fields, prospect_key(fields), text, match_email, len(blanks))
    return row, ignored


def _row_text(fields: Mapping[str, Any]) -> str:
    try:
        try:
            return _encode_row(fields)
        except _NeedsExactDigits:
            return _exactly(fields, sort_keys=True)
    except ValueError as exc:  # NaN or Infinity from a stream map, an int too long to print
        if isinstance(exc, InvalidRow):
            raise
        raise InvalidRow("invalid_value", "the row holds a number that JSON cannot carry") from None
    except TypeError as exc:
        reason = f"the row holds a value that is not JSON: {exc}"
        raise InvalidRow("invalid_value", reason) from None


def list_flags(list_ids: Iterable[int], *, add: bool) -> dict[str, int]:
    """`list_<id>: 1` subscribes the prospect, `0` removes the membership."""
    flag = 1 if add else 0
    return {f"list_{list_id}": flag for list_id in list_ids}


def v4_element(fields: Mapping[str, Any], flags: Mapping[str, int]) -> dict[str, Any]:
    element = dict(fields)
    element.update(flags)
    return element


def v5_upsert_body(
    fields: Mapping[str, Any],
    *,
    search_deleted: bool,
    return_fields: tuple[str, ...],
    match_email: str | None = None,
    names: FieldNames = STANDARD_NAMES,
) -> dict[str, Any]:
    """The upsertLatestByEmail body: camelCase fields (custom ones by the account's
    ``names``), matched on the row's email, or on ``match_email`` when the row changes
    the prospect's email to ``fields["email"]``."""
    prospect = {}
    for name, value in fields.items():
        if name in BOOLEAN_FIELDS and value in (0, 1) and not isinstance(value, bool):
            value = bool(value)
        elif value == CLEARED:
            value = None  # [guess] G29: v5 clears a field given null
        prospect[names.v5_name(name)] = value
    return {
        "matchEmail": match_email or fields["email"],
        "prospect": prospect,
        "secondaryDeletedSearch": search_deleted,
        "fields": list(return_fields),
    }


def batch_body(elements: list[Mapping[str, Any]]) -> str:
    """The urlencoded POST body of a v4 batch call: the JSON never goes in the URL."""
    return "prospects=" + form_quote(to_json({"prospects": elements}))


def batch_body_from_json(element_texts: list[str]) -> str:
    """batch_body() from elements already serialised with to_json()."""
    return "prospects=" + form_quote('{"prospects":[' + ",".join(element_texts) + "]}")


# Fixed framing of a batch body: `prospects=` + urlencoded `{"prospects":[` ... `]}`.
_BODY_FRAMING = len(batch_body([]))


#: Bytes a separating comma adds to a batch body ("%2C").
QUOTED_COMMA_SIZE = 3


def encoded_size(element: Mapping[str, Any]) -> int:
    """Bytes one element adds to a batch body, including the separating comma."""
    return form_quoted_length(to_json(element)) + QUOTED_COMMA_SIZE


def plan_batches(
    elements: Iterable[Any],
    *,
    size_of: Any = encoded_size,
    max_rows: int = MAX_BATCH_ROWS,
    max_payload: int,
) -> Iterator[list[Any]]:
    """Group items into calls of at most ``max_rows`` rows and ``max_payload`` bytes.

    A single row larger than ``max_payload`` still goes alone: Pardot decides, and a 413 or
    414 reply is handled by the caller.
    """
    batch: list[Any] = []
    size = _BODY_FRAMING
    for item in elements:
        item_size = size_of(item)
        if batch and (len(batch) >= max_rows or size + item_size > max_payload):
            yield batch
            batch, size = [], _BODY_FRAMING
        batch.append(item)
        size += item_size
    if batch:
        yield batch
