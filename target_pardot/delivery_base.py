"""What every delivery path (v4/v5 prospects, memberships, imports) shares."""

from __future__ import annotations

from typing import Any

from target_pardot.runtime import Runtime


class RuntimeDelivery:
    """Holds the run's shared objects, and reports a row's end: settled or rejected."""

    def __init__(self, runtime: Runtime) -> None:
        self.client = runtime.client
        self.settings = runtime.settings
        self.stats = runtime.stats
        self.reporter = runtime.reporter
        self.sender = runtime.sender
        self.tracker = runtime.tracker
        self.ledger = runtime.ledger

    def settle_position(self, stream: str, position: int) -> None:
        self.tracker.settle(stream, (position,))

    def reject_row(
        self,
        *,
        stream: str,
        position: int,
        record: dict[str, Any],
        key: str,
        category: str,
        reason: str,
        code: Any,
    ) -> None:
        """Report a row Pardot refused (raises if the run stops on it), then settle it."""
        self.reporter.reject(
            stream=stream,
            position=position,
            record=record,
            key=key,
            category=category,
            reason=reason,
            code=code,
            during_delivery=True,
        )
        self.settle_position(stream, position)
