"""The delivery core that every path (v4/v5 prospects, memberships, imports) shares.

- :class:`Pending`: the one pending-row type, a row on its way with what is needed to
  report it (stream, position for STATE, the record as received, the mapped row).
- :func:`triage`: the one reading of a v4 batch reply: accepted, to send again (a
  transient row error with attempts left), or refused.
- :meth:`Delivery.split_too_large`: the one answer to HTTP 413/414, halving the batch.
- :class:`Delivery`: a row's end, settled (STATE may cover it) or rejected, and the
  skip_unchanged ledger steps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Generic, Protocol, TypeVar

from target_pardot.errors import PayloadTooLarge
from target_pardot.pardot.responses import is_transient_row_error
from target_pardot.run.collaborators import DeliveryParts
from target_pardot.run.ledger import Ledger

logger = logging.getLogger("target-pardot")

RowT = TypeVar("RowT")


@dataclass
class Pending(Generic[RowT]):
    """A row waiting for delivery, with what is needed to report it."""

    stream: str
    position: int
    record: dict[str, Any]
    row: RowT
    #: Of the payload, for skip_unchanged; recorded once Pardot accepts the row.
    fingerprint: bytes | None = None

    @property
    def key(self) -> str:
        """How reports name the row (``id=…``, ``email=…``, ``list_id=…, prospect_id=…``)."""
        return str(self.row.key)  # type: ignore[attr-defined]


class Attempted(Protocol):
    """One element of a batch call: counts how often it was sent again."""

    attempts: int


ItemT = TypeVar("ItemT", bound=Attempted)
P = TypeVar("P", bound=Pending[Any])


@dataclass
class Triage(Generic[ItemT]):
    """A v4 batch reply, element by element."""

    accepted: list[ItemT] = field(default_factory=list)
    #: A transient row error (85, 62) with attempts left: send these again.
    again: list[ItemT] = field(default_factory=list)
    #: Refused for good: the element and Pardot's message for it.
    refused: list[tuple[ItemT, str]] = field(default_factory=list)


def triage(
    batch: Sequence[ItemT], errors: Mapping[int, str], *, max_retries: int
) -> Triage[ItemT]:
    """Sort the elements of a sent batch by Pardot's per-row errors, keyed by position
    (``batch_row_errors`` of a v4 reply, ``v3_row_errors`` of a v3 one)."""
    result: Triage[ItemT] = Triage()
    for index, item in enumerate(batch):
        message = errors.get(index)
        if message is None:
            result.accepted.append(item)
        elif is_transient_row_error(message) and item.attempts < max_retries:
            item.attempts += 1
            result.again.append(item)
        else:
            result.refused.append((item, message))
    return result


_stream_of = attrgetter("stream")
_position_of = attrgetter("position")


class Delivery:
    """Sends through its parts, and reports a row's end: settled or rejected."""

    def __init__(self, parts: DeliveryParts) -> None:
        self.parts = parts
        self.client = parts.client
        self.settings = parts.settings
        self.stats = parts.outcomes.stats
        self.reporter = parts.outcomes.reporter
        self.sender = parts.sender
        self.tracker = parts.outcomes.state
        self.ledger = parts.ledger
        self.names = parts.names
        self._warned_split = False

    def _settle(self, pending: Pending[Any]) -> None:
        """The row is done: STATE may now cover it."""
        self.tracker.settle(pending.stream, (pending.position,))

    def _settle_all(self, rows: Iterable[Pending[Any]]) -> None:
        """Rows that are done, settled with one tracker call per stream (its lock taken
        once, not once a row: a dry-run drain settles every row of the drain at once)."""
        rows = list(rows)
        streams = set(map(_stream_of, rows))
        if len(streams) == 1:  # a drain's rows: all of its sink's stream
            self.tracker.settle(streams.pop(), map(_position_of, rows))
            return
        by_stream: dict[str, list[int]] = {}
        for pending in rows:
            by_stream.setdefault(pending.stream, []).append(pending.position)
        for stream, positions in by_stream.items():
            self.tracker.settle(stream, positions)

    def report_refused(
        self,
        stream: str,
        position: int,
        record: dict[str, Any],
        key: str,
        reason: str,
        code: Any,
        category: str = "pardot_rejected",
    ) -> None:
        """Report a row Pardot refused (raises if the run stops on it); does not settle."""
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

    def _reject(self, pending: Pending[Any], category: str, reason: str, code: Any) -> None:
        """Report a row Pardot refused (raises if the run stops on it), then settle it."""
        self.report_refused(
            pending.stream, pending.position, pending.record, pending.key, reason, code, category
        )
        self._settle(pending)

    def split_too_large(
        self,
        batch: Sequence[ItemT],
        exc: PayloadTooLarge,
        send: Callable[[list[ItemT]], None],
        rows_of: Callable[[ItemT], Iterable[Pending[Any]]],
    ) -> None:
        """Pardot refused the call as too large (HTTP 413/414): send each half, or reject
        the rows of an element that is too large alone."""
        if len(batch) == 1:
            for pending in rows_of(batch[0]):
                self._reject(
                    pending,
                    "payload_too_large",
                    f"Pardot refused the request as too large (HTTP {exc.status}) even for "
                    "this row alone",
                    exc.status,
                )
            return
        if not self._warned_split:
            self._warned_split = True
            logger.warning(
                "Pardot answered HTTP %s (request too large) to a batch of %d rows; splitting "
                "it. If this repeats, lower 'max_payload' (now %d bytes).",
                exc.status,
                len(batch),
                self.settings.max_payload,
            )
        self.stats.retry(f"http_{exc.status}_split")
        middle = len(batch) // 2
        send(list(batch[:middle]))
        send(list(batch[middle:]))

    def drop_unchanged(
        self,
        rows: Sequence[P],
        ledger: Ledger,
        table: str,
        key_of: Callable[[P], str],
        fingerprint_of: Callable[[P], bytes],
    ) -> list[P]:
        """The rows whose payload differs from what Pardot last accepted for their key.

        Each row keeps its fingerprint, for the ledger once Pardot accepts it; an unchanged
        row is settled at once, as if delivered.
        """
        for row in rows:
            row.fingerprint = fingerprint_of(row)
        same = ledger.unchanged(table, [(key_of(r), r.fingerprint) for r in rows])  # type: ignore[misc]
        changed = []
        for row, unchanged in zip(rows, same, strict=True):
            if unchanged:
                self._settle(row)
            else:
                changed.append(row)
        self.stats.add("unchanged", len(rows) - len(changed))
        return changed

    def record_accepted(
        self, rows: Sequence[P], table: str, key_of: Callable[[P], str]
    ) -> None:
        """Pardot accepted these rows (all of one stream): into the ledger, and settled."""
        if self.ledger is not None and not self.settings.dry_run:
            self.ledger.accept(table, [(key_of(r), r.fingerprint) for r in rows if r.fingerprint])
        if rows:
            self.tracker.settle(rows[0].stream, [r.position for r in rows])
