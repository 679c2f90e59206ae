"""prospect_operation ``import`` on an account without AMPSEA (API v3).

An import matches ``matchEmail`` as v5 does, by the exact address, while a v3 account
may hold ``ann@x.com`` for a row that says ``Ann@x.com``: the import would create a
second prospect. On such an account, rows keyed by email alone go as v3 batch upserts
instead, where the email identifies the prospect (docs/wire-contract.md, V4); rows keyed
by id or Salesforce id keep their import lanes, which match those exactly. The rule is
the same as for sync: an unknown outcome, and every match, follows the account's own
semantics.

With ``api_version: auto`` the account kind is not known before a v3/v4 call: the first
email-keyed rows wait for one read that Pardot answers or refuses (error 88 or 89).
"""

from __future__ import annotations

from collections.abc import Sequence

from target_pardot.run.collaborators import DeliveryParts, ProspectLists
from target_pardot.sinks.base import Pending
from target_pardot.sinks.prospect_items import PendingRow
from target_pardot.sinks.prospects import ProspectDelivery


def is_email_keyed(pending: PendingRow) -> bool:
    fields = pending.row.fields
    return "id" not in fields and "fid" not in fields


class V3EmailLane:
    """Takes the email-keyed rows of an import on a v3 account and sends them as v3
    batches, with the campaign an import would have given them."""

    def __init__(self, parts: DeliveryParts, lists: ProspectLists | None, *,
                 default_campaign: int | None) -> None:  # fmt: skip
        self.parts = parts
        self.lists = lists
        self._default_campaign = default_campaign
        self._delivery: ProspectDelivery | None = None

    def take(self, rows: Sequence[PendingRow]) -> list[PendingRow]:
        """Send this account's v3 rows; return the rows that still go by import."""
        mine = [p for p in rows if is_email_keyed(p)]
        if not mine or not self._account_takes_v3():
            return list(rows)
        if self._delivery is None:
            self._delivery = ProspectDelivery(self.parts, prospect_lists=self.lists)
        # The import's ledger check already ran on these rows, with its fingerprints.
        self._delivery.deliver([self._with_campaign(p) for p in mine], ledger_checked=True)
        return [p for p in rows if not is_email_keyed(p)]

    def _account_takes_v3(self) -> bool:
        client = self.parts.client
        version = client.api_version
        if not version.known:
            if self.parts.settings.dry_run:
                return False  # a dry run makes no call: it plans the import
            version.run(client.endpoints.version_probe)
        return version.current == 3

    def _with_campaign(self, pending: PendingRow) -> PendingRow:
        """The row as an import would send it: in a batch (never v5: it matches by exact
        address), with ``default_campaign_id`` when it names no campaign."""
        row = pending.row
        fields = row.fields
        if "campaign_id" not in fields and self._default_campaign is not None:
            fields = {**fields, "campaign_id": self._default_campaign}
        if fields is row.fields:
            return pending
        # text="": recomputed from the fields when the row is sent.
        new_row = row._replace(fields=fields, text="")
        return Pending(pending.stream, pending.position, pending.record, new_row,
                       pending.fingerprint)  # fmt: skip
