"""Read Singer messages with errors that name the line, never dump it, and show no traceback."""

from __future__ import annotations

import decimal
import json
import sys
from collections import Counter
from collections.abc import Callable
from typing import IO, Any

from singer_sdk.singerlib.encoding import SimpleSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json

# Numbers with a fraction become Decimal (no float rounding), as in the SDK's parser.
_DECODER = json.JSONDecoder(parse_float=decimal.Decimal)


class PardotMessageReader(SimpleSingerReader):
    """Like the SDK's reader, but decodes bytes itself so non-UTF-8 input gets a clear error.

    The SDK's reader logs the whole unparsable line with a traceback; a multi-megabyte
    line would flood the log, so errors here give the line number and the parser's reason.
    """

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self._message: dict[str, Any] = {}

    @property
    def default_input(self) -> IO[Any]:  # type: ignore[override]
        return sys.stdin.buffer

    def deserialize_json(self, line: str) -> dict:
        # The fast road: one decoder built once (json.loads(line, parse_float=...) builds
        # one per line) and raw_decode, which skips decode()'s whitespace regexes; the
        # line's end is checked here instead. Anything unusual (leading blanks, trailing
        # text, an error) takes the road below, which gives the same result or error.
        try:
            message, end = _DECODER.raw_decode(line)
        except ValueError:
            pass
        else:
            if isinstance(message, dict) and (end == len(line) or line[end:].isspace()):
                return message
        try:
            message = deserialize_json(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputLine(f"not valid JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(message, dict):
            raise InvalidInputLine("not a JSON object")
        return message

    def process_lines(
        self,
        file_input: IO[Any] | None,
        callbacks: dict[str, Callable[[dict], None]],
    ) -> Counter[str]:
        stats: Counter[str] = Counter()
        source = file_input if file_input is not None else self.default_input
        for raw in source:
            self.line_number += 1
            line = self._decode(raw)
            if not line.strip():
                continue
            message = self.deserialize_json(line)
            kind = message.get("type")
            if kind is None:
                raise InvalidInputLine("the message has no 'type'")
            callback = callbacks.get(kind)
            if callback is None:
                raise InvalidInputLine(f"unknown message type {kind!r}")
            self._message = message
            callback(message)
            stats[kind] += 1
        return stats

    def assert_line_requires(self, line_dict: dict, requires: set[str]) -> None:  # type: ignore[override]
        """Name what is missing, and where, without dumping the message (a SCHEMA can be
        large). The SDK calls this for a message and for its parts (a SCHEMA's schema)."""
        if isinstance(line_dict, dict) and requires.issubset(line_dict):
            return  # every RECORD comes here: the quick answer first
        missing = sorted(requires.difference(line_dict if isinstance(line_dict, dict) else ()))
        kind = self._message.get("type", "message")
        stream = self._message.get("stream")
        where = f"the {kind} of stream '{stream}'" if stream else f"the {kind} message"
        raise InvalidInputLine(f"{where} has no {', '.join(repr(m) for m in missing)}")

    def _decode(self, raw: str | bytes) -> str:
        if isinstance(raw, str):
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputLine(f"not valid UTF-8 (byte {exc.start + 1} of the line)") from None
