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
from typing import IO, Any

import click
from singer_sdk.exceptions import (
    ConfigValidationError,
    InvalidInputLine,
    MappingError,
    RecordsWithoutSchemaException,
)
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.sinks import Sink

from target_pardot import config_checks, redact
from target_pardot.errors import (
    EXIT_CONFIG,
    EXIT_DAILY_LIMIT,
    EXIT_FAILURE,
    ConfigError,
    DailyLimitReached,
    Interrupted,
    RecordRejected,
    TargetPardotError,
)
from target_pardot.run import dryrun, verdicts
from target_pardot.run.progress import ProgressReporter
from target_pardot.run.reader import PardotMessageReader
from target_pardot.run.runtime import Runtime
from target_pardot.run.state import StdoutClosed
from target_pardot.run.stats import render_summary
from target_pardot.settings import parse_settings
from target_pardot.settings_table import config_schema
from target_pardot.sinks import mirror
from target_pardot.sinks.streams import ListMembershipsSink, ProspectsSink
from target_pardot.target_input import InputHandling

STREAM_SINKS: dict[str, type[Sink]] = {
    "prospects": ProspectsSink,
    "list_memberships": ListMembershipsSink,
}

#: `target-pardot --help`: what the command does and where to go next (click rewraps it;
#: the \b line keeps the list as written).
HELP = f"""Load Singer messages from stdin (any tap's output) into Salesforce Pardot
(Account Engagement): prospects (batch upsert, list add or remove) and list
memberships (upsert, delete, mirror a list). Writes the tap's STATE to stdout once
the rows before it are delivered; logs and the run summary go to stderr.

\b
  target-pardot --config config.json < messages.singer > state.jsonl
  target-pardot --about                  every setting, its default and meaning
  target-pardot-login --config FILE      get a refresh token (browser login)
  Docs: README.md (quick start, pitfalls, settings) and docs/ in the source

Exit codes: 0 done, {EXIT_FAILURE} rows or run failed, {EXIT_CONFIG} configuration or
credentials, {EXIT_DAILY_LIMIT} daily API limit, 130/143 interrupted."""

#: The target's own settings (from settings_table.SETTINGS, the one list of them).
CONFIG_SCHEMA = config_schema()


class TargetPardot(InputHandling):
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
        # Sinks drain one after the other: a drain only hands rows to the run's own
        # delivery threads, so the SDK's pool of drain threads (joblib, started on every
        # drain of all sinks: a tenth of a second or more) would add cost and no speed.
        self.max_parallelism = 1
        self.settings = parse_settings(self.config)
        redact.REDACTOR.add(*self.settings.secrets)
        self.runtime = Runtime.create(self.settings)
        self._connect_reader()

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        if stream_name in STREAM_SINKS:
            return STREAM_SINKS[stream_name]
        return STREAM_SINKS[self.settings.data_object]

    # -- STATE: only what is settled ----------------------------------------------------
    # The tracker's one seam. The SDK keeps the latest STATE and writes it after every
    # drain, but our calls run in the background: both overrides below exist so that no
    # STATE covers a row that is not yet delivered or rejected (a crash would lose it).

    def _process_state_message(self, message_dict: dict) -> None:
        # Private SDK override: without it the tracker would not know which rows arrived
        # before this STATE, and could write it before those rows are delivered: rows
        # lost if the run then fails. (The reader checked that its value is an object.)
        super()._process_state_message(message_dict)
        self.runtime.state_received(message_dict["value"])

    def _write_state_message(self, state: dict) -> None:
        # Private SDK override: the SDK calls this after draining every sink, while the
        # calls of that drain are still running: writing `state` then would cover rows
        # not yet delivered, lost if the run then fails.
        if self.settings.dry_run:
            self.logger.info("%s", dryrun.state_note(json.dumps(state)))
            return
        # Wait for every row handed over, raising a failed delivery instead; then write
        # the newest STATE whose rows are all settled (after a full drain, the latest).
        self.runtime.wait_delivered()
        self.runtime.tracker.emit()

    # -- running ----------------------------------------------------------------------

    def run(self, file_input: IO[str] | None = None) -> int:
        """Read the stream, deliver it, log the summary; return the process exit code.

        A failure's one line is the last line of stderr, after the summary (whose outcome
        carries it too): the line a person or an orchestrator reads first."""
        outcome, exit_code, error = "succeeded", 0, ""
        progress = ProgressReporter(
            self.runtime.stats,
            self.settings.progress_interval_seconds,
            calls_left=self.runtime.calls_left,
        )
        try:
            if self.settings.dry_run:
                self.logger.info("%s", dryrun.banner(self.settings))
            if not self.settings.dry_run_offline:
                self.runtime.check_credentials()
            progress.start()
            self.listen(file_input)
            error = dryrun.verdict(self.settings, self.runtime.stats) or ""
            error = error or self._rejected_share() or ""
            if error:
                outcome, exit_code = "failed", EXIT_FAILURE
        except RecordRejected as exc:
            outcome, exit_code, error = "failed", exc.exit_code, str(exc)
            if not exc.during_delivery:
                self._deliver_accepted_rows()
        except (RecordsWithoutSchemaException, InvalidInputLine) as exc:
            outcome, exit_code = "failed", EXIT_FAILURE
            error = f"Invalid input at line {self._line_number()}: {exc}"
            self._deliver_accepted_rows()
        except MappingError as exc:
            outcome, exit_code = "failed", EXIT_CONFIG
            error = f"Configuration error in 'stream_maps': {exc}"
            self._deliver_accepted_rows()
        except DailyLimitReached as exc:
            outcome, exit_code = "stopped at the API limit", exc.exit_code
            self._stop_cleanly()
            error = f"{exc} {self._resume_advice()}"
        except TargetPardotError as exc:
            outcome, exit_code, error = "failed", exc.exit_code, str(exc)
            self._stop_cleanly()
        except Exception as exc:  # a bug must still end in one line and a true STATE
            outcome, exit_code = "failed", EXIT_FAILURE
            self.logger.debug("Unexpected failure", exc_info=True)
            self._stop_cleanly()
            error = (
                f"Unexpected {type(exc).__name__}: {str(exc)[:300]} (set "
                "TARGET_PARDOT_LOGLEVEL=DEBUG for the traceback)."
            )
        finally:
            progress.stop()
            outcome, exit_code, error = self._close_runtime(outcome, exit_code, error)
            summary = self.runtime.summary(outcome=outcome, reason=error)
            self._warn_at_end(summary)
            self.logger.info("%s", render_summary(summary))
            if error:
                self.logger.error("%s", error)
            if self._line_number() == 0 and exit_code:
                # Said first, so that it shows at once even while a long tap still writes.
                _discard_input(file_input)
        return exit_code

    def _rejected_share(self) -> str | None:
        if self.settings.dry_run:
            return None
        return verdicts.rejected_share_problem(
            self.runtime.summary(), self.settings.max_rejected_percent
        )

    def _warn_at_end(self, summary: dict[str, Any]) -> None:
        """Warnings about the run as a whole, once each."""
        for warning in (
            verdicts.email_batch_warning(summary),
            verdicts.case_variant_warning(summary["email_case_variants"]),
        ):
            if warning:
                self.logger.warning("%s", warning)
        path = self.settings.rejected_records_path
        if summary["rows_rejected"] and path:
            self.logger.warning(
                "%d rejected rows of this run were appended to %s (run id %s).",
                summary["rows_rejected"], path, self.runtime.reporter.run_id,
            )  # fmt: skip

    def _close_runtime(self, outcome: str, exit_code: int, error: str) -> tuple[str, int, str]:
        """Close the run's files and connections. A failure there (the last commit to a
        ledger_path file another run keeps locked) is one line, and fails a run that had
        succeeded; it never escapes as a traceback."""
        try:
            self.runtime.close()
        except TargetPardotError as exc:
            if exit_code == 0:
                return "failed", exc.exit_code, str(exc)
            if str(exc) != error:  # the run's own failure is said once, last
                self.logger.error("%s", exc)
        return outcome, exit_code, error

    def _stop_cleanly(self) -> None:
        """After a failure: let calls in flight finish, then write the STATE that is
        still true (nothing, once stdout is closed)."""
        self.runtime.wait_running()
        with contextlib.suppress(StdoutClosed):
            self._emit_after_failure()

    def _emit_after_failure(self) -> None:
        """The STATE that is still true. Should the ledger's commit before it fail (a
        ledger_path file another run keeps locked), no STATE is written, and that is said
        (the run is already failing for its own reason)."""
        try:
            self.runtime.tracker.emit()
        except StdoutClosed:
            raise
        except TargetPardotError as exc:
            self.logger.error("No STATE written after the failure: %s", exc)

    def _line_number(self) -> int:
        return getattr(self.message_reader, "line_number", 0)

    def _resume_advice(self) -> str:
        stats = self.runtime.summary()
        unsettled = self.runtime.unsettled_rows()
        return (
            f"{stats['rows_sent']} rows were delivered and {unsettled} were not. Re-run from "
            "the last STATE after the limit resets (midnight in the account's time zone) to "
            "deliver the rest."
        )

    def _handle_termination(self, signum: int, frame: Any) -> None:
        """Stop sending, give calls in flight a few seconds, emit the true STATE, exit."""
        # Private SDK override: the SDK's handler drains every sink and writes the latest
        # STATE: calls it starts are abandoned at exit, and the STATE would cover their
        # rows, lost. Here no call starts, and only a STATE whose rows settled is written.
        name = signal.Signals(signum).name
        self.logger.warning(
            "Received %s: no new calls start; calls in flight get %.0f s to finish.",
            name,
            self.termination_grace_seconds,
        )
        interruption = Interrupted(f"Interrupted by {name}.", signal_number=signum)
        _exit_after(self.termination_grace_seconds + STATE_WRITE_GRACE_SECONDS,
                    interruption.exit_code)  # fmt: skip
        settled = self.runtime.interrupt(interruption, self.termination_grace_seconds)
        with contextlib.suppress(StdoutClosed):
            self._emit_after_failure()
        self.logger.error(
            "Interrupted by %s%s. %s",
            name,
            "" if settled else " with calls still in flight (abandoned)",
            self._resume_advice().replace(
                "after the limit resets (midnight in the account's time zone) ", ""
            ),
        )
        self.logger.info("%s", render_summary(self.runtime.summary(outcome="interrupted")))
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        # Worker threads may still wait on the network; exiting the interpreter normally
        # would join them, so leave at once.
        os._exit(interruption.exit_code)

    def _deliver_accepted_rows(self) -> None:
        """Input stopped early: deliver what was accepted before it, then emit its STATE."""
        try:
            self.drain_all(is_endofpipe=True)
            self.runtime.wait_delivered()
        except TargetPardotError as exc:
            self.logger.error("While delivering the rows read so far: %s", exc)

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        # Without a STATE message to write, nothing above waited for the last calls.
        self.runtime.wait_delivered()
        # The input is whole: every mirror stream may now remove (and add).
        mirror.complete_all(self.runtime.mirrors)
        self.runtime.raise_if_streams_stopped()

    def _process_activate_version_message(self, message_dict: dict) -> None:
        """For a mirror stream, ACTIVATE_VERSION says the stream is whole: mirror it now."""
        # Private SDK override: the SDK only passes the message to sinks that use
        # activate_version, and a mirror stream's tap may send it mid-run: without this,
        # members that left the stream would stay on the list until the end of the input
        # (or forever, if the run fails later), and rows added since would wait too.
        stream = message_dict["stream"]  # the reader checked it, and the 'version'
        if stream not in self.mapper.stream_maps:
            # As for a RECORD before its SCHEMA: a bad line (reported, or stopping the run).
            raise InvalidInputLine(
                f"ACTIVATE_VERSION for stream '{stream[:100]}' before any SCHEMA for it"
            )
        stream_maps = self.mapper.stream_maps[stream]
        aliases = [m.stream_alias for m in stream_maps if self.sink_exists(m.stream_alias)]
        sinks = [self.get_sink(alias) for alias in aliases]
        mirrored = [s for s in sinks if isinstance(s, ListMembershipsSink) and s.mirror]
        if not mirrored:
            super()._process_activate_version_message(message_dict)
        for sink in mirrored:
            self.drain_one(sink)
            self.runtime.wait_delivered()
            if sink.mirror is not None:
                mirror.complete_stream(self.runtime.mirrors, sink.mirror)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        command.help = HELP
        return command

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
            _discard_input(None)
            ctx.exit(EXIT_CONFIG)
        return _ConfigInput(config=merged, parse_env="ENV" in value)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema check, reported without values of secret settings (exit 2)."""
        # Private SDK override: the SDK's check puts the offending value in its message,
        # and a secret setting's value would end up in the log; it also accepts
        # settings this target does not know (a misspelt one would be silently ignored).
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        errors = config_checks.unknown_settings(self._config, schema)
        errors += config_checks.describe_errors(
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
        config: Any = None,
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
            _discard_input(file_input)
            sys.exit(EXIT_CONFIG)
        except ConfigValidationError as exc:
            # The SDK's own checks (e.g. flattening without flattening_max_depth) would
            # otherwise end in exit code 1, as if rows had failed.
            cls.logger.error("Configuration error: %s", " ".join(exc.errors) or exc)
            sys.exit(EXIT_CONFIG)
        except (OSError, ValueError, TypeError) as exc:
            cls.logger.debug("Start-up failed", exc_info=True)
            cls.logger.error(
                "Configuration error: the target could not start with this configuration "
                "(%s).", type(exc).__name__,
            )  # fmt: skip
            _discard_input(file_input)
            sys.exit(EXIT_CONFIG)
        sys.exit(target.run(file_input))


#: After the calls' grace, how long writing the last STATE and the summary may take. A
#: downstream that stopped reading leaves stdout blocked (and the interrupted main thread
#: may hold the STATE lock): the process then exits without that STATE.
STATE_WRITE_GRACE_SECONDS = 2.0


def _discard_input(file_input: IO[Any] | None) -> None:
    """Read the input to its end, unread: a run that failed before reading any row must
    not close its end of the pipe while the tap still writes (the orchestrator upstream
    would die on a broken pipe instead of reporting this run's error). A terminal is
    left alone: nobody is writing to it."""
    source: IO[Any] = file_input if file_input is not None else sys.stdin.buffer
    with contextlib.suppress(OSError, ValueError):
        if source.isatty():
            return
        while source.read(1 << 16):
            pass


def _exit_after(seconds: float, code: int) -> None:
    """Exit with ``code`` after ``seconds`` whatever the main thread is blocked on."""
    timer = threading.Timer(seconds, os._exit, args=(code,))
    timer.daemon = True
    timer.start()


# The SDK logs through the "target-pardot" logger; keep our module loggers on it.
logging.getLogger("target-pardot")
