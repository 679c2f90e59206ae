"""How TargetPardot takes its input in: no line, value or message of the tap's may end in a
traceback, drop a row silently, or hold rows back longer than `batch_wait_limit_seconds`.

* The reader (run/reader.py) checks each message first; BATCH files are read there too,
  each of their lines reaching the target as a RECORD.
* A RECORD whose row cannot be used at all (not an object, a value JSON cannot carry)
  comes from the reader's ``on_unusable_record``: a row rejected with its reason in its
  stream's sink, so it keeps its place and the STATE after it stays true.
* Every other row goes through the stream maps to its sink's ``take``, which gives the
  verdicts on it and keeps or rejects it.
* A line that is no usable message goes to the reader's ``on_bad_line`` (reported, with
  skip_invalid_records) or stops the run (InvalidInputLine), after the rows before it.
* Rows and STATE wait at most `batch_wait_limit_seconds`, checked as rows arrive and, while
  stdin is idle, by the reader's ``on_idle``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

from singer_sdk.exceptions import InvalidInputLine
from singer_sdk.mapper import SameRecordTransform, StreamMap
from singer_sdk.target_base import Target

from target_pardot.run.reader import PardotMessageReader
from target_pardot.sinks.streams import PardotSink

if TYPE_CHECKING:
    from target_pardot.run.runtime import Runtime
    from target_pardot.settings import Settings


def _passes_unchanged(stream_map: StreamMap) -> bool:
    """A stream with no map of its own and no flattening: the SDK's SameRecordTransform
    would return the row itself, through three calls a row."""
    options = stream_map.flattening_options
    return stream_map.__class__ is SameRecordTransform and (
        options is None or not options.enabled
    )


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
        reader.on_idle = self._drain_when_waited
        reader.on_unusable_record = self._reject_unusable_record
        reader.on_schema = self._schema_seen

    def _process_record_message(self, message_dict: dict) -> None:
        # Private SDK override: the SDK's record path validates inside the sink and keeps
        # no verdict (a row failing the schema goes on to Pardot, a missing key property
        # ends the run), and parses date-time strings, stopping at one it cannot read.
        # Here each row meets the stream maps, then its sink's take(), which rejects a
        # row that cannot be sent and keeps every other one exactly as written.
        stream = message_dict["stream"]  # the reader checked both
        record = message_dict["record"]
        stream_maps = self.mapper.stream_maps.get(stream)
        if stream_maps is None:
            self._assert_sink_exists(stream)  # raises: a RECORD before its SCHEMA
            return
        shared = len(stream_maps) > 1
        for stream_map in stream_maps:
            # A copy for each of several maps, as the SDK does: a map or the removal of
            # metadata columns changes the row (the message itself is not used again).
            row = record.copy() if shared else record
            if not _passes_unchanged(stream_map):
                row = stream_map.transform(row)
            if row is None:
                continue  # filtered out by the map
            found = self._sinks_active.get(stream_map.stream_alias)
            if found is None:
                self._assert_sink_exists(stream_map.stream_alias)  # raises
            # get_sink_class() makes no other kind (no isinstance: an ABC's costs a call).
            sink = cast(PardotSink, found)
            if sink.take(row):
                self.drain_one(sink)
        self._drain_when_waited()

    def _schema_seen(self, stream: str, message: dict[str, Any]) -> None:
        # The SDK keeps no bookmark_properties; a mirror stream's sink asks for them.
        self.runtime.full_streams.schema(stream, message.get("bookmark_properties"))

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

    def _drain_when_waited(self) -> None:
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
