"""The delivery core: one reading of a batch reply for prospects and memberships alike.

Pardot's error table says a batch element refused with 85 ("Unable to save the prospect")
or 62 ("Conflicting Update") is to be sent again. The emulator never refuses one element
of a batch transiently, so these tests give the deliveries a client that answers like
Pardot does in that case: the first call refuses the first element, the second accepts.
The deliveries are built from their parts alone (no runtime) and send in line (no
thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from target_pardot.pardot.api_version import ApiVersion
from target_pardot.pardot.responses import Reply
from target_pardot.rows.memberships import MembershipRow
from target_pardot.rows.payloads import prepare_prospect
from target_pardot.run.collaborators import DeliveryParts, Outcomes
from target_pardot.run.rejects import RejectionReporter
from target_pardot.run.state import StateTracker
from target_pardot.run.stats import RunStats
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


class InlineSender:
    """Runs each job at once, in the calling thread: the delivery core needs no threads."""

    failed = False

    def submit(self, job: Callable[[], None]) -> None:
        job()

    submit_followup = submit

    def submit_later(self, delay: float, job: Callable[[], None]) -> None:
        job()

    def wait(self, *, raise_failure: bool = True) -> None:
        pass

    def wait_until(self, condition: Callable[[], bool]) -> None:
        assert condition()

    def raise_failure(self) -> None:
        pass


def delivery_parts(client: Any, **settings: Any) -> tuple[DeliveryParts, list[dict[str, Any]]]:
    """The delivery core's collaborators, built from plain objects (no runtime, no
    thread), and the list the STATE lines are written to."""
    stats = RunStats()
    written: list[dict[str, Any]] = []
    outcomes = Outcomes(
        state=StateTracker(write=written.append),
        reporter=RejectionReporter(skip=False, path=None, stats=stats),
        stats=stats,
    )
    parts = DeliveryParts(settings=parse_settings({**CONFIG, **settings}), client=client,
                          sender=InlineSender(), outcomes=outcomes)  # fmt: skip
    return parts, written


def new_threads(before: list[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before]


def _received(parts: DeliveryParts, stream: str, rows: list[Any]) -> list[Pending[Any]]:
    state = parts.outcomes.state
    received = [Pending(stream, state.row_received(stream), {"n": n}, row)
                for n, row in enumerate(rows)]  # fmt: skip
    state.state_received({"bookmark": stream})
    return received


@pytest.mark.parametrize("message", ["Unable to save the prospect", "Conflicting Update"])
def test_a_membership_refused_transiently_is_sent_again(message):
    client, before = FlakyBatches(message), threading.enumerate()
    parts, written = delivery_parts(client)
    rows = _received(
        parts, "list_memberships", [MembershipRow(7, 101, None), MembershipRow(7, 102, None)]
    )
    MembershipDelivery(parts).deliver(rows)
    assert new_threads(before) == []
    assert len(client.bodies) == 2
    assert "101" in client.bodies[1] and "102" not in client.bodies[1]
    summary = parts.outcomes.stats.snapshot()
    assert summary["rows_sent"] == 2
    assert summary["rows_rejected"] == 0
    assert parts.outcomes.state.unsettled_rows() == 0
    assert written == [{"bookmark": "list_memberships"}]


def test_a_prospect_refused_transiently_is_sent_again():
    client, before = FlakyBatches("Unable to save the prospect"), threading.enumerate()
    parts, written = delivery_parts(client)
    prepared = [
        prepare_prospect({"id": n, "city": "Lyon"}, lowercase_emails=False,
                         upsert_by_email=False, update_only=False)[0]
        for n in (1, 2)
    ]  # fmt: skip
    ProspectDelivery(parts).deliver(_received(parts, "prospects", prepared))
    assert new_threads(before) == []
    assert len(client.bodies) == 2
    assert parts.outcomes.stats.snapshot()["rows_sent"] == 2
    assert written == [{"bookmark": "prospects"}]


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
