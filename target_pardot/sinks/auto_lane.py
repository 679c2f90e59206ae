"""The import lane of ``prospect_operation: auto``.

The planner (run/plan.py) hands this lane the unknown email-only rows it chose to import
and the rows that must wait for an import; the lane feeds the first to the stream's
import (sinks/bulk_import.py) and parks the others (run/import_holds.py). Before every
STATE (a hook the run calls before every wait) it seals the import, waits until Pardot
completed it (only then does STATE cover its rows), teaches the identity map the ids it
created or matched (run/import_ids.py), and plans the parked rows again, now that their
import landed.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Sequence

from target_pardot.pardot.limits import MAX_IMPORT_LISTS_PER_ROW
from target_pardot.rows.fields import FieldNames
from target_pardot.run.collaborators import DeliveryParts, ProspectLists, RunHooks
from target_pardot.run.identity_check import IdentityRouter
from target_pardot.run.import_holds import ImportHolds
from target_pardot.run.import_ids import LEARN_AT_MOST, ids_of_imported, query_since
from target_pardot.run.plan import ImportChoice
from target_pardot.settings import Settings
from target_pardot.sinks.bulk_import import ImportDelivery
from target_pardot.sinks.prospect_items import PendingRow

logger = logging.getLogger("target-pardot")


def import_lane_possible(
    settings: Settings, schema_columns: Iterable[str], names: FieldNames
) -> bool:
    """Whether a stream's email-only rows may go through an import under ``auto``: a
    campaign is available for the prospects it may create (``default_campaign_id``, or
    a ``campaign_id`` column), and the run's list flags fit an import row. Otherwise
    ``auto`` sends exactly what ``sync`` sends."""
    if not settings.upsert_by_email or len(settings.prospect_lists) > MAX_IMPORT_LISTS_PER_ROW:
        return False
    if settings.default_campaign_id is not None:
        return True
    return any(names.pardot_name(c) == "campaign_id" for c in schema_columns)


class AutoImportLane:
    """One stream's import lane under ``auto``. Used by the reading thread only."""

    def __init__(
        self,
        parts: DeliveryParts,
        *,
        prospect_lists: ProspectLists | None,
        identity: IdentityRouter | None,
        hooks: RunHooks,
        stream: str,
        schema_columns: Iterable[str],
    ) -> None:
        self.parts = parts
        self.settings = parts.settings
        self._lists = prospect_lists
        self._identity = identity
        self._hooks = hooks
        self._stream = stream
        self._columns = list(schema_columns)
        self._imports: ImportDelivery | None = None
        self.holds: ImportHolds[PendingRow] = ImportHolds()
        #: Emails imported since the ids were last read back, and when the first was.
        self._emails: set[str] = set()
        self._since: str | None = None
        self._imported_in_run = 0
        #: Plans and sends rows again (the prospect delivery, set by it).
        self.replan: Callable[[list[PendingRow]], None] | None = None

    def choice(self) -> ImportChoice:
        return ImportChoice(
            default_campaign=self.settings.default_campaign_id,
            import_open=self.holds.pending,
        )

    def take(self, rows: Sequence[PendingRow]) -> None:
        """Rows for the import (their ledger check already ran)."""
        if not rows:
            return
        if self._imports is None:
            self._imports = ImportDelivery(
                self.parts,
                prospect_lists=self._lists,
                stream=self._stream,
                schema_columns=self._columns,
            )
            self._hooks.at_close(self._imports.close)
        if self._since is None:
            self._since = query_since(datetime.datetime.now(datetime.timezone.utc))
        self.holds.imported(rows)
        self._imported_in_run += len(rows)
        if self._imported_in_run <= LEARN_AT_MOST:
            self._emails.update(str(p.row.fields["email"]) for p in rows)
        self._imports.deliver(rows, planned=True)

    def park(self, rows: Sequence[PendingRow]) -> None:
        self.holds.park(rows)

    def finish(self) -> None:
        """Before a STATE: the import sealed and completed, its ids learned, the parked
        rows planned again (the sender's wait that follows covers their calls)."""
        if not self.holds.pending and not self.holds.parked:
            return
        if self._imports is not None:
            self._imports.finish()
            self.parts.sender.wait()
        self._learn_ids()
        released = self.holds.release()
        if released and self.replan is not None:
            self.replan(released)

    def _learn_ids(self) -> None:
        emails, self._emails = self._emails, set()
        since, self._since = self._since, None
        identity = self._identity
        if identity is None or not emails or since is None or self.settings.dry_run:
            return
        if self._imported_in_run > LEARN_AT_MOST:
            logger.info(
                "This run imported %d rows, over %d: their ids are not read back (the "
                "query would cost about as much as it saves); the next run imports them "
                "again at a few calls.", self._imported_in_run, LEARN_AT_MOST,
            )  # fmt: skip
            return
        query = self.parts.client.endpoints.v5_query_prospects
        learned, pages = ids_of_imported(query, emails, since)
        for email, pid in learned.items():
            identity.identity.learn(email, pid)
        identity.identity.flush()
        stats = self.parts.outcomes.stats
        stats.add("import_id_queries", pages)
        stats.add("identity_map_learned_from_imports", len(learned))
