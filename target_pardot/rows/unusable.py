"""Values that JSON text can hold but that no row may carry to Pardot, found without cost
to ordinary lines.

Three kinds of value parse as JSON in Python yet cannot be used:

* ``NaN``, ``Infinity`` and ``-Infinity``: Python's parser accepts them, but they are not
  JSON, and sent on (or written to the rejected-rows file) they would produce text that no
  JSON parser reads.
* integers longer than Python converts (4,300 digits): the parser raises on them, and the
  whole line, with every other value of the row, would be lost.
* lone UTF-16 surrogates (``"\\ud800"``): valid JSON escapes, but not Unicode characters,
  so they cannot be encoded as UTF-8 for the wire.

The fast parser is left untouched for ordinary lines. A line whose fast parse fails is
parsed again with :data:`TOLERANT_DECODER`, which turns the first two kinds into marker
values; a line holding a surrogate escape (a cheap substring test) is walked for lone
surrogates. :func:`unusable_value` then names the first unusable value, so the row is
rejected with a reason (``invalid_value``) instead of stopping the run.
"""

from __future__ import annotations

import decimal
import json
import math
from typing import Any


class MarkerCount:
    """How many markers the parsers have made: a line made none unless ``count`` moved
    (read as an attribute: the reader compares it twice for every line)."""

    count = 0


class UnusableValue:
    """A value from the input that cannot be sent; ``text`` is how the input wrote it."""

    __slots__ = ("reason", "text")

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        MarkerCount.count += 1

    def __repr__(self) -> str:
        return f"UnusableValue({self.text[:20]!r})"


def _non_finite(text: str) -> UnusableValue:
    return UnusableValue(text, f"is {text}, which is not a JSON number")


def _checked_int(text: str) -> int | UnusableValue:
    try:
        return int(text)
    except ValueError:
        return UnusableValue(
            text, f"is an integer of {len(text.lstrip('-'))} digits, too long to be a number"
        )


def _decimal(text: str) -> decimal.Decimal | UnusableValue:
    try:
        return decimal.Decimal(text)
    except (ValueError, decimal.InvalidOperation):  # pragma: no cover - the scanner checks
        return UnusableValue(text, "is not a number")


#: Parses every JSON text the fast decoder parses, to the same values, and also lines whose
#: values are non-finite or too long, to markers. Slower: only lines the fast road refused.
TOLERANT_DECODER = json.JSONDecoder(
    parse_float=_decimal, parse_int=_checked_int, parse_constant=_non_finite
)

#: The fast decoder's own answer to NaN/Infinity: markers, at no cost to other values.
parse_constant = _non_finite


def may_hold_surrogate(line: str) -> bool:
    """True when the line has a \\uD8xx-\\uDFxx escape (only then can a value hold a lone
    surrogate: strict UTF-8 decoding never produces one)."""
    return "\\ud" in line or "\\uD" in line


def _is_lone_surrogate_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def unusable_value(value: Any, path: str = "") -> str | None:
    """The first unusable value (marker or lone surrogate) in ``value``, described with its
    path, or None. Walks the whole value: call it only for lines that may hold one."""
    if isinstance(value, UnusableValue):
        return f"{_name(path)} {value.reason}"
    if isinstance(value, str):
        if _is_lone_surrogate_text(value):
            return f"{_name(path)} holds a lone UTF-16 surrogate, which is not a character"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if _is_lone_surrogate_text(key):
                return f"a column name in {_name(path)} holds a lone UTF-16 surrogate"
            found = unusable_value(item, f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = unusable_value(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _name(path: str) -> str:
    if not path:
        return "the value"
    shown = path if len(path) <= 60 else path[:57] + "..."
    return repr(shown.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace"))


def json_safe(value: Any) -> Any:
    """A copy of ``value`` that encodes as strict JSON: markers become their input text,
    lone surrogates an escape sequence. For the rejected-rows file, which must stay JSON."""
    if isinstance(value, UnusableValue):
        return value.text
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, decimal.Decimal) and (not value.is_finite() or value.adjusted() > 99):
        return str(value)
    if isinstance(value, str):
        if _is_lone_surrogate_text(value):
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {json_safe(k) if isinstance(k, str) else k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return value


def markers_made() -> int:
    """A counter that moves whenever a parser made a marker (compare before and after)."""
    return MarkerCount.count
