"""The objects one run shares across streams and threads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from target_pardot.errors import TargetPardotError
from target_pardot.pardot.api_version import API_VERSION_AUTO
from target_pardot.pardot.client import PardotClient
from target_pardot.run.account_memory import recall_version, store_version
from target_pardot.run.case_variants import CaseVariants
from target_pardot.run.identity import open_identity_map
from target_pardot.run.identity_check import IdentityRouter
from target_pardot.run.ledger import Ledger, open_ledger
from target_pardot.run.rejects import RejectionReporter
from target_pardot.run.sender import Sender
from target_pardot.run.state import StateTracker, write_state_line
from target_pardot.run.stats import RunStats
from target_pardot.run.verdicts import slow_run_hint
from target_pardot.settings import Settings

#: Jobs (calls, mostly of 50 rows) queued ahead of the senders, per slot: enough that no
#: slot waits for the reading thread, few enough to bound memory.
QUEUED_JOBS_PER_SLOT = 4


@dataclass
class Runtime:
    """Settings, counters, the single client (one token, one gate), the reporter and the
    background sender."""

    settings: Settings
    stats: RunStats
    client: PardotClient
    reporter: RejectionReporter
    sender: Sender
    tracker: StateTracker
    ledger: Ledger | None = None
    #: email -> prospect id (upsert_by_email with identity_map); see identity_check.
    identity: IdentityRouter | None = None
    #: Run before every wait_delivered (imports send their partial batch), and at close.
    finishers: list[Callable[[], None]] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    #: stream -> its target_pardot.sinks.mirror.StreamMirror (list_membership_operation mirror)
    mirrors: dict[str, Any] = field(default_factory=dict)
    #: True once the account's custom fields were read (or skipped) for this run.
    custom_fields_read: bool = False
    #: Emails that differ only in case from another row's (see case_variants).
    case_variants: CaseVariants = field(default_factory=CaseVariants)
    _last_state: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        stats = RunStats()
        slots = settings.parallel_tasks
        # One more worker than slots: a worker preparing its next call (building the
        # body, reading the reply) does not leave a slot idle.
        sender = Sender(workers=slots + 1, max_queued=QUEUED_JOBS_PER_SLOT * slots)
        client = PardotClient(settings, stats)
        client.cancelled = lambda: sender.failed
        if settings.api_version == API_VERSION_AUTO:
            remembered = recall_version(settings)
            if remembered is not None:
                client.api_version.remember(remembered)
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
            tracker=StateTracker(write=_discard if settings.dry_run else write_state_line),
            ledger=(
                open_ledger(settings.ledger_path, settings.business_unit)
                if settings.skip_unchanged
                else None
            ),
            identity=_identity_router(settings, client, stats),
        )

    def wait_delivered(self) -> None:
        """Return once every row handed over so far is delivered or rejected; raise the
        failure that stopped delivery instead. The newest STATE may be written after this
        (the tracker also writes earlier ones as soon as their rows are settled)."""
        for finish in self.finishers:
            finish()
        self.sender.wait()
        if self.ledger is not None:
            self.ledger.flush()
        if self.identity is not None:
            self.identity.identity.flush()

    def state_received(self, state: dict[str, Any]) -> None:
        """A STATE arrived after the rows read so far: written once they are all settled."""
        if state != self._last_state:
            self._last_state = state
            self.tracker.state_received(state)

    def emit_settled_state(self) -> None:
        """Write the newest STATE whose rows are all delivered or rejected, if not yet."""
        self.tracker.emit_ready()

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
        self.sender.close()
        version = self.client.api_version
        if self.settings.api_version == API_VERSION_AUTO and version.known:
            store_version(self.settings, version.current)
        for close in self.closers:
            close()
        if self.ledger is not None:
            self.ledger.close()
        if self.identity is not None:
            self.identity.identity.close()
        self.client.close()
        self.reporter.close()


def _identity_router(
    settings: Settings, client: PardotClient, stats: RunStats
) -> IdentityRouter | None:
    """The map is worth keeping only where rows go through upsertLatestByEmail."""
    if not (settings.identity_map and settings.upsert_by_email
            and settings.prospect_operation == "sync"):  # fmt: skip
        return None
    identity = open_identity_map(settings.ledger_path, settings.business_unit)
    return IdentityRouter(identity, client.v5_query_prospects, stats, dry_run=settings.dry_run)


def _discard(state: dict[str, Any]) -> None:
    """A dry run delivers nothing, so its STATE would claim rows that were never sent."""
