"""Read Singer messages and check each one before the target sees it.

Errors name the line, never dump it, and show no traceback. What the target receives is
already known to be usable as far as the message itself goes:

* every message that names a stream names it with a string;
* a SCHEMA's schema is an object with ``properties``; a schema the SDK cannot use is a bad
  line, not a traceback;
* a STATE's value is an object; an ACTIVATE_VERSION has a ``version``;
* a RECORD's row is an object holding only values JSON can carry. A row that is not goes
  to ``on_unusable_record`` with the reason, so that it is rejected in its own place in
  its stream (the STATE after it stays true);
* a BATCH message is read here: every line of its files comes to the target as a RECORD
  (run/batches.py).

A line that is no usable message goes to ``on_bad_line`` (reported, with
skip_invalid_records) or stops the run (InvalidInputLine).
"""

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

from jsonschema.exceptions import SchemaError
from singer_sdk.exceptions import InvalidJSONSchema, RecordsWithoutSchemaException
from singer_sdk.singerlib.encoding import SimpleSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_pardot.rows.unusable import (
    TOLERANT_DECODER,
    MarkerCount,
    may_hold_surrogate,
    parse_constant,
    unusable_value,
)
from target_pardot.run import batches
from target_pardot.run.batches import UnreadableBatch

# Numbers with a fraction become Decimal (no float rounding), as in the SDK's parser;
# NaN and Infinity become markers (see unusable.py), so no row carries them on.
_DECODER = json.JSONDecoder(parse_float=decimal.Decimal, parse_constant=parse_constant)
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]  # set by JSONDecoder.__init__

#: How long one read of stdin waits before the idle hook runs (trickle taps).
IDLE_TICK_SECONDS = 1.0
_CHUNK = 1 << 16


#: Errors of the SDK's SCHEMA handling that only a malformed SCHEMA causes.
_SCHEMA_ERRORS = (InvalidJSONSchema, SchemaError, TypeError, ValueError, KeyError,
                  AttributeError)  # fmt: skip

#: Called with (reason, message or None) for a line that cannot be used, when
#: skip_invalid_records lets the run go on; it reports the line.
BadLineHandler = Callable[[str, "dict[str, Any] | None"], None]
#: Called with (stream, the row as received, the reason) for a RECORD whose row cannot be
#: used at all; it rejects the row in its stream.
UnusableRecordHandler = Callable[[str, Any, str], None]
#: Called with (stream, message) for each SCHEMA, before the target handles it.
SchemaHandler = Callable[[str, "dict[str, Any]"], None]
#: A message with the reason its RECORD's row is unusable (None: usable, or not a RECORD).
_Handler = Callable[["dict[str, Any]", "str | None"], None]


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
        #: None: an unusable row stops the run. Otherwise called to reject it.
        self.on_unusable_record: UnusableRecordHandler | None = None
        #: Sees every SCHEMA message first (the SDK keeps no bookmark_properties).
        self.on_schema: SchemaHandler = lambda stream, message: None
        self._message: dict[str, Any] = {}

    @property
    def default_input(self) -> IO[Any]:  # type: ignore[override]
        return sys.stdin.buffer

    def deserialize_json(self, line: str) -> dict:
        return self.read_message(line)[0]

    def read_message(self, line: str) -> tuple[dict, str | None]:
        """(message, why its RECORD's row is unusable, or None). InvalidInputLine for a
        line that is no JSON object, or any other message holding an unusable value."""
        made = MarkerCount.count
        message = _parse(line)
        if message.__class__ is not dict:
            raise InvalidInputLine("not a JSON object")
        # may_hold_surrogate, inline: this runs for every line.
        if MarkerCount.count == made and "\\ud" not in line and "\\uD" not in line:
            return message, None
        return message, _unusable_problem(message)

    def record_from_batch_line(self, raw: str | bytes) -> tuple[Any, str | None] | None:
        """(record, reason it is unusable or None) of one line of a batch file; None for
        a blank line. InvalidInputLine when the line is not JSON."""
        line = self._decode(raw)
        if not line.strip():
            return None
        made = MarkerCount.count
        record = _parse(line)
        if MarkerCount.count == made and not may_hold_surrogate(line):
            return record, None
        return record, unusable_value(record)

    def process_lines(
        self,
        file_input: IO[Any] | None,
        callbacks: dict[str, Callable[[dict], None]],
    ) -> Counter[str]:
        stats: Counter[str] = Counter()
        handlers = self._handlers(callbacks)
        source = file_input if file_input is not None else self.default_input
        for raw in self._lines(source):
            self.line_number += 1
            message: dict[str, Any] | None = None
            try:
                line = self._decode(raw)
                if not line or line.isspace():
                    continue
                message, problem = self.read_message(line)
                kind = message.get("type")
                if not isinstance(kind, str):
                    raise InvalidInputLine("the message has no 'type'")
                handler = handlers.get(kind)
                if handler is None:
                    raise InvalidInputLine(f"unknown message type {kind!r}")
                self._message = message
                handler(message, problem)
            except UnreadableBatch:
                raise
            except (InvalidInputLine, RecordsWithoutSchemaException) as exc:
                if self.on_bad_line is None:
                    raise
                self.on_bad_line(str(exc), message)
                continue
            stats[kind] += 1
        return stats

    def _handlers(self, callbacks: dict[str, Callable[[dict], None]]) -> dict[str, _Handler]:
        """The target's callbacks, each behind the checks of its kind of message."""
        handlers: dict[str, _Handler] = {}
        record = callbacks.get("RECORD")
        if record is not None:
            handlers["RECORD"] = self._record_handler(record)
            handlers["BATCH"] = self._batch_handler(handlers["RECORD"])
        if "SCHEMA" in callbacks:
            handlers["SCHEMA"] = self._schema_handler(callbacks["SCHEMA"])
        if "STATE" in callbacks:
            handlers["STATE"] = _checked_first(callbacks["STATE"], _state_problem)
        if "ACTIVATE_VERSION" in callbacks:
            handlers["ACTIVATE_VERSION"] = _checked_first(
                callbacks["ACTIVATE_VERSION"], _activate_version_problem
            )
        return handlers

    def _record_handler(self, callback: Callable[[dict], None]) -> _Handler:
        def handle(message: dict[str, Any], problem: str | None) -> None:
            stream = message.get("stream")
            if stream.__class__ is not str:
                raise InvalidInputLine("the RECORD message has no stream name")
            record = message.get("record")
            if problem is None and record.__class__ is dict:
                callback(message)
                return
            self._unusable(stream, record, problem or record_problem(record))  # type: ignore[arg-type]

        return handle

    def _unusable(self, stream: str, record: Any, problem: str) -> None:
        if self.on_unusable_record is None:
            raise InvalidInputLine(f"the row of stream '{stream[:100]}' cannot be used: {problem}")
        self.on_unusable_record(stream, record, problem)

    def _schema_handler(self, callback: Callable[[dict], None]) -> _Handler:
        def handle(message: dict[str, Any], _problem: str | None) -> None:
            stream = _stream_of(message)
            self.on_schema(stream, message)
            try:
                callback(message)
            except _SCHEMA_ERRORS as exc:
                # The SCHEMA is input like any other line: a schema the SDK cannot use is
                # a bad line (reported, or stopping the run), never a traceback.
                first_line = str(exc).splitlines()[0][:200] if str(exc) else ""
                raise InvalidInputLine(
                    f"the SCHEMA of stream '{stream[:100]}' is not a usable JSON schema "
                    f"({type(exc).__name__}: {first_line})"
                ) from None

        return handle

    def _batch_handler(self, record: _Handler) -> _Handler:
        """Every row of the batch's files goes on as if it came in a RECORD message."""

        def handle(message: dict[str, Any], _problem: str | None) -> None:
            stream = _stream_of(message)
            compressed, files = batches.manifest_files(message)
            for url in files:
                lines = batches.batch_lines(url, compressed=compressed)
                for number, raw in enumerate(lines, 1):
                    try:
                        parsed = self.record_from_batch_line(raw)
                    except InvalidInputLine as exc:
                        where = f"batch file {url[:200]}, line {number}: {exc}"
                        if self.on_bad_line is None:
                            raise InvalidInputLine(where) from None
                        self.on_bad_line(where, message)
                        continue
                    if parsed is not None:
                        row, problem = parsed
                        record({"type": "RECORD", "stream": stream, "record": row}, problem)

        return handle

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
        # raw_decode's own scanner, called directly (raw_decode only renames its
        # StopIteration): one Python frame less for every line.
        value, end = _SCAN(line, 0)
    except (StopIteration, ValueError, RecursionError):
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


#: A row nested deeper than Python can walk to look for unusable values.
TOO_DEEP_TO_CHECK = "the row is nested too deeply to be checked for values JSON cannot carry"


def _unusable_problem(message: dict) -> str | None:
    """Why a RECORD's row holding an unusable value cannot be used; InvalidInputLine
    for any other message holding one."""
    if message.get("type") == "RECORD":
        try:
            reason = unusable_value(message.get("record"))
        except RecursionError:
            return TOO_DEEP_TO_CHECK
        if reason is not None:
            return reason
    try:
        reason = unusable_value(message)
    except RecursionError:
        raise InvalidInputLine("the message is nested too deeply to be read") from None
    if reason is not None:
        raise InvalidInputLine(f"the message's {reason.removeprefix('the value ')}")
    return None


def record_problem(record: Any) -> str | None:
    """Why a RECORD's ``record`` cannot be a row (it must be an object), or None."""
    if isinstance(record, dict):
        return None
    kind = {type(None): "null", bool: "a boolean", str: "a string", list: "an array"}.get(
        type(record), "a number"
    )
    return f"the RECORD's 'record' is {kind}, not an object"


def _stream_of(message: dict[str, Any]) -> str:
    stream = message.get("stream")
    if not isinstance(stream, str):
        raise InvalidInputLine(f"the {message.get('type')} message has no stream name")
    return stream


def _state_problem(message: dict[str, Any]) -> str | None:
    if not isinstance(message.get("value"), dict):
        return "the STATE message's 'value' is not an object"
    return None


def _activate_version_problem(message: dict[str, Any]) -> str | None:
    stream = _stream_of(message)
    if "version" not in message:
        return f"the ACTIVATE_VERSION of stream '{stream[:100]}' has no 'version'"
    return None


def _checked_first(
    callback: Callable[[dict], None], problem_of: Callable[[dict[str, Any]], str | None]
) -> _Handler:
    def handle(message: dict[str, Any], _problem: str | None) -> None:
        problem = problem_of(message)
        if problem is not None:
            raise InvalidInputLine(problem)
        callback(message)

    return handle


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
