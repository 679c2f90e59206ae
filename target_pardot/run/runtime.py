"""The objects one run shares across streams and threads."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from target_pardot.errors import TargetPardotError
from target_pardot.pardot.api_version import API_VERSION_AUTO
from target_pardot.pardot.client import PardotClient
from target_pardot.rows.fields import STANDARD_NAMES, FieldNames
from target_pardot.run.account_memory import recall_version, store_version
from target_pardot.run.case_variants import CaseVariants
from target_pardot.run.collaborators import (
    DeliveryParts,
    Mirrors,
    Outcomes,
    ProspectLists,
    RunHooks,
    StreamStops,
)
from target_pardot.run.connection import open_client
from target_pardot.run.custom_fields import read_custom_fields
from target_pardot.run.email_resolver import EmailResolver
from target_pardot.run.full_streams import FullStreamCheck
from target_pardot.run.identity import open_identity_map
from target_pardot.run.identity_check import IdentityRouter
from target_pardot.run.ledger import Ledger, ledger_announcement, ledger_file, open_ledger
from target_pardot.run.list_directory import ListDirectory
from target_pardot.run.rejects import RejectionReporter
from target_pardot.run.sender import Sender
from target_pardot.run.state import StateTracker, write_state_line
from target_pardot.run.stats import RunStats
from target_pardot.run.verdicts import slow_run_hint
from target_pardot.settings import Settings

#: Jobs (calls, mostly of 50 rows) queued ahead of the senders, per slot: enough that no
#: slot waits for the reading thread, few enough to bound memory.
QUEUED_JOBS_PER_SLOT = 4

logger = logging.getLogger("target-pardot")


@dataclass
class Runtime:
    """The run's objects, built once; sinks take the named collaborators they use
    (run/collaborators.py) rather than this whole."""

    settings: Settings
    stats: RunStats
    client: PardotClient
    reporter: RejectionReporter
    sender: Sender
    tracker: StateTracker
    ledger: Ledger | None = None
    #: email -> prospect id (upsert_by_email with identity_map); see identity_check.
    identity: IdentityRouter | None = None
    hooks: RunHooks = field(default_factory=RunHooks)
    #: list_membership_operation mirror: stream -> its sinks.mirror.StreamMirror.
    mirrors: Mirrors[Any] = field(default_factory=Mirrors)
    #: The account's prospect field names; its custom fields once read (read_field_names).
    field_names: FieldNames = STANDARD_NAMES
    #: True once the account's custom fields were read (or skipped) for this run.
    custom_fields_read: bool = False
    #: Emails that differ only in case from another row's (see case_variants).
    case_variants: CaseVariants = field(default_factory=CaseVariants)
    #: List names to ids, and which lists are dynamic (see list_directory).
    lists: ListDirectory | None = None
    #: Emails of membership rows to prospect ids (see email_resolver).
    emails: EmailResolver | None = None
    stops: StreamStops = field(default_factory=StreamStops)
    #: Warns once when a mirror stream looks incremental.
    full_streams: FullStreamCheck = field(default_factory=FullStreamCheck)
    #: prospect_lists as ids, once its names are resolved.
    prospect_lists: ProspectLists | None = None
    _last_state: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        stats = RunStats()
        stats.dry_run = settings.dry_run
        slots = settings.parallel_tasks
        # One more worker than slots: a worker preparing its next call (building the
        # body, reading the reply) does not leave a slot idle.
        sender = Sender(workers=slots + 1, max_queued=QUEUED_JOBS_PER_SLOT * slots)
        client = open_client(settings, stats)
        client.cancelled = lambda: sender.failed
        announce_ledger(settings)
        identity = _identity_router(settings, client, stats)
        if settings.api_version == API_VERSION_AUTO:
            remembered = recall_version(settings)
            if remembered is not None:
                client.api_version.remember(remembered)
        ledger = (
            open_ledger(settings.ledger_path, settings.business_unit,
                        pardot_domain=settings.pardot_domain, read_only=settings.dry_run)
            if settings.skip_unchanged
            else None
        )  # fmt: skip
        lists = ListDirectory(client, stats, create_missing=settings.create_missing_lists,
                              dry_run=settings.dry_run,
                              offline=settings.dry_run_offline)  # fmt: skip
        return cls(
            settings=settings,
            stats=stats,
            client=client,
            reporter=RejectionReporter(
                # A dry run reports every invalid row rather than stop at the first
                # (target_pardot.run.dryrun.verdict still fails the run).
                skip=settings.skip_invalid_records or settings.dry_run,
                path=settings.rejected_records_path,
                stats=stats,
            ),
            sender=sender,
            tracker=state_tracker(settings, ledger),
            ledger=ledger,
            identity=identity,
            lists=lists,
            emails=EmailResolver(client.endpoints.v5_query_prospects, stats, identity),
            prospect_lists=ProspectLists(settings, lists),
        )

    @property
    def outcomes(self) -> Outcomes:
        return Outcomes(state=self.tracker, reporter=self.reporter, stats=self.stats)

    def delivery_parts(self) -> DeliveryParts:
        """The delivery core's collaborators, with the field names known so far (a
        prospects sink reads the account's custom fields before it builds its delivery)."""
        return DeliveryParts(settings=self.settings, client=self.client, sender=self.sender,
                             outcomes=self.outcomes, ledger=self.ledger,
                             names=self.field_names)  # fmt: skip

    def read_field_names(self) -> FieldNames:
        """Once per run, before any prospect row is mapped: the account's custom fields
        (one call; none when offline)."""
        if not self.custom_fields_read:
            self.custom_fields_read = True
            if not self.settings.dry_run_offline:
                self.field_names = FieldNames(read_custom_fields(self.client))
        return self.field_names

    def raise_if_streams_stopped(self) -> None:
        self.stops.raise_if_any()

    def wait_delivered(self) -> None:
        """Return once every row handed over so far is delivered or rejected; raise the
        failure that stopped delivery instead. The newest STATE may be written after this
        (the tracker also writes earlier ones as soon as their rows are settled)."""
        self.hooks.run_before_wait()
        self.sender.wait()
        if self.ledger is not None:
            self.ledger.flush()
        if self.identity is not None:
            self.identity.identity.flush()

    def state_received(self, state: dict[str, Any]) -> None:
        """A STATE arrived after the rows read so far: written once they are all settled."""
        if state != self._last_state:
            self._last_state = state
            self.full_streams.state(state)
            self.tracker.state_received(state)

    def has_unwritten_state(self) -> bool:
        """True while a STATE received is not written yet."""
        return self.tracker.has_unwritten()

    def unsettled_rows(self) -> int:
        return self.tracker.unsettled_rows()

    def check_credentials(self) -> None:
        """Fetch a token now, so bad credentials fail before any row is read."""
        self.client.check_credentials()

    def calls_left(self) -> int | None:
        """Calls this run may still make under `max_api_calls`; None when unlimited."""
        return self.client.calls_left()

    def interrupt(self, reason: TargetPardotError, grace_seconds: float) -> bool:
        """No call starts from now on; wait up to ``grace_seconds`` for the calls in
        flight. False if some are still in flight then."""
        self.client.halt(reason)
        return self.client.wait_idle(grace_seconds)

    def summary(self, outcome: str = "succeeded", reason: str = "") -> dict[str, Any]:
        summary = self.stats.snapshot(
            outcome=outcome, reason=reason, case_variants=self.case_variants.count()
        )
        clock = self.client.clock
        summary["hint"] = slow_run_hint(
            parallel_tasks=self.settings.parallel_tasks,
            wall_seconds=summary["wall_seconds"],
            busy_seconds=clock.busy_seconds,
            call_seconds=clock.call_seconds,
        ) or ""
        return summary

    def wait_running(self) -> None:
        """After a failure: let the calls already running finish, so that their rows are
        settled (or not) before the STATE that is still true is written."""
        self.sender.wait(raise_failure=False)

    def close(self) -> None:
        """Close everything; then raise the first failure to close (a last commit to the
        ledger_path file that another run kept locked), so that nothing stays open."""
        version = self.client.api_version
        if self.settings.api_version == API_VERSION_AUTO and version.known:
            store_version(self.settings, version.current)
        steps = [self.sender.close, *self.hooks.close_steps()]
        if self.ledger is not None:
            steps.append(self.ledger.close)
        if self.identity is not None:
            steps.append(self.identity.identity.close)
        steps += [self.client.close, self.reporter.close]
        failure: TargetPardotError | None = None
        for step in steps:
            try:
                step()
            except TargetPardotError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure


def _identity_router(
    settings: Settings, client: PardotClient, stats: RunStats
) -> IdentityRouter | None:
    """The map is worth keeping only where rows go through upsertLatestByEmail."""
    if not uses_identity_map(settings):
        return None
    identity = open_identity_map(settings.ledger_path, settings.business_unit,
                                 pardot_domain=settings.pardot_domain,
                                 read_only=settings.dry_run)  # fmt: skip
    return IdentityRouter(
        identity, client.endpoints.v5_query_prospects, stats, dry_run=settings.dry_run
    )


def uses_identity_map(settings: Settings) -> bool:
    return (settings.identity_map and settings.upsert_by_email
            and settings.prospect_operation in ("sync", "auto"))  # fmt: skip


def announce_ledger(settings: Settings) -> None:
    """Once, before the file is opened: where the ledger lives and how big it is, or a
    warning that it is new (what a container without a persistent cache sees every run)."""
    uses = [name for name, used in (("skip_unchanged", settings.skip_unchanged),
                                    ("identity_map", uses_identity_map(settings))) if used]
    if not uses:
        return
    warn, line = ledger_announcement(ledger_file(settings.ledger_path, settings.business_unit),
                                     uses)  # fmt: skip
    logger.log(logging.WARNING if warn else logging.INFO, "%s", line)


def state_tracker(settings: Settings, ledger: Ledger | None) -> StateTracker:
    """A dry run writes no STATE; otherwise each STATE line follows the ledger's commit
    of what its rows left behind (see run/state.py)."""
    if settings.dry_run:
        return StateTracker(write=_discard)
    return StateTracker(write=write_state_line,
                        before_write=ledger.flush if ledger is not None else None)  # fmt: skip


def _discard(state: dict[str, Any]) -> None:
    """A dry run delivers nothing, so its STATE would claim rows that were never sent."""
