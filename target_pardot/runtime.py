"""The objects one run shares across streams and threads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from target_pardot.checkpoints import StateTracker, write_state_line
from target_pardot.client import PardotClient
from target_pardot.rejects import RejectionReporter
from target_pardot.settings import Settings
from target_pardot.stats import RunStats


@dataclass
class Runtime:
    """Settings, counters, the single client (one token, one gate) and the reporter."""

    settings: Settings
    stats: RunStats
    client: PardotClient
    reporter: RejectionReporter
    tracker: StateTracker

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        stats = RunStats()
        return cls(
            settings=settings,
            stats=stats,
            client=PardotClient(settings, stats),
            reporter=RejectionReporter(
                # A dry run reports every invalid row rather than stop at the first
                # (target_pardot.dryrun.verdict still fails the run).
                skip=settings.skip_invalid_records or settings.dry_run,
                path=settings.rejected_records_path,
                stats=stats,
            ),
            tracker=StateTracker(write=_discard if settings.dry_run else write_state_line),
        )

    def close(self) -> None:
        self.client.close()
        self.reporter.close()


def _discard(state: dict[str, Any]) -> None:
    """A dry run delivers nothing, so its STATE would claim rows that were never sent."""
