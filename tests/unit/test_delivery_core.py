"""The delivery core: one reading of a batch reply for prospects and memberships alike.

Pardot's error table says a batch element refused with 85 ("Unable to save the prospect")
or 62 ("Conflicting Update") is to be sent again. The emulator never refuses one element
of a batch transiently, so these tests give the deliveries a client that answers like
Pardot does in that case: the first call refuses the first element, the second accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from target_pardot.pardot.api_version import ApiVersion
from target_pardot.pardot.responses import Reply
from target_pardot.rows.memberships import MembershipRow
from target_pardot.rows.payloads import prepare_prospect
from target_pardot.run.runtime import Runtime
from target_pardot.settings import parse_settings
from target_pardot.sinks.base import Pending, triage
from target_pardot.sinks.memberships import MembershipDelivery
from target_pardot.sinks.prospects import ProspectDelivery

CONFIG = {
    "client_id": "id",
    "client_secret": "secret",
    "refresh_token": "token",
    "business_unit": "0Uv000000000001AAA",
    "pardot_domain": "http://127.0.0.1:9",
    "login_url": "http://127.0.0.1:9",
}


class FlakyBatches:
    """Answers v4 batch calls: the first element of the first call gets ``message``."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.bodies: list[str] = []
        self.api_version = ApiVersion("4")
        self.endpoints = self  # prospect_batch below

    def prospect_batch(self, operation: str, body: str, *, version: int, idempotent: bool) -> Reply:
        self.bodies.append(body)
        errors = {"0": self.message} if len(self.bodies) == 1 else {}
        return Reply(status=200, body={"errors": errors})

    def close(self) -> None:
        pass


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    runtime = Runtime.create(parse_settings(CONFIG))
    yield runtime
    runtime.close()


def _received(runtime: Runtime, stream: str, rows: list[Any]) -> list[Pending[Any]]:
    return [
        Pending(stream, runtime.tracker.row_received(stream), {"n": n}, row)
        for n, row in enumerate(rows)
    ]


@pytest.mark.parametrize("message", ["Unable to save the prospect", "Conflicting Update"])
def test_a_membership_refused_transiently_is_sent_again(runtime, message):
    client = FlakyBatches(message)
    runtime.client = client  # type: ignore[assignment]
    rows = _received(
        runtime, "list_memberships", [MembershipRow(7, 101, None), MembershipRow(7, 102, None)]
    )
    MembershipDelivery(runtime).deliver(rows)
    runtime.wait_delivered()
    assert len(client.bodies) == 2
    assert "101" in client.bodies[1] and "102" not in client.bodies[1]
    summary = runtime.stats.snapshot()
    assert summary["rows_sent"] == 2
    assert summary["rows_rejected"] == 0
    assert runtime.tracker.unsettled_rows() == 0


def test_a_prospect_refused_transiently_is_sent_again(runtime):
    client = FlakyBatches("Unable to save the prospect")
    runtime.client = client  # type: ignore[assignment]
    prepared = [
        prepare_prospect({"id": n, "city": "Lyon"}, lowercase_emails=False,
                         upsert_by_email=False, update_only=False)[0]
        for n in (1, 2)
    ]  # fmt: skip
    ProspectDelivery(runtime).deliver(_received(runtime, "prospects", prepared))
    runtime.wait_delivered()
    assert len(client.bodies) == 2
    assert runtime.stats.snapshot()["rows_sent"] == 2


@dataclass
class Element:
    name: str
    attempts: int = 0


def test_triage_sends_transient_errors_again_until_attempts_run_out():
    batch = [Element("ok"), Element("busy"), Element("bad"), Element("tired", attempts=2)]
    errors = {
        1: "Conflicting Update",
        2: "Invalid prospect email address",
        3: "Unable to save the prospect",
    }
    outcome = triage(batch, errors, max_retries=2)
    assert [e.name for e in outcome.accepted] == ["ok"]
    assert [e.name for e in outcome.again] == ["busy"]
    assert batch[1].attempts == 1
    assert [(e.name, m) for e, m in outcome.refused] == [
        ("bad", "Invalid prospect email address"),
        ("tired", "Unable to save the prospect"),
    ]
