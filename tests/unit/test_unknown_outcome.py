"""An unknown outcome is resolved by the account's own semantics: a v4 batch lost after
another call learned that the account takes v3 was never applied (error 89), and goes
again as a v3 batch, never through v5 (which matches emails by exact case)."""

from __future__ import annotations

from typing import Any

from target_pardot.errors import RetryableError
from target_pardot.pardot.api_version import ApiVersion
from target_pardot.pardot.responses import Reply
from target_pardot.rows.payloads import prepare_prospect
from target_pardot.sinks.base import Pending
from target_pardot.sinks.prospects import ProspectDelivery
from tests.unit.test_delivery_core import delivery_parts


class LostWhileAnotherLearnsV3:
    """The first v4 batch is lost, and its failure arrives after another call's error 89
    told the run that the account takes v3. Every v3 batch is accepted."""

    def __init__(self) -> None:
        self.api_version = ApiVersion("auto")
        self.calls: list[tuple[str, int]] = []
        self.endpoints = self  # prospect_batch and v5_upsert_latest_by_email below

    def prospect_batch(self, operation: str, body: str, *, version: int, idempotent: bool) -> Reply:
        self.calls.append((operation, version))
        if version == 4:
            self.api_version.refused(4, 89)  # another call in flight got error 89
            raise RetryableError("connection reset", ambiguous=True)
        return Reply(status=201, body={"errors": {}})

    def v5_upsert_latest_by_email(self, body: Any) -> Reply:
        self.calls.append(("upsertLatestByEmail", 5))
        return Reply(status=201, body={"id": 1})

    def close(self) -> None:
        pass


def test_a_lost_v4_batch_goes_again_as_v3_once_the_account_is_known_to_be_v3():
    client = LostWhileAnotherLearnsV3()
    parts, _ = delivery_parts(client, upsert_by_email=False)
    rows = [
        prepare_prospect({"email": email}, lowercase_emails=False, upsert_by_email=False,
                         update_only=False)[0]
        for email in ("ann@example.com", "Bob@example.com")
    ]  # fmt: skip
    state = parts.outcomes.state
    pending = [Pending("prospects", state.row_received("prospects"), {}, r) for r in rows]
    ProspectDelivery(parts).deliver(pending)
    assert client.calls == [("batchUpsert", 4), ("batchUpsert", 3)]
    assert parts.outcomes.stats.snapshot()["rows_sent"] == 2
    assert state.unsettled_rows() == 0
