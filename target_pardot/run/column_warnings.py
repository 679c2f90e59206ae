"""Warnings about input columns that are not sent: each column named once, and few lines.

A tap whose rows each bring a new column (a key-value dump, a JSON blob flattened) would
otherwise log one warning per row: more log than input. Each stream names its first
``NAMED_COLUMNS`` unknown columns, once each; after that the columns are only counted,
and the count is logged once at the end of the stream.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

logger = logging.getLogger("target-pardot")

#: Unknown columns named per stream; later ones are counted.
NAMED_COLUMNS = 20
#: Distinct columns remembered per stream (beyond it, the count says "at least").
_REMEMBERED = 100_000


class IgnoredColumns:
    """The unknown columns of one stream. Used by its sink on the reading thread."""

    def __init__(self, stream: str, object_name: str) -> None:
        self.stream = stream
        self.object_name = object_name
        self._seen: set[str] = set()
        self._named = 0
        self._counted_only = 0

    def saw(self, columns: Iterable[str]) -> None:
        seen = self._seen
        fresh = [c for c in columns if c not in seen and not c.startswith("_sdc_")]
        if not fresh:
            return
        if len(seen) < _REMEMBERED:
            seen.update(fresh)
        room = NAMED_COLUMNS - self._named
        named, counted = fresh[:room], fresh[room:]
        self._named += len(named)
        if named:
            logger.warning(
                "Stream '%s': columns %s are not Pardot %s fields and are not sent. Rename "
                "them to a field name, or to the API name of one of the account's custom "
                "fields.",
                self.stream,
                ", ".join(repr(c[:80]) for c in sorted(named)),
                self.object_name,
            )
        if counted and not self._counted_only:
            logger.warning(
                "Stream '%s': more than %d columns are not Pardot fields; further ones are "
                "counted, not named.",
                self.stream,
                NAMED_COLUMNS,
            )
        self._counted_only += len(counted)

    def report(self) -> None:
        """At the end of the stream: how many columns went unnamed."""
        if self._counted_only:
            at_least = "at least " if len(self._seen) >= _REMEMBERED else ""
            logger.warning(
                "Stream '%s': %s%d more columns were not sent (not Pardot %s fields).",
                self.stream,
                at_least,
                self._counted_only,
                self.object_name,
            )
            self._counted_only = 0
