"""Rows parked behind a pending import (target_pardot/run/import_holds.py)."""

from __future__ import annotations

from types import SimpleNamespace

from target_pardot.rows.payloads import prepare_prospect
from target_pardot.run.import_holds import ImportHolds


def row(**record):
    prepared, _ = prepare_prospect(record, lowercase_emails=False, upsert_by_email=True,
                                   update_only=False)  # fmt: skip
    return SimpleNamespace(row=prepared)


def test_imported_addresses_are_held_case_blind_until_released():
    holds = ImportHolds()
    assert not holds.pending
    holds.imported([row(email="Ann@x.com"), row(email="bo@x.com")])
    assert holds.pending
    assert holds.addresses == {"ann@x.com", "bo@x.com"}
    assert holds.release() == []
    assert not holds.pending
    assert holds.addresses == frozenset()


def test_parked_rows_come_back_in_stream_order_once():
    holds = ImportHolds()
    first, second = row(email="a@x.com", city="1"), row(email="a@x.com", city="2")
    holds.imported([row(email="a@x.com")])
    holds.park([first])
    holds.park([second])
    assert holds.parked == 2
    assert holds.release() == [first, second]
    assert holds.release() == []
    assert holds.parked == 0


def test_a_parked_rename_holds_both_of_its_addresses():
    holds = ImportHolds()
    holds.park([row(email="new@x.com", match_email="old@x.com")])
    assert holds.addresses == {"new@x.com", "old@x.com"}


def test_a_rename_sent_another_way_holds_both_addresses_until_released():
    holds = ImportHolds()
    holds.renaming([row(email="new@x.com", match_email="Old@x.com")])
    assert holds.addresses == {"new@x.com", "old@x.com"}
    assert not holds.pending
    assert holds.release() == []
    assert holds.addresses == frozenset()
