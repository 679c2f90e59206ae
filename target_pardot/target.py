"""TargetPardot: the config schema, stream -> sink choice, and the run's outcome."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import IO, Any, Literal

import click
from jsonschema.exceptions import SchemaError
from singer_sdk import typing as th
from singer_sdk.exceptions import (
    InvalidInputLine,
    InvalidJSONSchema,
    MappingError,
    RecordsWithoutSchemaException,
)
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.sinks import Sink
from singer_sdk.target_base import Target

from target_pardot import config_checks, redact
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
from target_pardot.run import batches, dryrun
from target_pardot.run.progress import ProgressReporter
from target_pardot.run.reader import UNUSABLE, PardotMessageReader
from target_pardot.run.runtime import Runtime
from target_pardot.run.state import StdoutClosed
from target_pardot.run.stats import render_summary
from target_pardot.settings import parse_settings
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
        allowed_values=["upsert", "delete"],
        description="For list memberships: upsert (the membership exists afterwards) or "
        "delete (it is gone afterwards).",
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
        "batch_wait_limit_seconds", th.NumberType, default=30,
        description="Longest time a received row (or STATE) waits before it is sent (or "
        "written), even when the batch is not full, so that slow taps see rows loaded and "
        "STATE emitted as they go.",
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
        description="SQLite file of the skip_unchanged ledger. Default: "
        "target-pardot/ledger-<business_unit>.sqlite3 under the user's cache directory.",
    ),
    th.Property(
        "max_api_calls", th.IntegerType,
        description="Stop cleanly after this many Pardot API calls in one run, leaving the "
        "rest of the daily quota to other integrations. Unlimited when unset.",
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
        reader = self.message_reader
        if isinstance(reader, PardotMessageReader) and self.runtime.reporter.skip:
            reader.on_bad_line = self._reject_bad_line
        if isinstance(reader, PardotMessageReader):
            reader.on_idle = self._handle_max_record_age

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
        if not isinstance(stream, str):
            raise InvalidInputLine("the RECORD message has no stream name")
        sink = self._plain_sinks.get(stream)
        if sink is None:
            sink = self._plain_sinks[stream] = self._plain_sink(stream)
        record = message_dict.get("record")
        problem = message_dict.get(UNUSABLE) or _record_problem(record)
        if problem is not None or not isinstance(record, dict):
            self._reject_unusable_record(stream, record, str(problem))
            return
        if not sink:
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

    def _handle_max_record_age(self) -> None:
        """Drain once a row or STATE has waited `batch_wait_limit_seconds`. The SDK checks
        its own 5-minute rule only when a row arrives; this also runs while stdin is idle
        (see PardotMessageReader.on_idle), so a trickling tap is never held back."""
        waited = time.time() - self._last_full_drain_at
        if waited >= self.settings.batch_wait_limit_seconds and self._something_waits():
            self.drain_all()

    def _something_waits(self) -> bool:
        if any(sink.current_size for sink in self._sinks_active.values()):
            return True
        return self._latest_state is not None and self.runtime.tracker.has_unwritten()

    def _reject_unusable_record(self, stream: str, record: Any, problem: str) -> None:
        """A RECORD whose row cannot be used at all: rejected with its reason in the
        stream's sink, so it keeps its place and STATE stays true."""
        if stream not in self.mapper.stream_maps:
            self._assert_sink_exists(stream)  # raises: a RECORD before its SCHEMA
        sinks = [self._sinks_active.get(m.stream_alias) for m in self.mapper.stream_maps[stream]]
        sink = next((s for s in sinks if isinstance(s, PardotSink)), None)
        if sink is None:
            raise InvalidInputLine(f"stream '{stream[:100]}' has no sink for its rows")
        category = "invalid_value" if isinstance(record, dict) else "invalid_record"
        sink.reject_unusable(record, category, problem)

    def _reject_bad_line(self, reason: str, message: dict[str, Any] | None) -> None:
        """skip_invalid_records: a line that is no usable message is reported, not fatal."""
        stream = message.get("stream") if isinstance(message, dict) else None
        self.runtime.reporter.reject_line(line=self._line_number(), stream=stream, reason=reason)

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
                    record = reader.record_from_batch_line(raw)
                except InvalidInputLine as exc:
                    where = f"batch file {url[:200]}, line {number}: {exc}"
                    if reader.on_bad_line is None:
                        raise InvalidInputLine(where) from None
                    reader.on_bad_line(where, message_dict)
                    continue
                if record is not None:
                    self._process_record_message(
                        {"type": "RECORD", "stream": stream, "record": record[0],
                         **({UNUSABLE: record[1]} if record[1] else {})}
                    )  # fmt: skip

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
        if not isinstance(message_dict.get("value"), dict):
            raise InvalidInputLine("the STATE message's 'value' is not an object")
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
        stream = message_dict.get("stream")
        if not isinstance(stream, str):
            raise InvalidInputLine("the SCHEMA message has no stream name")
        self._plain_sinks.clear()  # a schema may replace the stream's sink or its maps
        try:
            super()._process_schema_message(message_dict)
        except (InvalidJSONSchema, SchemaError, TypeError, ValueError, KeyError,
                AttributeError) as exc:  # fmt: skip
            # The SCHEMA is input like any other line: a schema the SDK cannot use is a
            # bad line (reported, or stopping the run), never a traceback.
            raise InvalidInputLine(
                f"the SCHEMA of stream '{stream[:100]}' is not a usable JSON schema "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"
            ) from None

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
        except MappingError as exc:
            outcome, exit_code = "failed", EXIT_CONFIG
            self._deliver_accepted_rows()
            self.logger.error("Configuration error in 'stream_maps': %s", exc)
        except DailyLimitReached as exc:
            outcome, exit_code = "stopped at the API limit", exc.exit_code
            self._stop_cleanly()
            self.logger.error("%s %s", exc, self._resume_advice())
        except TargetPardotError as exc:
            outcome, exit_code = "failed", exc.exit_code
            self._stop_cleanly()
            self.logger.error("%s", exc)
        except Exception as exc:  # a bug must still end in one line and a true STATE
            outcome, exit_code = "failed", EXIT_FAILURE
            self.logger.debug("Unexpected failure", exc_info=True)
            self._stop_cleanly()
            self.logger.error(
                "Unexpected %s: %s (set TARGET_PARDOT_LOGLEVEL=DEBUG for the traceback).",
                type(exc).__name__, str(exc)[:300],
            )  # fmt: skip
        finally:
            progress.stop()
            self.logger.info("%s", render_summary(self.runtime.stats.snapshot(outcome=outcome)))
            self.runtime.close()
        return exit_code

    def _stop_cleanly(self) -> None:
        """After a failure: let calls in flight finish, then write the STATE that is
        still true (nothing, once stdout is closed)."""
        self.runtime.quiesce()
        with contextlib.suppress(StdoutClosed):
            self.runtime.tracker.emit_ready()

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
        _exit_after(self.termination_grace_seconds + STATE_WRITE_GRACE_SECONDS,
                    interruption.exit_code)  # fmt: skip
        self.runtime.client.halt(interruption)
        settled = self.runtime.client.wait_idle(self.termination_grace_seconds)
        with contextlib.suppress(StdoutClosed):
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

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Config files as one object; any unusable file is one line and exit code 2."""
        merged: dict[str, Any] = {}
        try:
            for path in value:
                if path != "ENV":
                    merged |= config_checks.read_config_file(path)
        except ConfigError as exc:
            cls.logger.error("%s", exc)
            ctx.exit(EXIT_CONFIG)
        return _ConfigInput(config=merged, parse_env="ENV" in value)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema check, reported without values of secret settings (exit 2)."""
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        errors = config_checks.describe_errors(
            self._config, schema, config_checks.secret_names(CONFIG_SCHEMA)
        )
        if errors and raise_errors:
            raise ConfigError(" ".join(errors))
        return errors

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
            if config.parse_env:
                schema = copy.deepcopy(CONFIG_SCHEMA)
                cls.append_builtin_config(schema)
                problems = config_checks.environment_errors(cls._env_var_prefix, schema)
                if problems:
                    raise ConfigError(" ".join(problems))
            target = cls(
                config=config.config,
                validate_config=True,
                parse_env_config=config.parse_env,
            )
        except (ConfigError, MappingError) as exc:
            cls.logger.error("Configuration error: %s", exc)
            sys.exit(EXIT_CONFIG)
        except (OSError, ValueError, TypeError) as exc:
            cls.logger.debug("Start-up failed", exc_info=True)
            cls.logger.error(
                "Configuration error: the target could not start with this configuration "
                "(%s).", type(exc).__name__,
            )  # fmt: skip
            sys.exit(EXIT_CONFIG)
        sys.exit(target.run(file_input))


#: After the calls' grace, how long writing the last STATE and the summary may take. A
#: downstream that stopped reading leaves stdout blocked (and the interrupted main thread
#: may hold the STATE lock): the process then exits without that STATE.
STATE_WRITE_GRACE_SECONDS = 2.0


def _exit_after(seconds: float, code: int) -> None:
    """Exit with ``code`` after ``seconds`` whatever the main thread is blocked on."""
    timer = threading.Timer(seconds, os._exit, args=(code,))
    timer.daemon = True
    timer.start()


def _record_problem(record: Any) -> str | None:
    """Why a RECORD's ``record`` cannot be a row (it must be an object), or None."""
    if isinstance(record, dict):
        return None
    kind = {type(None): "null", bool: "a boolean", str: "a string", list: "an array"}.get(
        type(record), "a number"
    )
    return f"the RECORD's 'record' is {kind}, not an object"


# The SDK logs through the "target-pardot" logger; keep our module loggers on it.
logging.getLogger("target-pardot")
