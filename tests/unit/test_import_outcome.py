"""ImportOutcome works through the delivery it is given: no inheritance from it."""

from __future__ import annotations

from array import array
from types import SimpleNamespace
from typing import Any

from target_pardot.run.stats import RunStats
from target_pardot.sinks.import_outcome import ImportJob, ImportOutcome


class Tracker:
    def __init__(self) -> None:
        self.settled: list[tuple[str, list[int]]] = []
        self.emitted = 0

    def settle(self, stream: str, positions: Any) -> None:
        self.settled.append((stream, list(positions)))

    def emit(self) -> None:
        self.emitted += 1


def test_a_completed_import_without_errors_settles_its_rows_in_the_delivery_it_serves():
    tracker, stats = Tracker(), RunStats()
    delivery = SimpleNamespace(tracker=tracker, stats=stats, ledger=None)
    imp = ImportJob("email", ("email",), "email\n", import_id=9, batches=1, rows=3,
                    positions=array("q", [4, 5, 6]))  # fmt: skip
    status = {"errorCount": 0, "createdCount": 2, "updatedCount": 1}
    ImportOutcome(delivery, "prospects").complete(imp, status, None)  # type: ignore[arg-type]
    assert tracker.settled == [("prospects", [4, 5, 6])]
    assert tracker.emitted == 1
    assert (stats.counts["rows_sent"], stats.counts["created"], stats.counts["updated"]) == (
        3, 2, 1,
    )
