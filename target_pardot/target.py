"""TargetPardot: the config schema, stream -> sink choice, and the run's outcome."""

from __future__ import annotations

import copy
import json
import logging
import os
import signal
import sys
from typing import IO, Any, Literal

import click
from singer_sdk import typing as th
from singer_sdk.exceptions import (
    InvalidInputLine,
    RecordsWithoutSchemaException,
)
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.sinks import Sink
from singer_sdk.target_base import Target

from target_pardot import redact
from target_pardot.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    ConfigError,
    DailyLimitReached,
    Interrupted,
    RecordRejected,
    TargetPardotError,
)
from target_pardot.pardot.limits import DEFAULT_MAX_PAYLOAD, MAX_CONCURRENT_REQUESTS
from target_pardot.run import dryrun
from target_pardot.run.progress import ProgressReporter
from target_pardot.run.reader import PardotMessageReader
from target_pardot.run.runtime import Runtime
from target_pardot.run.stats import render_summary
from target_pardot.settings import parse_settings
from target_pardot.sinks import mirror
from target_pardot.sinks.streams import ListMembershipsSink, PardotSink, ProspectsSink

STREAM_SINKS: dict[str, type[Sink]] = {
    "prospects": ProspectsSink,
    "list_memberships": ListMembershipsSink,
}

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "client_id", th.StringType, required=True,
        description="Consumer key of the Salesforce connected app.",
    ),
    th.Property(
        "client_secret", th.StringType, required=True, secret=True,
        description="Consumer secret of the Salesforce connected app.",
    ),
    th.Property(
        "refresh_token", th.StringType, secret=True,
        description="Refresh token from authorising the connected app (auth_flow "
        "refresh_token).",
    ),
    th.Property(
        "auth_flow", th.StringType, default="refresh_token",
        allowed_values=["refresh_token", "client_credentials"],
        description="OAuth grant: refresh_token, or client_credentials (client id and secret "
        "only; login_url must then be the org's My Domain URL).",
    ),
    th.Property(
        "login_url", th.StringType,
        description="Salesforce login URL. Default https://login.salesforce.com/, or "
        "https://test.salesforce.com/ when sandbox is true. Must be https (http only on "
        "a loopback host).",
    ),
    th.Property(
        "pardot_domain", th.StringType,
        description="Pardot API host. Default https://pi.pardot.com, or "
        "https://pi.demo.pardot.com when sandbox is true. Must be https (http only on a "
        "loopback host).",
    ),
    th.Property(
        "business_unit", th.StringType, required=True,
        description="Pardot Business Unit ID: starts with 0Uv, 18 characters (Salesforce "
        "Setup > Pardot Account Setup).",
    ),
    th.Property(
        "data_object", th.StringType, default="prospects",
        allowed_values=["prospects", "list_memberships"],
        description="Object loaded from streams not named prospects or list_memberships "
        "(a stream with one of those names always loads its own object).",
    ),
    th.Property(
        "skip_invalid_records", th.BooleanType, default=False,
        description="true: skip and report invalid rows; false: stop the run at the first "
        "one, without emitting STATE for undelivered rows.",
    ),
    th.Property(
        "prospect_operation", th.StringType, default="sync",
        allowed_values=["sync", "update", "import"],
        description="sync: upsert (batchUpsert); update: only update existing prospects "
        "by id or fid, never create (batchUpdate); import: bulk upsert through the v5 "
        "Import API, matching by id, fid or email (a few calls per million rows).",
    ),
    th.Property(
        "prospect_lists", th.CustomType({"type": ["string", "array", "integer"]}),
        description="List ids every sent prospect is added to or removed from: "
        '"1,2,3" or [1, 2, 3].',
    ),
    th.Property(
        "prospect_list_operation", th.StringType, default="add",
        allowed_values=["add", "remove"],
        description="Whether prospects are added to or removed from prospect_lists.",
    ),
    th.Property(
        "upsert_by_email", th.BooleanType, default=False,
        description="Email-only rows go through v5 upsertLatestByEmail (never duplicates, "
        "one call per row) instead of v4 batches (which create a new prospect for every "
        "email-only row on AMPSEA accounts).",
    ),
    th.Property(
        "api_version",
        th.CustomType({"type": ["string", "integer"], "enum": ["auto", "4", "3", 4, 3]}),
        default="auto",
        description="Pardot API version for prospect and membership calls: 4 for accounts "
        "with AMPSEA (allow multiple prospects with the same email address), 3 for accounts "
        "without it, or auto: start on 4 and switch when Pardot answers error 89 (or 88).",
    ),
    th.Property(
        "parallel_tasks", th.IntegerType, default=1,
        description=f"Pardot calls in flight at once, across all streams; capped at "
        f"{MAX_CONCURRENT_REQUESTS}, Pardot's per-account limit.",
    ),
    th.Property(
        "max_payload", th.IntegerType, default=DEFAULT_MAX_PAYLOAD,
        description="Largest body of one batch call, in bytes of the urlencoded body. "
        "Lower it if Pardot answers 413 or 414.",
    ),
    th.Property(
        "list_membership_operation", th.StringType, default="upsert",
        allowed_values=["upsert", "delete", "mirror"],
        description="For list memberships: upsert (the membership exists afterwards), "
        "delete (it is gone afterwards), or mirror (each list named in the stream holds "
        "exactly the stream's prospects afterwards: members not in it are removed).",
    ),
    th.Property(
        "mirror_max_removal_percent", th.NumberType, default=20,
        description="With list_membership_operation mirror: a list whose removals would "
        "exceed this share of its current members gets no removals (its additions still "
        "happen) and the run ends with exit code 1.",
    ),
    th.Property(
        "maximum_retries", th.IntegerType, default=5,
        description="Retries of a call that failed transiently.",
    ),
    th.Property(
        "initial_retry_wait", th.NumberType, default=1,
        description="Seconds before the first retry; doubles each retry, with jitter.",
    ),
    th.Property(
        "maximum_retry_wait", th.NumberType, default=120,
        description="Longest wait between two retries, in seconds.",
    ),
    th.Property(
        "maximum_connection_timeout", th.NumberType, default=300,
        description="Longest wait for one Pardot reply, in seconds.",
    ),
    th.Property(
        "sandbox", th.BooleanType, default=False,
        description="Use the sandbox hosts (test.salesforce.com and pi.demo.pardot.com) "
        "as defaults for login_url and pardot_domain.",
    ),
    th.Property(
        "rejected_records_path", th.StringType,
        description="JSONL file that receives every rejected row as "
        '{"stream","record","reason","code"}.',
    ),
    th.Property(
        "dry_run", th.BooleanType, default=False,
        description="Validate every row and plan every call, but send no write call.",
    ),
    th.Property(
        "dry_run_offline", th.BooleanType, default=False,
        description="A dry run that sends nothing at all, not even the token request: it "
        "needs no reachable host and does not check the credentials.",
    ),
    th.Property(
        "progress_interval_seconds", th.NumberType, default=10,
        description="Seconds between two progress lines on stderr (rows received and sent, "
        "rows/s, API calls); 0 turns them off.",
    ),
    th.Property(
        "search_deleted_prospects", th.BooleanType, default=True,
        description="v5 secondaryDeletedSearch: when only deleted prospects match the email, "
        "restore and update the latest one instead of creating a new prospect.",
    ),
    th.Property(
        "lowercase_emails", th.BooleanType, default=False,
        description="Lowercase emails before sending. Pardot matches emails case-sensitively.",
    ),
    th.Property(
        "skip_unchanged", th.BooleanType, default=False,
        description="Keep a local ledger of what Pardot accepted and do not send a row "
        "whose payload is unchanged since (counted as unchanged in the run summary).",
    ),
    th.Property(
        "ledger_path", th.StringType,
        description="SQLite file of the skip_unchanged ledger and the identity map. Default: "
        "target-pardot/ledger-<business_unit>.sqlite3 under the user's cache directory.",
    ),
    th.Property(
        "identity_map", th.BooleanType, default=True,
        description="With upsert_by_email, remember the prospect id Pardot returns for each "
        "email (in the ledger_path file) and send known emails in batchUpdate calls by id, "
        "50 per call, instead of one upsertLatestByEmail call each.",
    ),
    th.Property(
        "max_api_calls", th.IntegerType,
        description="Stop cleanly after this many Pardot API calls in one run, leaving the "
        "rest of the daily quota to other integrations. Unlimited when unset.",
    ),
    th.Property(
        "default_campaign_id", th.IntegerType,
        description="For bulk imports: the campaignId of prospects an import creates when "
        "the row has no campaign_id (Pardot requires one).",
    ),
).to_dict()  # fmt: skip


class TargetPardot(Target):
    """Loads prospects and list memberships into Salesforce Pardot."""

    name = "target-pardot"
    # A copy: the SDK adds its built-in settings to config_jsonschema in place, and
    # CONFIG_SCHEMA must stay the list of this target's own settings (the docs test uses it).
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)
    default_sink_class = ProspectsSink
    message_reader_class = PardotMessageReader
    #: Seconds that calls in flight get to finish after SIGTERM or SIGINT.
    termination_grace_seconds = 5.0
    capabilities = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        TargetCapabilities.VALIDATE_RECORDS,
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = parse_settings(self.config)
        redact.REDACTOR.add(*self.settings.secrets)
        self.runtime = Runtime.create(self.settings)
        self._plain_sinks: dict[str, PardotSink | Literal[False]] = {}

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        if stream_name in STREAM_SINKS:
            return STREAM_SINKS[stream_name]
        return STREAM_SINKS[self.settings.data_object]

    # -- reading ----------------------------------------------------------------------

    def _process_record_message(self, message_dict: dict) -> None:
        """The SDK's record handling without the steps that do nothing for this target.

        For a stream without stream maps, flattening or record metadata, the SDK copies
        the record, passes it through an identity map, looks its sink up twice and calls
        hooks our sinks do not implement: a sixth of the target's own cost per row. Any
        other stream, or any unusual message, takes the SDK's own path.
        """
        stream = message_dict.get("stream")
        sink = self._plain_sinks.get(stream) if isinstance(stream, str) else None
        if sink is None and isinstance(stream, str):
            sink = self._plain_sinks[stream] = self._plain_sink(stream)
        record = message_dict.get("record")
        if not sink or not isinstance(record, dict):
            super()._process_record_message(message_dict)
            return
        context = sink._get_context(record)
        sink._remove_sdc_metadata_from_record(record)
        sink._validate_and_parse(record)
        sink.tally_record_read()
        sink.process_record(record, context)
        sink.record_counter_metric.increment()
        if sink.is_full:
            self.logger.info(
                "Target sink for '%s' is full. Current size is '%s'. Draining...",
                sink.stream_name,
                sink.current_size,
            )
            self.drain_one(sink)
        self._handle_max_record_age()

    def _plain_sink(self, stream: str) -> PardotSink | Literal[False]:
        """The stream's sink when its records need no mapping at all, else False."""
        maps = self.mapper.stream_maps.get(stream) or []
        sink = self._sinks_active.get(stream)
        plain = (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
            and maps[0].stream_alias == stream
            and isinstance(sink, PardotSink)
            and not sink.include_sdc_metadata_properties
        )
        return sink if plain and isinstance(sink, PardotSink) else False

    # -- STATE: only what is settled -----------------------------------------------------

    def _process_state_message(self, message_dict: dict) -> None:
        previous = self._latest_state
        super()._process_state_message(message_dict)
        if self._latest_state is not None and self._latest_state != previous:
            self.runtime.tracker.state_received(self._latest_state)

    def _process_schema_message(self, message_dict: dict) -> None:
        schema = message_dict.get("schema")
        if not isinstance(schema, dict) or "properties" not in schema:
            raise InvalidInputLine(
                f"the SCHEMA of stream '{message_dict.get('stream')}' has no 'properties'"
            )
        self._plain_sinks.clear()  # a schema may replace the stream's sink or its maps
        super()._process_schema_message(message_dict)

    def _write_state_message(self, state: dict) -> None:
        if self.settings.dry_run:
            self.logger.info("%s", dryrun.state_note(json.dumps(state)))
            return
        # The SDK calls this after draining every sink. Calls run in the background (see
        # run/sender.py): wait for every row handed over, raising a failed delivery instead;
        # then the tracker writes the newest STATE whose rows are all settled, which after
        # a full drain is the latest one.
        self.runtime.settle()
        self.runtime.tracker.emit_ready()

    # -- running ----------------------------------------------------------------------

    def run(self, file_input: IO[str] | None = None) -> int:
        """Read the stream, deliver it, log the summary; return the process exit code."""
        outcome, exit_code = "succeeded", 0
        progress = ProgressReporter(
            self.runtime.stats,
            self.settings.progress_interval_seconds,
            calls_left=self.runtime.client.calls_left,
        )
        try:
            if self.settings.dry_run:
                self.logger.info("%s", dryrun.banner(self.settings))
            if not self.settings.dry_run_offline:
                self.runtime.client.check_credentials()
            progress.start()
            self.listen(file_input)
            problem = dryrun.verdict(self.settings, self.runtime.stats)
            if problem:
                outcome, exit_code = "failed", EXIT_FAILURE
                self.logger.error("%s", problem)
        except RecordRejected as exc:
            outcome, exit_code = "failed", exc.exit_code
            if not exc.during_delivery:
                self._deliver_accepted_rows()
            self.logger.error("%s", exc)
        except (RecordsWithoutSchemaException, InvalidInputLine) as exc:
            outcome, exit_code = "failed", EXIT_FAILURE
            self._deliver_accepted_rows()
            self.logger.error("Invalid input at line %d: %s", self._line_number(), exc)
        except DailyLimitReached as exc:
            outcome, exit_code = "stopped at the API limit", exc.exit_code
            self.runtime.quiesce()
            self.runtime.tracker.emit_ready()
            self.logger.error("%s %s", exc, self._resume_advice())
        except TargetPardotError as exc:
            outcome, exit_code = "failed", exc.exit_code
            self.runtime.quiesce()
            self.runtime.tracker.emit_ready()
            self.logger.error("%s", exc)
        finally:
            progress.stop()
            self.logger.info("%s", render_summary(self.runtime.stats.snapshot(outcome=outcome)))
            self.runtime.close()
        return exit_code

    def _line_number(self) -> int:
        return getattr(self.message_reader, "line_number", 0)

    def _resume_advice(self) -> str:
        stats = self.runtime.stats.snapshot()
        unsettled = self.runtime.tracker.unsettled_rows()
        return (
            f"{stats['rows_sent']} rows were delivered and {unsettled} were not. Re-run from "
            "the last STATE after the limit resets (midnight in the account's time zone) to "
            "deliver the rest."
        )

    def _handle_termination(self, signum: int, frame: Any) -> None:
        """Stop sending, give calls in flight a few seconds, emit the true STATE, exit."""
        name = signal.Signals(signum).name
        self.logger.warning(
            "Received %s: no new calls start; calls in flight get %.0f s to finish.",
            name,
            self.termination_grace_seconds,
        )
        interruption = Interrupted(f"Interrupted by {name}.", signal_number=signum)
        self.runtime.client.halt(interruption)
        settled = self.runtime.client.wait_idle(self.termination_grace_seconds)
        self.runtime.tracker.emit_ready()
        self.logger.error(
            "Interrupted by %s%s. %s",
            name,
            "" if settled else " with calls still in flight (abandoned)",
            self._resume_advice().replace(
                "after the limit resets (midnight in the account's time zone) ", ""
            ),
        )
        self.logger.info("%s", render_summary(self.runtime.stats.snapshot(outcome="interrupted")))
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        # Worker threads may still wait on the network; exiting the interpreter normally
        # would join them, so leave at once.
        os._exit(interruption.exit_code)

    def _deliver_accepted_rows(self) -> None:
        """Input stopped early: deliver what was accepted before it, then emit its STATE."""
        try:
            self.drain_all(is_endofpipe=True)
            self.runtime.settle()
        except TargetPardotError as exc:
            self.logger.error("While delivering the rows read so far: %s", exc)

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        # Without a STATE message to write, nothing above waited for the last calls.
        self.runtime.settle()
        # The input is whole: every mirror stream may now remove (and add).
        mirror.complete_all(self.runtime)

    def _process_activate_version_message(self, message_dict: dict) -> None:
        """For a mirror stream, ACTIVATE_VERSION says the stream is whole: mirror it now."""
        stream_maps = self.mapper.stream_maps.get(str(message_dict.get("stream")), [])
        sinks = [self._sinks_active.get(stream_map.stream_alias) for stream_map in stream_maps]
        mirrored = [s for s in sinks if isinstance(s, ListMembershipsSink) and s.mirror]
        if not mirrored:
            super()._process_activate_version_message(message_dict)
        for sink in mirrored:
            self.drain_one(sink)
            self.runtime.settle()
            if sink.mirror is not None:
                mirror.complete_stream(self.runtime, sink.mirror)

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Turn a missing config file into a one-line error instead of a traceback."""
        try:
            return super().cb_config(ctx, param, value)
        except (OSError, ValueError) as exc:
            cls.logger.error("Could not read the config file: %s", exc)
            ctx.exit(EXIT_CONFIG)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: IO[str] | None = None,
    ) -> None:
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        redact.install()
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        try:
            target = cls(
                config=config.config,
                validate_config=True,
                parse_env_config=config.parse_env,
            )
        except ConfigError as exc:
            cls.logger.error("Configuration error: %s", exc)
            sys.exit(EXIT_CONFIG)
        except (OSError, json.JSONDecodeError) as exc:
            cls.logger.error("Could not read the config file: %s", exc)
            sys.exit(EXIT_CONFIG)
        sys.exit(target.run(file_input))


# The SDK logs through the "target-pardot" logger; keep our module loggers on it.
logging.getLogger("target-pardot")
