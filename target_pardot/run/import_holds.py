"""Rows that wait for an import: a later row of a prospect never lands before an earlier one.

An import lands when Pardot has processed it, minutes after its rows were read; a batch
or v5 call sent meanwhile would land first. So while an import holding an address is not
completed, every later row naming that address (its email, or the old address of a
rename) is parked here, in stream order, and sent once the import completed. STATE
cannot cover a parked row before then: it is settled only when it is sent.

A change of address (a ``match_email`` row) sent by another lane holds both of its
addresses the same way: an import of a later row by the new address would create a
prospect there (createOnNoMatch) if Pardot processed it before the change landed, and
the change would then give a second prospect the same address. So such a row is parked
too, and planned again once every call sent before it is done.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from target_pardot.run.plan import HasRow, email_keys

T = TypeVar("T", bound=HasRow)


class ImportHolds(Generic[T]):
    """The addresses in imports not completed yet, and the rows parked behind them.

    Used by the reading thread only (the plan, and the release after the imports
    completed)."""

    def __init__(self) -> None:
        self._addresses: set[str] = set()
        self._parked: list[T] = []
        self._imported = 0

    @property
    def addresses(self) -> frozenset[str]:
        """Lowercase addresses a row must not overtake: those of pending imports, and
        those of rows already parked (a later row waits behind them too)."""
        return frozenset(self._addresses)

    @property
    def pending(self) -> bool:
        """Rows went into an import that has not completed yet."""
        return self._imported > 0

    @property
    def parked(self) -> int:
        return len(self._parked)

    def imported(self, rows: Iterable[T]) -> None:
        for pending in rows:
            self._addresses.update(email_keys(pending.row))
            self._imported += 1

    def renaming(self, rows: Iterable[T]) -> None:
        """Rows that change their prospect's address, sent by a call of another lane: a
        later row naming either address waits (see the module docstring)."""
        for pending in rows:
            self._addresses.update(email_keys(pending.row))

    def park(self, rows: Iterable[T]) -> None:
        for pending in rows:
            self._addresses.update(email_keys(pending.row))
            self._parked.append(pending)

    def release(self) -> list[T]:
        """Every import handed over so far completed: the parked rows, in stream order,
        to be planned again; nothing is held any more."""
        released, self._parked = self._parked, []
        self._addresses.clear()
        self._imported = 0
        return released
