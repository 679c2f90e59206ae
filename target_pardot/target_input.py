"""How TargetPardot takes its input in: no line, value or message of the tap's may end in a
traceback, drop a row silently, or hold rows back longer than `batch_wait_limit_seconds`.

* A RECORD whose ``record`` is not an object, or holds a value JSON cannot carry (marked by
  the reader), is a row rejected with its reason: it keeps its place in its stream, so the
  STATE after it stays true.
* A line that is no usable message goes to the reader's ``on_bad_line`` (reported, with
  skip_invalid_records) or stops the run (InvalidInputLine), after the rows before it.
* BATCH messages: every line of their files is loaded as a RECORD (see run/batches.py).
* Rows and STATE wait at most `batch_wait_limit_seconds`, checked as rows arrive and, while
  stdin is idle, by the reader's ``on_idle``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from jsonschema.exceptions import SchemaError
from singer_sdk.exceptions import InvalidInputLine, InvalidJSONSchema
from singer_sdk.target_base import Target

from target_pardot.run import batches
from target_pardot.run.reader import UNUSABLE, PardotMessageReader
from target_pardot.sinks.streams import PardotSink

if TYPE_CHECKING:
    from target_pardot.run.runtime import Runtime
    from target_pardot.settings import Settings

#: Errors of the SDK's SCHEMA handling that only a malformed SCHEMA causes.
_SCHEMA_ERRORS = (InvalidJSONSchema, SchemaError, TypeError, ValueError, KeyError,
                  AttributeError)  # fmt: skip


class InputHandling(Target):
    """The message handlers of TargetPardot that guard its input (see the module doc)."""

    settings: Settings
    runtime: Runtime

    def _connect_reader(self) -> None:
        reader = self.message_reader
        if not isinstance(reader, PardotMessageReader):
            return
        if self.runtime.reporter.skip:
            reader.on_bad_line = self._reject_bad_line
        reader.on_idle = self._handle_max_record_age

    def _process_record_message(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        if not isinstance(stream, str):
            raise InvalidInputLine("the RECORD message has no stream name")
        record = message_dict.get("record")
        problem = message_dict.get(UNUSABLE) or record_problem(record)
        if problem is not None or not isinstance(record, dict):
            self._reject_unusable_record(stream, record, str(problem))
            return
        super()._process_record_message(message_dict)

    def _process_schema_message(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        if not isinstance(stream, str):
            raise InvalidInputLine("the SCHEMA message has no stream name")
        # The SDK keeps no bookmark_properties; a mirror stream's sink asks for them.
        self.runtime.full_streams.schema(stream, message_dict.get("bookmark_properties"))
        try:
            super()._process_schema_message(message_dict)
        except _SCHEMA_ERRORS as exc:
            # The SCHEMA is input like any other line: a schema the SDK cannot use is a
            # bad line (reported, or stopping the run), never a traceback.
            first_line = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise InvalidInputLine(
                f"the SCHEMA of stream '{stream[:100]}' is not a usable JSON schema "
                f"({type(exc).__name__}: {first_line})"
            ) from None

    def _process_batch_message(self, message_dict: dict) -> None:
        """Every row of the batch's files is loaded as if it came in a RECORD message."""
        stream = message_dict.get("stream")
        if not isinstance(stream, str):
            raise InvalidInputLine("the BATCH message has no stream name")
        compressed, files = batches.manifest_files(message_dict)
        reader = self.message_reader
        assert isinstance(reader, PardotMessageReader)
        for url in files:
            for number, raw in enumerate(batches.batch_lines(url, compressed=compressed), 1):
                try:
                    parsed = reader.record_from_batch_line(raw)
                except InvalidInputLine as exc:
                    where = f"batch file {url[:200]}, line {number}: {exc}"
                    if reader.on_bad_line is None:
                        raise InvalidInputLine(where) from None
                    reader.on_bad_line(where, message_dict)
                    continue
                if parsed is not None:
                    record, problem = parsed
                    message = {"type": "RECORD", "stream": stream, "record": record}
                    if problem:
                        message[UNUSABLE] = problem
                    self._process_record_message(message)

    def _reject_unusable_record(self, stream: str, record: Any, problem: str) -> None:
        """A RECORD whose row cannot be used at all: rejected with its reason in the
        stream's sink, so it keeps its place and STATE stays true."""
        if stream not in self.mapper.stream_maps:
            self._assert_sink_exists(stream)  # raises: a RECORD before its SCHEMA
        aliases = [m.stream_alias for m in self.mapper.stream_maps[stream]]
        sinks = [self._sinks_active.get(alias) for alias in aliases]
        sink = next((s for s in sinks if isinstance(s, PardotSink)), None)
        if sink is None:
            raise InvalidInputLine(f"stream '{stream[:100]}' has no sink for its rows")
        category = "invalid_value" if isinstance(record, dict) else "invalid_record"
        sink.reject_unusable(record, category, problem)

    def _reject_bad_line(self, reason: str, message: dict[str, Any] | None) -> None:
        """skip_invalid_records: a line that is no usable message is reported, not fatal."""
        stream = message.get("stream") if isinstance(message, dict) else None
        line = getattr(self.message_reader, "line_number", 0)
        self.runtime.reporter.reject_line(line=line, stream=stream, reason=reason)

    def _handle_max_record_age(self) -> None:
        """Drain once a row or STATE has waited `batch_wait_limit_seconds`. The SDK checks
        its own 5-minute rule only when a row arrives; this also runs while stdin is idle
        (PardotMessageReader.on_idle), so a trickling tap is never held back."""
        waited = time.time() - self._last_full_drain_at
        if waited >= self.settings.batch_wait_limit_seconds and self._something_waits():
            self.drain_all()

    def _something_waits(self) -> bool:
        if any(sink.current_size for sink in self._sinks_active.values()):
            return True
        return self._latest_state is not None and self.runtime.has_unwritten_state()


def record_problem(record: Any) -> str | None:
    """Why a RECORD's ``record`` cannot be a row (it must be an object), or None."""
    if isinstance(record, dict):
        return None
    kind = {type(None): "null", bool: "a boolean", str: "a string", list: "an array"}.get(
        type(record), "a number"
    )
    return f"the RECORD's 'record' is {kind}, not an object"
