"""What every delivery path (v4/v5 prospects, memberships, imports) shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from target_pardot.run.ledger import Ledger
from target_pardot.run.runtime import Runtime

Row = TypeVar("Row", bound=Any)


class RuntimeDelivery:
    """Holds the run's shared objects, and reports a row's end: settled or rejected.

    Rows are PendingRow or PendingMembership: both carry stream, position, record and
    row.key.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.client = runtime.client
        self.settings = runtime.settings
        self.stats = runtime.stats
        self.reporter = runtime.reporter
        self.sender = runtime.sender
        self.tracker = runtime.tracker
        self.ledger = runtime.ledger

    def _settle(self, pending: Any) -> None:
        """The row (PendingRow or PendingMembership) is done: STATE may now cover it."""
        self.tracker.settle(pending.stream, (pending.position,))

    def _reject(self, pending: Any, category: str, reason: str, code: Any) -> None:
        """Report a row Pardot refused (raises if the run stops on it), then settle it."""
        self.reporter.reject(
            stream=pending.stream,
            position=pending.position,
            record=pending.record,
            key=pending.row.key,
            category=category,
            reason=reason,
            code=code,
            during_delivery=True,
        )
        self._settle(pending)

    def drop_unchanged(
        self,
        rows: Sequence[Row],
        ledger: Ledger,
        table: str,
        key_of: Callable[[Row], str],
        fingerprint_of: Callable[[Row], bytes],
    ) -> list[Row]:
        """The rows whose payload differs from what Pardot last accepted for their key.

        Each row keeps its fingerprint, for the ledger once Pardot accepts it; an unchanged
        row is settled at once, as if delivered.
        """
        for row in rows:
            row.fingerprint = fingerprint_of(row)
        same = ledger.unchanged(table, [(key_of(r), r.fingerprint) for r in rows])
        changed = []
        for row, unchanged in zip(rows, same, strict=True):
            if unchanged:
                self._settle(row)
            else:
                changed.append(row)
        self.stats.add("unchanged", len(rows) - len(changed))
        return changed

    def record_accepted(
        self, rows: Sequence[Row], table: str, key_of: Callable[[Row], str]
    ) -> None:
        """Pardot accepted these rows (all of one stream): into the ledger, and settled."""
        if self.ledger is not None and not self.settings.dry_run:
            self.ledger.accept(table, [(key_of(r), r.fingerprint) for r in rows if r.fingerprint])
        if rows:
            self.tracker.settle(rows[0].stream, [r.position for r in rows])
