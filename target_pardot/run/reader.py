"""Read Singer messages with errors that name the line, never dump it, and show no traceback."""

from __future__ import annotations

import decimal
import json
import os
import select
import stat
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import IO, Any

from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.singerlib.encoding import SimpleSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_pardot.rows.unusable import (
    TOLERANT_DECODER,
    markers_made,
    may_hold_surrogate,
    parse_constant,
    unusable_value,
)

# Numbers with a fraction become Decimal (no float rounding), as in the SDK's parser;
# NaN and Infinity become markers (see unusable.py), so no row carries them on.
_DECODER = json.JSONDecoder(parse_float=decimal.Decimal, parse_constant=parse_constant)

#: Set on a RECORD message whose row holds an unusable value: the reason, for the sink
#: to reject the row with (the row keeps its place in its stream, so STATE stays true).
UNUSABLE = "__target_pardot_unusable__"
#: How long one read of stdin waits before the idle hook runs (trickle taps).
IDLE_TICK_SECONDS = 1.0
_CHUNK = 1 << 16


class UnreadableBatch(InvalidInputLine):
    """A BATCH message's file cannot be read: the run stops on it, whatever
    skip_invalid_records says (its rows are unknown, so none can be reported)."""


#: Called with (reason, message or None) for a line that cannot be used, when
#: skip_invalid_records lets the run go on; it reports the line.
BadLineHandler = Callable[[str, "dict[str, Any] | None"], None]


class PardotMessageReader(SimpleSingerReader):
    """Like the SDK's reader, but decodes bytes itself so non-UTF-8 input gets a clear error.

    The SDK's reader logs the whole unparsable line with a traceback; a multi-megabyte
    line would flood the log, so errors here give the line number and the parser's reason.
    """

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        #: None: a bad line stops the run. Otherwise called to report it, and reading goes on.
        self.on_bad_line: BadLineHandler | None = None
        #: Called about once a second while stdin has nothing to read.
        self.on_idle: Callable[[], None] = lambda: None
        self._message: dict[str, Any] = {}

    @property
    def default_input(self) -> IO[Any]:  # type: ignore[override]
        return sys.stdin.buffer

    def deserialize_json(self, line: str) -> dict:
        made = markers_made()
        message = _parse(line)
        if not isinstance(message, dict):
            raise InvalidInputLine("not a JSON object")
        if markers_made() == made and not may_hold_surrogate(line):
            return message
        return _checked(message)

    def record_from_batch_line(self, raw: str | bytes) -> tuple[Any, str | None] | None:
        """(record, reason it is unusable or None) of one line of a batch file; None for
        a blank line. InvalidInputLine when the line is not JSON."""
        line = self._decode(raw)
        if not line.strip():
            return None
        made = markers_made()
        record = _parse(line)
        if markers_made() == made and not may_hold_surrogate(line):
            return record, None
        return record, unusable_value(record)

    def process_lines(
        self,
        file_input: IO[Any] | None,
        callbacks: dict[str, Callable[[dict], None]],
    ) -> Counter[str]:
        stats: Counter[str] = Counter()
        source = file_input if file_input is not None else self.default_input
        for raw in self._lines(source):
            self.line_number += 1
            message: dict[str, Any] | None = None
            try:
                line = self._decode(raw)
                if not line.strip():
                    continue
                message = self.deserialize_json(line)
                kind = message.get("type")
                if not isinstance(kind, str):
                    raise InvalidInputLine("the message has no 'type'")
                callback = callbacks.get(kind)
                if callback is None:
                    raise InvalidInputLine(f"unknown message type {kind!r}")
                self._message = message
                callback(message)
            except UnreadableBatch:
                raise
            except (InvalidInputLine, RecordsWithoutSchemaException) as exc:
                if self.on_bad_line is None:
                    raise
                self.on_bad_line(str(exc), message)
                continue
            stats[kind] += 1
        return stats

    def _lines(self, source: IO[Any]) -> Iterator[str | bytes]:
        """The source's lines; a pipe or terminal is read so that the idle hook runs while
        it has nothing to say (a trickle tap's rows then go out without waiting)."""
        fd = _pollable_fd(source)
        if fd is None:
            yield from source
            return
        pending: list[bytes] = []
        while True:
            ready, _, _ = select.select([fd], [], [], IDLE_TICK_SECONDS)
            if not ready:
                self.on_idle()
                continue
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            parts = chunk.split(b"\n")
            if len(parts) == 1:
                pending.append(chunk)
                continue
            if pending:
                pending.append(parts[0])
                parts[0] = b"".join(pending)
                pending = []
            tail = parts.pop()
            if tail:
                pending.append(tail)
            yield from parts
        if pending:
            yield b"".join(pending)

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


def _parse(line: str) -> Any:
    """Any JSON value. The fast road: one decoder built once (json.loads(line, ...) builds
    one per line) and raw_decode, which skips decode()'s whitespace regexes; the line's end
    is checked here instead. Anything unusual (leading blanks, trailing text, a number too
    long, an error) takes the tolerant road, which gives the same result or error."""
    try:
        value, end = _DECODER.raw_decode(line)
    except (ValueError, RecursionError):
        pass
    else:
        if end == len(line) or line[end:].isspace():
            return value
    try:
        return TOLERANT_DECODER.decode(line)
    except json.JSONDecodeError as exc:
        raise InvalidInputLine(f"not valid JSON ({exc.msg}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidInputLine(f"not usable JSON ({type(exc).__name__})") from None


def _checked(message: dict) -> dict:
    """Mark a RECORD holding an unusable value; refuse any other message holding one."""
    if message.get("type") == "RECORD":
        reason = unusable_value(message.get("record"))
        if reason is not None:
            message[UNUSABLE] = reason
            return message
    reason = unusable_value(message)
    if reason is not None:
        raise InvalidInputLine(f"the message's {reason.removeprefix('the value ')}")
    return message


def _pollable_fd(source: IO[Any]) -> int | None:
    """The file descriptor of stdin when it is a pipe or terminal that nothing has read
    from yet; None for anything else (a file, a test's in-memory stream)."""
    if source is not sys.stdin.buffer:
        return None
    try:
        fd = source.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError):
        return None
    if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)):
        return None
    return fd
