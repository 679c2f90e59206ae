"""Emails of one run that differ only in case from another row's email.

Pardot matches emails case-sensitively (v5, and v4 on AMPSEA accounts), so `Ann@x.com`
and `ann@x.com` become two prospects unless `lowercase_emails` is on. The run counts such
spellings and says so once, in the dry run too.

Memory stays small on large loads: an all-lowercase email (nearly every one) costs 4
bytes, a 32-bit hash in an array; only spellings with capitals are kept as text. The
count is taken at the end of the run by one pass over the hashes. A hash collision can
make a capitalised spelling look like a variant of a different address (about one in
4 billion per address pair): a warning, never a change to a row.
"""

from __future__ import annotations

import threading
import zlib
from array import array


def _hash32(text: str) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


class CaseVariants:
    """Counts email spellings that differ only in case from another row's email."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lowercase = array("I")
        #: folded email -> the spellings with capitals seen for it
        self._capitalised: dict[str, set[str]] = {}

    def saw(self, email: str) -> None:
        folded = email.lower()
        with self._lock:
            if folded == email:
                self._lowercase.append(_hash32(folded))
            else:
                self._capitalised.setdefault(folded, set()).add(email)

    def count(self) -> int:
        """Spellings beyond the first of each address that appeared in several cases."""
        with self._lock:
            if not self._capitalised:
                return 0
            wanted = {_hash32(folded): folded for folded in self._capitalised}
            lowercase_seen = {wanted[h] for h in self._lowercase if h in wanted}
            return sum(
                len(spellings) - (0 if folded in lowercase_seen else 1)
                for folded, spellings in self._capitalised.items()
            )
