"""The few named objects a sink or a delivery is given, instead of the whole run.

The runtime builds them once (run/runtime.py); each sink takes the ones it uses in its
constructor, and the delivery core gets a :class:`DeliveryParts`, which a test builds
from plain objects, without a runtime and without threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from target_pardot.pardot.client import PardotClient
from target_pardot.rows.audiences import ListRef
from target_pardot.rows.fields import STANDARD_NAMES, FieldNames
from target_pardot.rows.payloads import list_flags
from target_pardot.run.ledger import Ledger
from target_pardot.run.list_directory import ListDirectory, NoSuchList, StreamStopped
from target_pardot.run.rejects import RejectionReporter
from target_pardot.run.state import StateTracker
from target_pardot.run.stats import RunStats
from target_pardot.settings import Settings

logger = logging.getLogger("target-pardot")

Job = Callable[[], None]
T = TypeVar("T")


class JobSender(Protocol):
    """What a delivery asks of the background sender (run/sender.py)."""

    @property
    def failed(self) -> bool: ...

    def submit(self, job: Job) -> None: ...

    def submit_followup(self, job: Job) -> None: ...

    def submit_later(self, delay: float, job: Job) -> None: ...

    def wait(self, *, raise_failure: bool = True) -> None: ...

    def wait_until(self, condition: Callable[[], bool]) -> None: ...

    def raise_failure(self) -> None: ...


@dataclass(frozen=True)
class Outcomes:
    """Where a row's end goes: STATE once it is settled (``state``, whose ``emit`` is the
    one writer of STATE), the report of rejected rows, and the run's counters."""

    state: StateTracker
    reporter: RejectionReporter
    stats: RunStats


@dataclass(frozen=True)
class DeliveryParts:
    """What the delivery core sends with and records into."""

    settings: Settings
    client: PardotClient
    sender: JobSender
    outcomes: Outcomes
    #: The skip_unchanged ledger, when it is on.
    ledger: Ledger | None = None
    #: The account's prospect field names (custom fields), once they are read.
    names: FieldNames = STANDARD_NAMES


class StreamStops:
    """Streams stopped before any write, each with the one line that stopped it: nothing
    more of such a stream is written, its rows stay unsettled (no STATE covers them), and
    the run ends with exit code 1 (:meth:`raise_if_any`)."""

    def __init__(self) -> None:
        self._reasons: dict[str, str] = {}

    def __contains__(self, stream: object) -> bool:
        return stream in self._reasons

    def stop(self, stream: str, exc: StreamStopped) -> None:
        if stream not in self._reasons:
            self._reasons[stream] = str(exc)
            logger.error("%s", exc)

    def raise_if_any(self) -> None:
        """End of input: a stopped stream fails the run (its line was logged when it
        stopped; this one names the streams)."""
        if self._reasons:
            names = ", ".join(f"'{s}'" for s in self._reasons)
            raise StreamStopped(
                f"Stopped before any write: stream{'s' if len(self._reasons) > 1 else ''} "
                f"{names} (reason above); the other streams were loaded."
            )


class RunHooks:
    """Steps a delivery asks the run to take: before every wait for delivery (an import
    sends its partial batch), and at close."""

    def __init__(self) -> None:
        self._before_wait: list[Callable[[], None]] = []
        self._at_close: list[Callable[[], None]] = []

    def before_every_wait(self, step: Callable[[], None]) -> None:
        self._before_wait.append(step)

    def at_close(self, step: Callable[[], None]) -> None:
        self._at_close.append(step)

    def run_before_wait(self) -> None:
        for step in self._before_wait:
            step()

    def close_steps(self) -> list[Callable[[], None]]:
        return list(self._at_close)


class ProspectLists:
    """``prospect_lists`` as ids (a name resolved, a missing one created, each checked not
    to be dynamic), once, before the first prospect row; and the list flags every
    prospect of the run carries."""

    def __init__(self, settings: Settings, directory: ListDirectory | None) -> None:
        self._refs = settings.prospect_lists
        self._add = settings.prospect_list_operation == "add"
        self._directory = directory
        self.ids: tuple[int, ...] | None = None

    def resolve(self, stream: str) -> None:
        """Raises StreamStopped when a list is missing or dynamic."""
        if self.ids is not None:
            return
        refs, directory = self._refs, self._directory
        if not refs or directory is None:
            self.ids = tuple(r for r in refs if isinstance(r, int))
            return
        try:
            ids = tuple(dict.fromkeys(
                directory.resolve(ListRef(list_id=r) if isinstance(r, int) else ListRef(name=r),
                                  stream)
                for r in refs
            ))  # fmt: skip
        except NoSuchList as exc:
            raise StreamStopped(
                f"Stream '{stream}': prospect_lists: {exc}; nothing of the stream was written. "
                "Create the list in Pardot, or set create_missing_lists: true."
            ) from None
        directory.check_writable(ids, stream)
        self.ids = ids

    def flags(self) -> dict[str, int]:
        """The list flags on every path (batch elements, the calls after a v5 upsert, an
        import's list column); the skip_unchanged fingerprint of a row covers them
        wherever the row goes."""
        return list_flags(self.ids or (), add=self._add)

    @property
    def add(self) -> bool:
        return self._add


@dataclass
class Mirrors(Generic[T]):
    """The run's mirror streams (``list_membership_operation: mirror``), kept here so
    that a new SCHEMA (a new sink) keeps its stream's mirror; and the messages of mirrors
    that kept members, raised together at the end of input."""

    streams: dict[str, T] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
