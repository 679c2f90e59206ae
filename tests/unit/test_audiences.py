"""Audiences without HTTP: membership rows by name and email, the latest rule, the list
directory's create-once rule, the email resolver's choice of calls, incremental signs."""

from __future__ import annotations

from typing import Any

import pytest

from target_pardot.errors import ConfigError, PardotApiError, RetryableError
from target_pardot.pardot.responses import Reply
from target_pardot.rows.audiences import (
    ListRef,
    latest_by_email,
    name_key,
    prepare_keyed_membership,
)
from target_pardot.rows.payloads import InvalidRow
from target_pardot.run.email_resolver import PER_EMAIL_AT_MOST, EmailResolver
from target_pardot.run.full_streams import incremental_in_state
from target_pardot.run.list_directory import (
    ListDirectory,
    NoSuchList,
    StreamStopped,
    v4_list_ids,
)
from target_pardot.run.stats import RunStats
from target_pardot.settings import parse_prospect_lists

# -- rows ---------------------------------------------------------------------------


def test_a_row_names_its_list_and_prospect_by_id_or_by_name_and_email():
    by_ids = prepare_keyed_membership({"list_id": "7", "prospect_id": 9}, lowercase_emails=False)
    assert (by_ids.list_ref, by_ids.prospect_id, by_ids.email) == (ListRef(list_id=7), 9, None)
    by_name = prepare_keyed_membership({"list_name": " Webinar Q4 ", "email": " A@x.com "},
                                       lowercase_emails=True)
    assert (by_name.list_ref, by_name.prospect_id, by_name.email) == (
        ListRef(name="Webinar Q4"), None, "a@x.com")


@pytest.mark.parametrize("record, reason", [
    ({"list_name": "L"}, "no 'prospect_id' or 'email'"),
    ({"list_name": "L", "email": "  "}, "no 'prospect_id' or 'email'"),
    ({"prospect_id": 3}, "no 'list_id'"),
    ({"list_name": "", "prospect_id": 3}, "'list_name' must be a non-empty text"),
    ({"list_name": "x" * 256, "prospect_id": 3}, "the limit is 255"),
    ({"list_id": 1, "prospect_id": "abc"}, "'prospect_id' must be a positive whole number"),
])
def test_unusable_membership_rows(record, reason):
    with pytest.raises(InvalidRow, match=reason):
        prepare_keyed_membership(record, lowercase_emails=False)


def test_names_differing_in_case_or_spaces_are_one_name():
    assert name_key(" Webinar  Q4") == name_key("webinar q4")
    assert name_key("Webinar Q4") != name_key("Webinar Q5")


def test_the_latest_rule_takes_the_most_recently_updated_then_the_larger_id():
    values = [
        {"id": 1, "email": "a@x.com", "updatedAt": "2026-01-02T00:00:00+00:00"},
        {"id": 2, "email": "a@x.com", "updatedAt": "2026-01-01T00:00:00+00:00"},
        {"id": 3, "email": "b@x.com", "updatedAt": "2026-01-01T00:00:00-05:00"},
        {"id": 4, "email": "b@x.com", "updatedAt": "2026-01-01T04:00:00+00:00"},
        {"id": 5, "email": "c@x.com", "updatedAt": "2026-01-01T00:00:00+00:00"},
        {"id": 6, "email": "c@x.com", "updatedAt": "2026-01-01T00:00:00+00:00"},
        {"id": 7, "email": None},
    ]
    picked = {email: pid for email, (_, pid) in latest_by_email(values).items()}
    assert picked == {"a@x.com": 1, "b@x.com": 3, "c@x.com": 6}


@pytest.mark.parametrize("value, expected", [
    ("12, Webinar Q4", (12, "Webinar Q4")),
    ([3, "Spring launch", "3"], (3, "Spring launch")),
    ('["News", 4]', ("News", 4)),
    ("5", (5,)),
])
def test_prospect_lists_take_ids_and_names(value, expected):
    assert parse_prospect_lists(value) == expected


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "[1,", [True]])
def test_prospect_lists_refuse_numbers_that_are_no_ids(value):
    with pytest.raises(ConfigError, match="prospect_lists"):
        parse_prospect_lists(value)


# -- the list directory ---------------------------------------------------------------


class FakeLists:
    """The three list calls, over an in-memory account."""

    def __init__(self, lists: list[dict[str, Any]], *, lose_create_reply: bool = False,
                 show_created: bool = True) -> None:  # fmt: skip
        self.lists = lists
        self.lose_create_reply = lose_create_reply
        self.show_created = show_created
        self.calls: list[str] = []
        self.api_version = self  # run(send): the account's version is 4 here
        self.endpoints = self  # the list calls below

    def run(self, send: Any) -> Any:
        return send(4)

    def list_query_by_name(self, name: str, *, version: int) -> Reply:
        self.calls.append("v4 query")
        found = [{"id": str(v["id"]), "name": v["name"]} for v in self.lists
                 if v["name"] == name]
        return Reply(200, {"result": {"list": found[0] if len(found) == 1 else found or None}})

    def v5_lists(self, params: dict[str, str]) -> Reply:
        self.calls.append("query")
        after = int(params.get("idGreaterThan", 0))
        page = [v for v in self.lists if v["id"] > after and v.get("visible", True)][:1000]
        return Reply(200, {"values": page})

    def v5_list_read(self, list_id: int) -> Reply:
        self.calls.append("read")
        for value in self.lists:
            if value["id"] == list_id:
                return Reply(200, value)
        raise PardotApiError("Object specified does not exist", code=192, status=404)

    def v5_list_create(self, name: str) -> Reply:
        self.calls.append("create")
        value = {"id": 100 + len(self.lists), "name": name, "isDynamic": False,
                 "visible": self.show_created}
        self.lists.append(value)
        if self.lose_create_reply:
            raise RetryableError("connection reset", ambiguous=True)
        return Reply(201, value)


def directory(fake: FakeLists, **options: Any) -> ListDirectory:
    settings = {"create_missing": True, "dry_run": False, "offline": False, **options}
    return ListDirectory(fake, RunStats(), **settings)


def test_a_name_is_read_once_and_a_missing_one_created_once():
    fake = FakeLists([{"id": 1, "name": "Old", "isDynamic": False}])
    lists = directory(fake)
    assert lists.resolve(ListRef(name="old"), "s") == 1
    created = lists.resolve(ListRef(name="New"), "s")
    assert lists.resolve(ListRef(name="new "), "t") == created
    assert fake.calls == ["query", "v4 query", "create"]


def test_a_list_made_a_moment_ago_is_found_by_v4_before_a_second_is_created():
    # v5 reads may lag a write by up to a minute; the v3/v4 query does not.
    fake = FakeLists([{"id": 5, "name": "Launch", "isDynamic": False, "visible": False}])
    assert directory(fake).resolve(ListRef(name="Launch"), "s") == 5
    assert fake.calls == ["query", "v4 query"]


def test_several_lists_with_the_name_stop_the_stream_naming_their_ids():
    fake = FakeLists([{"id": 4, "name": "Dup"}, {"id": 9, "name": "dup"}])
    with pytest.raises(StreamStopped, match=r"matches 2 lists \(ids 4, 9\)"):
        directory(fake).resolve(ListRef(name="Dup"), "s")
    assert "create" not in fake.calls


def test_a_lost_create_reply_finds_the_list_instead_of_creating_a_second():
    fake = FakeLists([], lose_create_reply=True)
    list_id = directory(fake).resolve(ListRef(name="Launch"), "s")
    assert [v["id"] for v in fake.lists] == [list_id]
    assert fake.calls == ["query", "v4 query", "create", "query"]


def test_a_lost_create_reply_whose_list_does_not_show_yet_stops_without_a_second_create():
    fake = FakeLists([], lose_create_reply=True, show_created=False)
    lists = directory(fake)
    with pytest.raises(StreamStopped, match="Run again in a minute"):
        lists.resolve(ListRef(name="Launch"), "s")
    assert fake.calls.count("create") == 1
    assert len(fake.lists) == 1


def test_create_missing_lists_false_creates_nothing():
    fake = FakeLists([])
    with pytest.raises(NoSuchList, match="create_missing_lists is false"):
        directory(fake, create_missing=False).resolve(ListRef(name="Nowhere"), "s")
    assert fake.calls == ["query"]


def test_v4_list_replies_with_one_several_or_no_list():
    assert v4_list_ids({"result": {"list": {"id": "12", "name": "A"}}}) == [12]
    assert v4_list_ids({"result": {"list": [{"id": 3}, {"id": 4}]}}) == [3, 4]
    assert v4_list_ids({"result": {"total_results": 0}}) == []
    assert v4_list_ids(None) == []


def test_a_dry_run_plans_the_create_and_sends_it_not():
    fake = FakeLists([])
    lists = directory(fake, dry_run=True)
    assert lists.resolve(ListRef(name="Spring"), "s") < 0
    assert lists.resolve(ListRef(name="spring"), "s") < 0
    assert fake.calls == ["query"]


def test_a_dynamic_list_stops_the_stream_and_each_list_is_read_once():
    fake = FakeLists([{"id": 3, "name": "Static", "isDynamic": False},
                      {"id": 8, "name": "Rules", "isDynamic": True}])
    lists = directory(fake)
    lists.check_writable([3], "s")
    lists.check_writable([3], "s")
    with pytest.raises(StreamStopped, match=r"dynamic list 'Rules' \(id 8\)"):
        lists.check_writable([3, 8], "s")
    assert fake.calls == ["read", "read"]


def test_many_unseen_lists_are_read_in_one_query():
    fake = FakeLists([{"id": i, "name": f"L{i}", "isDynamic": False} for i in range(1, 6)])
    directory(fake).check_writable(range(1, 6), "s")
    assert fake.calls == ["query"]


def test_a_list_that_cannot_be_read_does_not_stop_the_stream():
    fake = FakeLists([])
    directory(fake).check_writable([42], "s")  # unknown: its writes report error 55
    assert fake.calls == ["read"]


# -- the email resolver ---------------------------------------------------------------


class FakeProspects:
    def __init__(self, count: int) -> None:
        self.values = [{"id": i, "email": f"m{i}@x.com", "updatedAt": "2026-01-01T00:00:00Z"}
                       for i in range(1, count + 1)]
        self.calls: list[dict[str, str]] = []

    def __call__(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self.calls.append(dict(params))
        if "email" in params:
            return [v for v in self.values if v["email"] == params["email"]]
        after = int(params.get("idGreaterThan", 0))
        return [v for v in self.values if v["id"] > after][: int(params["limit"])]


def test_a_handful_of_emails_are_asked_one_by_one():
    query = FakeProspects(2500)
    emails = [f"m{i}@x.com" for i in range(1, PER_EMAIL_AT_MOST)] + ["none@x.com"]
    found = EmailResolver(query, RunStats(), None).resolve(emails)
    assert found == {f"m{i}@x.com": i for i in range(1, PER_EMAIL_AT_MOST)}
    assert len(query.calls) == PER_EMAIL_AT_MOST
    assert all(c["fields"] == "id,email,updatedAt" for c in query.calls)


def test_many_emails_read_the_account_once_per_run():
    query = FakeProspects(2500)
    resolver = EmailResolver(query, RunStats(), None)
    first = resolver.resolve([f"m{i}@x.com" for i in range(1, 200)] + ["none@x.com"])
    assert len(first) == 199
    assert len(query.calls) == 3  # 1,000 + 1,000 + 500
    assert query.calls[1]["idGreaterThan"] == "1000"
    again = resolver.resolve([f"m{i}@x.com" for i in range(2000, 2100)] + ["other@x.com"])
    assert len(again) == 100
    assert len(query.calls) == 3  # the account was read: nothing more to ask


def test_an_account_larger_than_the_emails_is_not_read_to_the_end():
    query = FakeProspects(30_000)
    emails = [f"m{i}@x.com" for i in range(1, 13)]  # 12 emails, 30 pages of prospects
    found = EmailResolver(query, RunStats(), None).resolve(emails)
    assert found == {f"m{i}@x.com": i for i in range(1, 13)}
    pages = [c for c in query.calls if "email" not in c]
    assert len(pages) == 12  # as many pages as emails, then one query per email
    assert len(query.calls) == 24


# -- incremental streams --------------------------------------------------------------


@pytest.mark.parametrize("state, incremental", [
    ({"bookmarks": {"m": {"replication_key": "updated_at"}}}, True),
    ({"bookmarks": {"m": {"replication_key_value": 3}}}, True),
    ({"bookmarks": {"m": {"partitions": [{"replication_key_value": 3}]}}}, True),
    ({"bookmarks": {"m": {"version": 1}}}, False),
    ({"bookmarks": {"other": {"replication_key_value": 3}}}, False),
    ({}, False),
])
def test_incremental_bookmarks_in_state(state, incremental):
    assert incremental_in_state(state, "m") is incremental
