"""Emails of one run that differ only in case from another row's email.

Pardot matches emails case-sensitively (v5, and v4 on AMPSEA accounts), so `Ann@x.com`
and `ann@x.com` become two prospects unless `lowercase_emails` is on. The run counts such
spellings and says so once, in the dry run too.

Memory stays the same however many rows a run has: an all-lowercase email (nearly every
one) only sets three bits of a fixed 1 MiB filter (a Bloom filter); spellings with
capitals are kept as text. The count is taken at the end of the run. The filter can
answer "seen" for a lowercase address that was not (under 0.3% of capitalised addresses
at a million distinct emails, more beyond): the warning's count may then be a little
high; no row is ever changed by it.
"""

from __future__ import annotations

import threading

#: 2**23 bits: 1 MiB.
_BITS_LOG2 = 23
_MASK = (1 << _BITS_LOG2) - 1


def _positions(folded: str) -> tuple[int, int, int]:
    # str's own hash (cached on the string, random per process, stable within a run).
    h = hash(folded) & 0xFFFF_FFFF_FFFF_FFFF
    return h & _MASK, (h >> 21) & _MASK, (h >> 42) & _MASK


class CaseVariants:
    """Counts email spellings that differ only in case from another row's email."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lowercase = bytearray(1 << (_BITS_LOG2 - 3))
        #: folded email -> the spellings with capitals seen for it
        self._capitalised: dict[str, set[str]] = {}

    def saw(self, email: str) -> None:
        """Called for every row, from the thread that reads the input (the only writer)."""
        folded = email.lower()
        if folded == email:
            # No lock: only this thread sets bits, and count() reading a bit a moment
            # early or late changes nothing it reports for the rows it has seen.
            bits = self._lowercase
            h = hash(folded) & 0xFFFF_FFFF_FFFF_FFFF  # _positions, inline: every row
            for position in (h & _MASK, (h >> 21) & _MASK, (h >> 42) & _MASK):
                bits[position >> 3] |= 1 << (position & 7)
            return
        with self._lock:
            self._capitalised.setdefault(folded, set()).add(email)

    def _lowercase_seen(self, folded: str) -> bool:
        bits = self._lowercase
        return all(bits[p >> 3] & (1 << (p & 7)) for p in _positions(folded))

    def count(self) -> int:
        """Spellings beyond the first of each address that appeared in several cases."""
        with self._lock:
            return sum(
                len(spellings) - (0 if self._lowercase_seen(folded) else 1)
                for folded, spellings in self._capitalised.items()
            )
