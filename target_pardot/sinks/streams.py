"""Sinks: validate each record, turn it into a prepared row, and hand batches to delivery."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink

from target_pardot.pardot.limits import MAX_BATCH_ROWS, MAX_CONCURRENT_REQUESTS
from target_pardot.rows.audiences import prepare_keyed_membership
from target_pardot.rows.fields import STANDARD_NAMES
from target_pardot.rows.payloads import (
    InvalidRow,
    map_record,
    prepare_prospect,
    prospect_key,
    shorten,
)
from target_pardot.rows.validation import TOO_DEEP, FastRecordValidator, Problem
from target_pardot.run.column_warnings import IgnoredColumns
from target_pardot.run.list_directory import StreamStopped
from target_pardot.sinks.audiences import AudienceRows
from target_pardot.sinks.auto_lane import AutoImportLane, import_lane_possible
from target_pardot.sinks.base import Pending
from target_pardot.sinks.bulk_import import ImportDelivery, check_campaign_available
from target_pardot.sinks.memberships import MembershipDelivery
from target_pardot.sinks.mirror import StreamMirror, mirror_for
from target_pardot.sinks.prospects import ProspectDelivery

MEMBERSHIP_COLUMNS = frozenset({"list_id", "list_name", "prospect_id", "email", "opted_out"})
#: Record metadata columns a tap may add; the SDK drops them from every row unless the
#: target writes them (add_record_metadata), and this target does not.
_SDC_COLUMNS = frozenset({"_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at",
                          "_sdc_deleted_at", "_sdc_sequence", "_sdc_table_version",
                          "_sdc_sync_started_at"})  # fmt: skip

if TYPE_CHECKING:
    from singer_sdk.sinks.core import BaseJSONSchemaValidator

    from target_pardot.run.runtime import Runtime


class PardotSink(BatchSink):
    """Shared intake: schema validation and rejection of invalid rows.

    The SDK's own validator logs a traceback per invalid record and then passes the
    record on; ours rejects the row through the reporter instead (skip, or stop the run).
    """

    # Twenty full calls per drain keeps five slots busy for four rounds per drain.
    MAX_SIZE_DEFAULT = MAX_BATCH_ROWS * MAX_CONCURRENT_REQUESTS * 4

    def __init__(self, target: Any, stream_name: str, schema: dict, key_properties: Any):
        super().__init__(target, stream_name, schema, key_properties)
        # The SDK builds sinks from the target: take the run's collaborators from it once.
        runtime: Runtime = target.runtime
        self.settings = runtime.settings
        self.outcomes = runtime.outcomes
        self.stops = runtime.stops
        self._record_validator = self._make_validator() if self.validate_schema else None
        self._position = 0
        self._ignored = IgnoredColumns(stream_name, self.settings.data_object.rstrip("s"))
        #: The SDK's max_size, read once: is_full is asked after every row.
        self._full_at = self.max_size
        #: Rows prepared since the last drain (kept here, not in the SDK's batch context,
        #: which the SDK logs at DEBUG after every record).
        self._rows: list[Any] = []

    @property
    def is_full(self) -> bool:
        return self.current_size >= self._full_at

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        return None  # ours gives its verdict in take(); the SDK's would log and pass

    def _make_validator(self) -> FastRecordValidator:
        return FastRecordValidator(self.schema, validate_formats=False)

    def take(self, record: dict) -> bool:
        """The one way in for a row (after stream maps and flattening): it takes its place
        in the stream, then is kept or rejected on the verdicts about it. True when the
        sink is now full (is_full, answered here: it is asked after every row).

        Unlike the SDK's record path, a row that fails the schema or lacks a key property
        is a rejected row (skipped with skip_invalid_records), never the end of the run;
        values go on exactly as the tap wrote them (date-times are not parsed)."""
        if not _SDC_COLUMNS.isdisjoint(record):
            for column in _SDC_COLUMNS:  # as the SDK drops them: Pardot has no such fields
                record.pop(column, None)
        self.tally_record_read()
        self._position = self.outcomes.state.row_received(self.stream_name)
        self.outcomes.stats.add("rows_received")
        try:
            self.receive(record, self.schema_problem(record))
        except RecursionError:
            # Nested deeper than Python can walk: no Pardot field takes such a value.
            self.reject_at_intake(record, "no key", TOO_DEEP.category, TOO_DEEP.reason)
        return self.current_size >= self._full_at

    def process_record(self, record: dict, context: dict) -> None:
        """The SDK's entry for a row: the same as take()."""
        self.take(record)

    def schema_problem(self, record: dict) -> Problem | None:
        """Why the row does not match its stream's schema (validate_records), or None."""
        validator = self._record_validator
        return None if validator is None else validator.problem(record)

    def receive(self, record: dict, problem: Problem | None) -> None:
        """Keep the row for delivery, or reject it (``problem``: the schema's verdict).
        Each sink knows its rows; the position is taken already."""
        raise NotImplementedError

    def reject_at_intake(
        self, record: Any, key: str, category: str, reason: str
    ) -> None:
        self.outcomes.reporter.reject(
            stream=self.stream_name,
            position=self._position,
            record=record,
            key=key,
            category=category,
            reason=reason,
            code=category,
            during_delivery=False,
        )
        self.outcomes.state.settle(self.stream_name, (self._position,))

    def reject_unusable(self, record: Any, category: str, reason: str) -> None:
        """A row that cannot be used at all (not an object, an unusable value): it takes
        its place in the stream, and is rejected with its reason."""
        self._position = self.outcomes.state.row_received(self.stream_name)
        self.outcomes.stats.add("rows_received")
        key = _guess_key(record) if isinstance(record, dict) else "no key"
        self.reject_at_intake(record, key, category, reason)

    delivery: Any  # each sink sets the delivery path of its object

    def count_drained(self) -> None:
        """The SDK's record_count metric, for every row taken since the last drain: added
        once a drain rather than once a row (the same count, for less work)."""
        self.record_counter_metric.increment(self.current_size)

    def process_batch(self, context: dict) -> None:
        self.count_drained()
        rows, self._rows = self._rows, []
        if rows:
            self.delivery.deliver(rows)
        self.outcomes.state.emit()

    def warn_ignored_columns(self, columns: list[str]) -> None:
        self._ignored.saw(columns)

    def clean_up(self) -> None:
        self._ignored.report()
        super().clean_up()


class ProspectsSink(PardotSink):
    """Upserts prospects (v4 batches, or v5 upsert by email), adding them to lists."""

    def __init__(self, target: Any, stream_name: str, schema: dict, key_properties: Any):
        super().__init__(target, stream_name, schema, key_properties)
        runtime: Runtime = target.runtime
        if self.settings.prospect_operation == "import":  # before any Pardot call
            check_campaign_available(
                stream_name, self.schema.get("properties", {}), self.settings.default_campaign_id,
                STANDARD_NAMES,
            )  # fmt: skip
        self.names = runtime.read_field_names()  # before any row is mapped
        lists = runtime.prospect_lists
        try:  # names to ids, a missing list created, none dynamic: before the first row
            if lists is not None:
                lists.resolve(stream_name)
        except StreamStopped as exc:
            self.stops.stop(stream_name, exc)
        parts = runtime.delivery_parts()
        self.delivery: ProspectDelivery | ImportDelivery
        columns = self.schema.get("properties", {})
        if self.settings.prospect_operation == "auto" and import_lane_possible(
            self.settings, columns, self.names
        ):
            lane = AutoImportLane(parts, prospect_lists=lists, identity=runtime.identity,
                                  hooks=runtime.hooks, stream=stream_name,
                                  schema_columns=columns)  # fmt: skip
            runtime.hooks.before_every_wait(lane.finish)
            self.delivery = ProspectDelivery(parts, prospect_lists=lists,
                                             identity=runtime.identity, imports=lane)  # fmt: skip
        elif self.settings.prospect_operation == "import":
            self.delivery = ImportDelivery(
                parts,
                prospect_lists=lists,
                stream=stream_name,
                schema_columns=self.schema.get("properties", {}),
            )
            runtime.hooks.before_every_wait(self.delivery.finish)
            runtime.hooks.at_close(self.delivery.close)
        else:
            self.delivery = ProspectDelivery(parts, prospect_lists=lists, identity=runtime.identity)
        self._blank_figure = (
            "fields_cleared" if self.settings.empty_values == "clear" else "fields_skipped"
        )
        # Lowercased emails cannot differ in case.
        self._case_variants = None if self.settings.lowercase_emails else runtime.case_variants

    def receive(self, record: dict, problem: Problem | None) -> None:
        if self.stream_name in self.stops:
            return  # nothing of a stopped stream is written; unsettled, no STATE covers it
        if problem is not None:
            self.reject_at_intake(record, _guess_key(record), *problem)
            return
        try:
            row, ignored = prepare_prospect(
                record,
                lowercase_emails=self.settings.lowercase_emails,
                upsert_by_email=self.settings.upsert_by_email,
                update_only=self.settings.prospect_operation == "update",
                empty_values=self.settings.empty_values,
                names=self.names,
            )
        except InvalidRow as exc:
            self.reject_at_intake(record, _guess_key(record), exc.category, exc.message)
            return
        if ignored:
            self.warn_ignored_columns(ignored)
        if row.blank_fields:
            self.outcomes.stats.add(self._blank_figure, row.blank_fields)
        if self._case_variants is not None and "email" in row.fields:
            self._case_variants.saw(row.fields["email"])
        # Pending(...), not PendingRow(...): calling a subscripted generic costs a
        # typing wrapper per row.
        self._rows.append(Pending(self.stream_name, self._position, record, row))


def _guess_key(record: dict[str, Any]) -> str:
    """Best-effort key of a row that failed before it was mapped."""
    try:
        fields, _ = map_record(record, lowercase_emails=False)
    except (InvalidRow, TypeError, ValueError):
        return "no key"
    key = prospect_key(fields)
    return shorten(key.encode("utf-8", "backslashreplace").decode("utf-8"), 120)


class ListMembershipsSink(PardotSink):
    """Upserts or deletes list memberships, 50 prospects per call."""

    # Membership rows are tiny, and a larger drain lets more rows of one prospect share
    # one batch element.
    MAX_SIZE_DEFAULT = 10_000

    def __init__(self, target: Any, stream_name: str, schema: dict, key_properties: Any):
        super().__init__(target, stream_name, schema, key_properties)
        runtime: Runtime = target.runtime
        parts = runtime.delivery_parts()
        self.delivery = MembershipDelivery(parts)
        self.mirror = (
            mirror_for(runtime.mirrors, stream_name,
                       partial(StreamMirror, parts, stream_name, stops=self.stops,
                               directory=runtime.lists))
            if self.settings.list_membership_operation == "mirror"
            else None
        )  # fmt: skip
        self.audience = AudienceRows(stream_name, settings=self.settings, outcomes=self.outcomes,
                                     stops=self.stops, directory=runtime.lists,
                                     emails=runtime.emails)  # fmt: skip
        self.delivery.may_write = self.audience.may_write
        if self.mirror is not None:
            runtime.full_streams.mirror(stream_name)

    def process_batch(self, context: dict) -> None:
        self.count_drained()
        rows, self._rows = self._rows, []
        # Emails resolved now; the lists are checked not dynamic right before the first
        # write (MembershipDelivery.may_write; a mirror when it completes).
        ready = self.audience.ready(rows)
        if self.mirror is None:
            if ready:
                self.delivery.deliver(ready)
        else:
            # Kept until the stream is complete (end of input or ACTIVATE_VERSION).
            self.mirror.collect(ready)
        self.outcomes.state.emit()

    def receive(self, record: dict, problem: Problem | None) -> None:
        if self.audience.stopped:
            return  # nothing of a stopped stream is written; unsettled, no STATE covers it
        key = membership_key(record)
        if problem is not None:
            self.reject_at_intake(record, key, *problem)
            return
        try:
            keyed = prepare_keyed_membership(
                record, lowercase_emails=self.settings.lowercase_emails
            )
        except InvalidRow as exc:
            self.reject_at_intake(record, key, exc.category, exc.message)
            return
        extra = [c for c in record if c not in MEMBERSHIP_COLUMNS]
        if extra:
            self.warn_ignored_columns(extra)
        row = self.audience.row_of(keyed)
        if row is None:
            return  # the stream is stopped: the row stays unsettled, so no STATE covers it
        if isinstance(row, str):
            self.reject_at_intake(record, key, "no_such_list", row)
            return
        self._rows.append(Pending(self.stream_name, self._position, record, row))


def membership_key(record: dict[str, Any]) -> str:
    """How reports name a membership row, before it is validated."""
    list_part = (f"list_id={record.get('list_id')}" if record.get("list_id") is not None
                 or record.get("list_name") is None else f"list_name={record.get('list_name')!r}")
    who = (f"prospect_id={record.get('prospect_id')}" if record.get("prospect_id") is not None
           or record.get("email") is None else f"email={record.get('email')}")
    return f"{list_part}, {who}"
