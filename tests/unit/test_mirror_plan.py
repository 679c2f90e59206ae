"""Mirror planning and the member reader's paging, without HTTP."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from target_pardot.errors import PardotApiError, RetriesExhausted
from target_pardot.pardot.list_members import PAGE_SIZE, Member, next_token, read_members
from target_pardot.pardot.responses import Reply
from target_pardot.rows.mirror_plan import (
    dry_run_line,
    guard_message,
    opted_out_line,
    plan_list,
)


def test_plan_splits_adds_removes_and_unchanged():
    plan = plan_list(5, named=[1, 2, 3, 3], current=[2, 3, 4, 5], max_removal_percent=50)
    assert (plan.adds, plan.removes, plan.unchanged, plan.size_before) == (
        frozenset({1}), frozenset({4, 5}), 2, 4)
    assert plan.removal_percent == 50.0
    assert not plan.guard_stops_removals  # exactly at the limit is allowed


def test_guard_stops_above_the_limit_only():
    assert plan_list(5, [1], [1, 2], max_removal_percent=49.9).guard_stops_removals
    assert not plan_list(5, [1, 2], [], max_removal_percent=0).guard_stops_removals
    assert not plan_list(5, [1, 2], [1, 2], max_removal_percent=0).guard_stops_removals


def test_guard_message_is_one_line_with_list_counts_and_setting():
    plan = plan_list(1234, range(10), range(3000), max_removal_percent=20)
    message = guard_message(plan)
    assert "\n" not in message
    for part in ("list 1234", "2990 of its 3000", "99.7%", "mirror_max_removal_percent", "20%"):
        assert part in message


def test_dry_run_lines():
    plan = plan_list(9, [1, 2, 6], [1, 2, 3, 4, 5], max_removal_percent=20)
    assert dry_run_line(plan) == (
        "Dry run, mirror of list 9: 5 members now; would add 1, remove 3, keep 2; the guard "
        "would stop the removals (60.0% > 20%).")
    assert "not read offline" in dry_run_line(plan, members_known=False)


def test_opted_out_members_outside_the_stream_are_kept_not_removed():
    plan = plan_list(9, [1, 2], [1, 2, 3, 4, 5], max_removal_percent=40, opted_out=[2, 4, 5])
    assert (plan.removes, plan.kept_opted_out, plan.unchanged) == (
        frozenset({3}), frozenset({4, 5}), 2)
    assert plan.removal_percent == 20.0 and not plan.guard_stops_removals
    line = opted_out_line(plan)
    assert "\n" not in line and "list 9" in line and "2 members" in line and "4, 5" in line
    assert "keep 2 opted out" in dry_run_line(plan)


def test_next_token_from_either_field():
    assert next_token({"nextPageToken": "abc", "nextPageUrl": None}) == "abc"
    assert next_token({"nextPageUrl": "https://pi.pardot.com/api/v5/objects/list-memberships"
                                      "?fields=id&nextPageToken=xyz"}) == "xyz"
    assert next_token({"nextPageToken": None, "nextPageUrl": None}) is None
    assert next_token(None) is None


class FakePardot:
    """Memberships served the documented way: id order, tokens, an optional cap per token
    sequence, and a token refused once."""

    def __init__(self, count: int, *, cap: int | None = None, refuse_token_once: bool = False):
        self.rows = [{"id": 100 + i, "listId": 5, "prospectId": 10_000 + i,
                      "optedOut": i % 7 == 0} for i in range(count)]  # fmt: skip
        self.cap = cap
        self.refuse = refuse_token_once
        self.requests: list[dict[str, str]] = []

    def __call__(self, params: Mapping[str, str]) -> Reply:
        self.requests.append(dict(params))
        if "nextPageToken" in params:
            assert set(params) == {"fields", "nextPageToken"}
            if self.refuse:
                self.refuse = False
                raise PardotApiError("Pardot error 210: Page token has expired.", code=210)
            after, served = map(int, params["nextPageToken"].split(":"))
        else:
            assert params["orderBy"] == "id asc"
            after, served = int(params.get("idGreaterThan", 0)), 0
        rows = [r for r in self.rows if r["id"] > after]
        page = rows[:PAGE_SIZE]  # the reader asks for PAGE_SIZE; a token keeps it
        served += len(page)
        more = len(rows) > len(page) and (self.cap is None or served < self.cap)
        token = f"{page[-1]['id']}:{served}" if more else None
        return Reply(200, {"values": page, "nextPageToken": token, "nextPageUrl": None})


def test_reads_every_page():
    pardot = FakePardot(2500)
    assert read_members(pardot, 5) == {
        r["prospectId"]: Member(r["id"], opted_out=r["optedOut"]) for r in pardot.rows}
    assert pardot.requests[0]["fields"] == "id,listId,prospectId,optedOut"
    assert len(pardot.requests) == 3  # the last page is short: nothing more to ask


def test_a_member_without_a_readable_opt_out_counts_as_opted_out():
    values = [{"id": 1, "listId": 5, "prospectId": 11, "optedOut": False},
              {"id": 2, "listId": 5, "prospectId": 12},
              {"id": 3, "listId": 5, "prospectId": 13, "optedOut": None}]  # fmt: skip
    members = read_members(lambda params: Reply(200, {"values": values}), 5)
    assert {pid: m.opted_out for pid, m in members.items()} == {11: False, 12: True, 13: True}


def test_a_full_last_page_is_checked_once():
    pardot = FakePardot(2000)
    assert len(read_members(pardot, 5)) == 2000
    assert len(pardot.requests) == 3
    assert pardot.requests[-1]["idGreaterThan"] == str(pardot.rows[-1]["id"])


def test_goes_past_the_token_cap_by_id():
    pardot = FakePardot(4500, cap=2000)
    assert len(read_members(pardot, 5)) == 4500
    assert [r.get("idGreaterThan") for r in pardot.requests if "orderBy" in r] == [
        None, str(pardot.rows[1999]["id"]), str(pardot.rows[3999]["id"])]


def test_a_refused_token_goes_on_by_id():
    pardot = FakePardot(2500, refuse_token_once=True)
    assert len(read_members(pardot, 5)) == 2500


@pytest.mark.parametrize("other", [6, None, "5"])
def test_a_membership_of_another_list_stops_the_read(other):
    # A server that loses the listId filter must not hand the mirror a wrong member set.
    pardot = FakePardot(1500)
    pardot.rows[1200]["listId"] = other
    with pytest.raises(PardotApiError, match="listId filter was not applied"):
        read_members(pardot, 5)


def test_a_refused_first_request_is_an_error():
    def refuse(params: Mapping[str, str]) -> Reply:
        raise PardotApiError("Pardot error 55: Invalid list ID", code=55)

    with pytest.raises(PardotApiError):
        read_members(refuse, 5)


def test_transient_failures_are_not_swallowed():
    def fail(params: Mapping[str, str]) -> Reply:
        raise RetriesExhausted("still failing")

    with pytest.raises(RetriesExhausted):
        read_members(fail, 5)
