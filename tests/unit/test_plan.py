"""Each choice of the planner (target_pardot/run/plan.py), on plain rows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from target_pardot.rows.payloads import prepare_prospect
from target_pardot.run.identity_check import one_key_per_prospect
from target_pardot.run.plan import (
    IMPORT_CALLS,
    IMPORT_MIN_ROWS,
    ImportChoice,
    Lane,
    calls_under_sync,
    import_cost,
    plan_prospects,
)


def row(**record):
    prepared, _ = prepare_prospect(record, lowercase_emails=False, upsert_by_email=True,
                                   update_only=False)  # fmt: skip
    return SimpleNamespace(row=prepared)


def emails(n, start=0):
    return [row(email=f"u{i}@x.com") for i in range(start, start + n)]


def map_of(known):
    """known_ids as the identity map answers it, for these email -> id entries."""

    def lookup(rows):
        return one_key_per_prospect(rows, known, lambda p: p.row.lookup_email,
                                    lambda p: str(p.row.fields["email"]))  # fmt: skip

    return lookup


CAMPAIGN = ImportChoice(default_campaign=7)


def lanes(rows, **kwargs):
    options = {"version": 4, "upsert_by_email": True, "known_ids": None, "imports": CAMPAIGN}
    return [p.lane for p in plan_prospects(rows, **{**options, **kwargs}).rows]


def test_rows_keyed_by_id_or_fid_go_in_batches():
    assert lanes([row(id=1, email="a@x.com"), row(fid="00Q1")]) == [Lane.BATCH, Lane.BATCH]


def test_without_upsert_by_email_every_row_goes_in_batches():
    assert lanes(emails(10), upsert_by_email=False) == [Lane.BATCH] * 10


def test_mapped_email_rows_go_by_their_id():
    rows = [row(email="a@x.com"), row(email="b@x.com")]
    plan = plan_prospects(rows, version=4, upsert_by_email=True,
                          known_ids=map_of({"a@x.com": 11}), imports=None)  # fmt: skip
    assert [(p.lane, p.mapped_id) for p in plan.rows] == [(Lane.BY_MAPPED_ID, 11), (Lane.V5, None)]


def test_email_rows_on_a_v3_account_go_in_v3_batches():
    assert lanes(emails(20), version=3) == [Lane.EMAIL_BATCH] * 20


def test_email_rows_while_the_version_is_unknown_are_tried_as_v3_batches():
    assert lanes(emails(3), version=None, imports=None) == [Lane.EMAIL_BATCH] * 3


def test_enough_unknown_email_rows_with_a_campaign_go_through_an_import():
    assert lanes(emails(IMPORT_MIN_ROWS)) == [Lane.IMPORT] * IMPORT_MIN_ROWS


def test_fewer_unknown_email_rows_go_one_by_one():
    assert lanes(emails(IMPORT_MIN_ROWS - 1)) == [Lane.V5] * (IMPORT_MIN_ROWS - 1)


def test_any_number_joins_an_import_already_open():
    open_import = ImportChoice(default_campaign=7, import_open=True)
    assert lanes(emails(1), imports=open_import) == [Lane.IMPORT]


def test_without_a_campaign_no_row_is_imported():
    no_campaign = ImportChoice(default_campaign=None)
    assert lanes(emails(50), imports=no_campaign) == [Lane.V5] * 50
    assert lanes(emails(50), imports=None) == [Lane.V5] * 50


def test_a_row_naming_its_campaign_may_be_imported_without_a_default():
    rows = [row(email=f"u{i}@x.com", campaign_id=3) for i in range(10)] + emails(1, 10)
    assert lanes(rows, imports=ImportChoice(default_campaign=None)) == [Lane.IMPORT] * 10 + [
        Lane.V5
    ]


def test_a_rename_never_goes_through_an_import():
    rows = [*emails(10), row(email="new@x.com", match_email="old@x.com")]
    assert lanes(rows)[-1] == Lane.V5


def test_a_later_row_of_an_imported_address_waits_for_the_import():
    rows = [*emails(10), row(email="U3@x.com", city="Later")]
    assert lanes(rows) == [Lane.IMPORT] * 10 + [Lane.HELD]


def test_rows_of_an_address_in_a_pending_import_wait():
    plan = lanes([row(email="u1@x.com"), row(email="v@x.com")], held={"u1@x.com"})
    assert plan == [Lane.HELD, Lane.V5]


def test_a_rename_from_an_address_in_a_pending_import_waits_and_so_do_later_rows():
    rows = [row(email="new@x.com", match_email="u1@x.com"), row(email="new@x.com", city="B")]
    assert lanes(rows, held={"u1@x.com"}) == [Lane.HELD, Lane.HELD]


def test_a_rename_waiting_for_the_import_of_its_old_address_holds_its_new_one():
    # The rename waits for the import of u1; a later row by its new address must not be
    # sent (creating a prospect there) before the rename lands.
    rows = [*emails(10), row(email="new@x.com", match_email="u1@x.com"),
            row(email="new@x.com", city="Later")]  # fmt: skip
    assert lanes(rows) == [Lane.IMPORT] * 10 + [Lane.HELD, Lane.HELD]


def test_an_address_an_earlier_row_sent_another_way_is_not_imported():
    # The rename goes through v5: a later import of its new address could land first.
    rows = [row(email="new@x.com", match_email="old@x.com"), row(email="new@x.com"),
            *emails(10)]  # fmt: skip
    assert lanes(rows)[:2] == [Lane.V5, Lane.V5]
    assert lanes(rows)[2:] == [Lane.IMPORT] * 10


def test_a_row_waiting_for_a_mapped_call_keeps_that_lane():
    rows = [row(email="b@x.com", match_email="a@x.com"), row(email="a@x.com")]
    plan = plan_prospects(rows, version=4, upsert_by_email=True,
                          known_ids=map_of({"a@x.com": 5}), imports=CAMPAIGN)  # fmt: skip
    assert [(p.lane, p.mapped_id) for p in plan.rows] == [
        (Lane.BY_MAPPED_ID, 5), (Lane.V5_AFTER_MAPPED, 5)]  # fmt: skip


def test_the_plan_keeps_stream_order_and_counts_its_lanes():
    rows = [row(id=1), *emails(8), row(fid="00Q2")]
    plan = plan_prospects(rows, version=4, upsert_by_email=True, known_ids=None, imports=CAMPAIGN)
    assert [p.pending for p in plan.rows] == rows
    assert plan.rows_by_lane() == {"v4_batch": 2, "import": 8}
    assert plan.calls_under_sync() == 1 + 8


@pytest.mark.parametrize(("by_lane", "calls"), [
    ({"v4_batch": 50}, 1), ({"v4_batch": 51}, 2), ({"import": 5_000}, 5_000),
    ({"batch_by_mapped_id": 100, "upsert_latest_by_email": 3, "held_for_import": 2}, 7),
])  # fmt: skip
def test_calls_under_sync(by_lane, calls):
    assert calls_under_sync(by_lane) == calls


def test_the_threshold_is_where_an_import_costs_fewer_calls_than_one_per_row():
    assert import_cost(IMPORT_MIN_ROWS) < IMPORT_MIN_ROWS
    assert import_cost(IMPORT_MIN_ROWS - 1) >= IMPORT_MIN_ROWS - 1
    assert import_cost(5_000) == IMPORT_CALLS + 5
