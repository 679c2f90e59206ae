"""Audiences as marketers have them: membership and mirror rows keyed by email, lists by
name, dynamic lists, against the emulator, on API v4 (AMPSEA) and v3 accounts alike."""

from __future__ import annotations

import json

import pytest

from tests.helpers import base_config, schema_message, state_message, stream_of

AUDIENCE_SCHEMA = {
    "type": "object",
    "properties": {
        "list_id": {"type": ["integer", "null"]},
        "list_name": {"type": ["string", "null"]},
        "prospect_id": {"type": ["integer", "null"]},
        "email": {"type": ["string", "null"]},
    },
}
LIST = 7
WRITES = ("prospect/batchUpdate", "prospect/batchUpsert", "listMembership/create",
          "v5/list-memberships", "v5/lists/create")


@pytest.fixture(params=[True, False], ids=["v4-ampsea", "v3"])
def account(request, emu):
    """The emulator as a v4 (AMPSEA) or a v3 account."""
    emu.configure(ampsea=request.param)
    return emu


def audience(rows, *, final_state=None):
    return stream_of("list_memberships", rows, schema=AUDIENCE_SCHEMA, final_state=final_state)


def seed(emu, count, *, start=0, list_id=None):
    ids = [emu.add_prospect(email=f"m{start + i}@example.com") for i in range(count)]
    for pid in ids if list_id is not None else ():
        emu.add_membership(list_id, pid)
    return ids


def members(emu, list_id):
    return {m["prospect_id"] for m in emu.memberships() if m["list_id"] == list_id}


def pardot_calls(emu):
    return {k: v for k, v in emu.counters()["calls_by_endpoint"].items() if k != "oauth/token"}


def writes(emu):
    return {k: v for k, v in pardot_calls(emu).items() if k in WRITES or "/create" in k}


def named(emu, name):
    return [lst["id"] for lst in emu.lists() if lst["name"] == name]


def test_a_mirror_by_email_ends_exactly_at_the_audience_in_few_calls(account, run, tmp_path):
    emu = account
    everyone = seed(emu, 1000, list_id=LIST) + seed(emu, 2000, start=1000)
    kept, others = everyone[:800], everyone[1000:1300]
    rows = [{"list_id": LIST, "email": f"m{i}@example.com"} for i in [*range(800),
                                                                        *range(1000, 1300)]]
    rows += [{"list_id": LIST, "email": f"nobody{i}@example.com"} for i in range(5)]
    rejected = tmp_path / "rejected.jsonl"
    config = base_config(emu, list_membership_operation="mirror", parallel_tasks=5,
                         skip_invalid_records=True, rejected_records_path=str(rejected))
    result = run(config, audience(rows, final_state={"done": 1}))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu, LIST) == set(kept + others)
    assert len(members(emu, LIST)) == 1100
    calls = pardot_calls(emu)
    assert sum(calls.values()) <= 50, calls
    # The account's 3,000 prospects in pages of 1,000 (and one empty page), not 1,105.
    assert calls["v5/prospects/query"] <= 4
    assert len(emu.prospects()) == 3000  # no prospect created
    assert result.summary["rejected_by_reason"] == {"no_such_prospect": 5}
    reported = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert sorted(r["record"]["email"] for r in reported) == [
        f"nobody{i}@example.com" for i in range(5)]
    assert all("no prospect has the email" in r["reason"] for r in reported)
    assert result.states == [{"done": 1}]


def test_a_mirror_by_list_name_creates_the_list_once_and_a_rerun_writes_nothing(account, run):
    emu = account
    ids = seed(emu, 30)
    rows = [{"list_name": "Webinar Q4", "email": f"m{i}@example.com"} for i in range(30)]
    config = base_config(emu, list_membership_operation="mirror")
    first = run(config, audience(rows, final_state={"s": 1}))
    assert first.exit_code == 0, first.stderr[-2000:]
    [list_id] = named(emu, "Webinar Q4")
    assert members(emu, list_id) == set(ids)
    assert first.summary["lists_created"] == 1
    before = dict(emu.counters()["calls_by_endpoint"])
    again = run(config, audience(rows, final_state={"s": 2}))
    assert again.exit_code == 0, again.stderr[-2000:]
    after = emu.counters()["calls_by_endpoint"]
    made = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert not any(k in WRITES for k in made), made  # no list created, no membership write
    assert named(emu, "Webinar Q4") == [list_id]
    assert members(emu, list_id) == set(ids)
    assert again.summary["lists_created"] == 0


def test_membership_rows_by_email_never_create_a_prospect(account, run):
    emu = account
    [known] = seed(emu, 1)
    rows = [{"list_id": 3, "email": "m0@example.com"},
            {"list_id": 3, "email": "stranger@example.com"}]
    result = run(base_config(emu, skip_invalid_records=True), audience(rows))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu, 3) == {known}
    assert [p["email"] for p in emu.prospects()] == ["m0@example.com"]
    assert result.summary["rejected_by_reason"] == {"no_such_prospect": 1}
    assert "stranger@example.com" in result.stderr


def test_an_unknown_email_stops_the_run_without_skip_invalid_records(account, run):
    emu = account
    seed(emu, 1)
    result = run(base_config(emu), audience([{"list_id": 3, "email": "x@example.com"}]))
    assert result.exit_code == 1
    assert "no prospect has the email 'x@example.com'" in result.stderr
    assert emu.prospects()[0]["email"] == "m0@example.com" and len(emu.prospects()) == 1


def test_a_handful_of_emails_costs_one_query_each(account, run):
    emu = account
    ids = seed(emu, 1500)
    rows = [{"list_id": 4, "email": f"m{i}@example.com"} for i in range(3)]
    result = run(base_config(emu), audience(rows))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu, 4) == set(ids[:3])
    assert pardot_calls(emu)["v5/prospects/query"] == 3


def test_a_missing_list_name_is_created_once_for_several_streams(account, run):
    emu = account
    ids = seed(emu, 4)
    messages = audience([{"list_name": "Launch", "prospect_id": p} for p in ids[:2]])
    other = [schema_message("signups", AUDIENCE_SCHEMA)] + [
        {"type": "RECORD", "stream": "signups",
         "record": {"list_name": "launch ", "prospect_id": p}} for p in ids[2:]]
    config = base_config(emu, data_object="list_memberships")
    result = run(config, messages + other)
    assert result.exit_code == 0, result.stderr[-2000:]
    [list_id] = named(emu, "Launch")  # "launch " is the same name (case and spaces)
    assert members(emu, list_id) == set(ids)
    assert pardot_calls(emu)["v5/lists/create"] == 1


def test_create_missing_lists_false_rejects_the_rows(account, run):
    emu = account
    [pid] = seed(emu, 1)
    config = base_config(emu, create_missing_lists=False, skip_invalid_records=True,
                         max_rejected_percent=100)  # its one row is meant to be rejected
    result = run(config, audience([{"list_name": "Nowhere", "prospect_id": pid}]))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert named(emu, "Nowhere") == []
    assert result.summary["rejected_by_reason"] == {"no_such_list": 1}
    assert not writes(emu)


def test_a_delete_stream_never_creates_a_list(account, run):
    emu = account
    [pid] = seed(emu, 1)
    config = base_config(emu, list_membership_operation="delete", skip_invalid_records=True,
                         max_rejected_percent=100)  # its one row is meant to be rejected
    result = run(config, audience([{"list_name": "Gone", "prospect_id": pid}]))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert named(emu, "Gone") == []
    assert result.summary["rejected_by_reason"] == {"no_such_list": 1}
    assert "the stream only deletes" in result.stderr


def test_a_name_of_several_lists_stops_its_stream_naming_their_ids(account, run):
    emu = account
    [pid] = seed(emu, 1)
    first, second = emu.add_list("Newsletter"), emu.add_list("Newsletter")
    result = run(base_config(emu), audience([{"list_name": "Newsletter", "prospect_id": pid}],
                                             final_state={"s": 1}))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if "matches 2 lists" in line]
    assert lines and f"ids {first}, {second}" in lines[0]
    assert not writes(emu)
    assert emu.memberships() == []
    assert result.states == []


@pytest.mark.parametrize("operation", ["upsert", "delete", "mirror"])
@pytest.mark.parametrize("by", ["list_id", "list_name"])
def test_a_stream_naming_a_dynamic_list_writes_nothing_and_says_why(account, run, operation, by):
    emu = account
    ids = seed(emu, 3)
    dynamic = emu.add_list("Engaged (rules)", dynamic=True)
    emu.add_membership(dynamic, ids[0])
    ref = {"list_id": dynamic} if by == "list_id" else {"list_name": "Engaged (rules)"}
    config = base_config(emu, list_membership_operation=operation)
    result = run(config, audience([{**ref, "prospect_id": p} for p in ids[1:]],
                                  final_state={"s": 1}))
    assert result.exit_code == 1
    said = [line for line in result.stderr.splitlines() if "dynamic list" in line]
    assert said and f"'Engaged (rules)' (id {dynamic})" in said[0]
    assert not writes(emu)
    assert members(emu, dynamic) == {ids[0]}
    assert emu.counters()["dynamic_list_writes"] == 0
    assert result.states == []


def test_prospect_lists_by_name_are_created_once_and_found_on_rerun(account, run):
    emu = account
    people = [{"email": f"p{i}@example.com"} for i in range(3)]
    config = base_config(emu, prospect_lists="Webinar Q4, 5", upsert_by_email=True)
    assert run(config, stream_of("prospects", people)).exit_code == 0
    [list_id] = named(emu, "Webinar Q4")
    emails = {p["id"]: p["email"] for p in emu.prospects()}
    assert {emails[pid] for pid in members(emu, list_id)} == {p["email"] for p in people}
    assert members(emu, 5) == members(emu, list_id)
    assert run(config, stream_of("prospects", people)).exit_code == 0
    assert named(emu, "Webinar Q4") == [list_id]


def test_prospect_lists_naming_a_dynamic_list_stop_the_prospects_stream(account, run):
    emu = account
    emu.add_list("Scored", dynamic=True)
    result = run(base_config(emu, prospect_lists="Scored"),
                 stream_of("prospects", [{"email": "a@example.com"}], final_state={"s": 1}))
    assert result.exit_code == 1
    assert "dynamic list 'Scored'" in result.stderr
    assert emu.prospects() == []
    assert result.states == []


def test_a_mirror_stream_with_bookmarks_gets_one_warning(account, run, caplog):
    emu = account
    ids = seed(emu, 2, list_id=LIST)
    schema = dict(schema_message("list_memberships", AUDIENCE_SCHEMA))
    schema["bookmark_properties"] = ["updated_at"]
    rows = [{"type": "RECORD", "stream": "list_memberships",
             "record": {"list_id": LIST, "prospect_id": p}} for p in ids]
    state = state_message({"bookmarks": {"list_memberships": {
        "replication_key": "updated_at", "replication_key_value": "2026-01-01"}}})
    result = run(base_config(emu, list_membership_operation="mirror"),
                 [schema, *rows, state, schema, state])
    assert result.exit_code == 0, result.stderr[-2000:]
    warnings = [r for r in caplog.records if "looks incremental" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert "bookmark_properties ['updated_at']" in warnings[0].getMessage()


def test_an_incremental_state_alone_gets_the_warning(account, run, caplog):
    emu = account
    [pid] = seed(emu, 1, list_id=LIST)
    state = state_message({"bookmarks": {"list_memberships": {"replication_key_value": 5}}})
    messages = [state, *audience([{"list_id": LIST, "prospect_id": pid}])]
    result = run(base_config(emu, list_membership_operation="mirror"), messages)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert sum("looks incremental" in r.getMessage() for r in caplog.records) == 1


def test_a_full_table_mirror_gets_no_warning(account, run, caplog):
    emu = account
    [pid] = seed(emu, 1, list_id=LIST)
    result = run(base_config(emu, list_membership_operation="mirror"),
                 audience([{"list_id": LIST, "prospect_id": pid}], final_state={"s": 1}))
    assert result.exit_code == 0
    assert not any("looks incremental" in r.getMessage() for r in caplog.records)


def test_a_dry_run_mirror_by_name_speaks_of_what_would_happen(account, run):
    emu = account
    seed(emu, 100)
    rows = [{"list_name": "Spring", "email": f"m{i}@example.com"} for i in range(100)]
    config = base_config(emu, list_membership_operation="mirror", dry_run=True)
    result = run(config, audience(rows))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert named(emu, "Spring") == [] and emu.memberships() == []
    assert "would create the list 'Spring'" in result.stderr
    assert "would add 100" in result.stderr  # the log line of the list
    assert "memberships: would add" in result.stderr and " 100" in result.stderr
    assert "0 members now, would add 100, would remove 0, would keep 0" in result.stderr
    assert result.summary["memberships_would_add"] == 100
    assert result.summary["memberships_added"] == 0
    assert not writes(emu)


def test_a_dry_run_upsert_says_would_add(account, run):
    emu = account
    ids = seed(emu, 4)
    result = run(base_config(emu, dry_run=True),
                 audience([{"list_id": 3, "prospect_id": p} for p in ids]))
    assert result.exit_code == 0
    assert "Dry run: would add 4 memberships." in result.stderr
    assert result.summary["memberships_would_add"] == 4
    assert emu.memberships() == []


def test_an_email_follows_the_latest_rule_of_upsert_latest_by_email(emu, run):
    # AMPSEA on only: without it an email names one prospect at most.
    emu.configure(frozen_time="2026-03-01T10:00:00+00:00")
    older = emu.add_prospect(email="twin@example.com")
    newer = emu.add_prospect(email="twin@example.com")
    emu.configure(frozen_time="2026-03-02T10:00:00+00:00")
    emu.edit_prospect(older, city="Oslo")  # now the most recently updated one
    emu.configure(frozen_time=None)
    result = run(base_config(emu), audience([{"list_id": 2, "email": "twin@example.com"}]))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert members(emu, 2) == {older}
    # The emulator's upsertLatestByEmail picks the same prospect.
    config = base_config(emu, upsert_by_email=True, identity_map=False)
    assert run(config, stream_of("prospects", [{"email": "twin@example.com",
                                               "company": "Picked"}])).exit_code == 0
    picked = {p["id"]: p.get("company") for p in emu.prospects()}
    assert picked[older] == "Picked" and picked[newer] != "Picked"


def test_emails_the_identity_map_knows_cost_no_prospect_read(account, run, tmp_path):
    emu = account
    config = base_config(emu, upsert_by_email=True, ledger_path=str(tmp_path / "ledger.db"))
    people = [{"email": f"p{i}@example.com"} for i in range(40)]
    assert run(config, stream_of("prospects", people)).exit_code == 0
    reads_before = emu.counters()["calls_by_endpoint"].get("v5/prospects/query", 0)
    result = run(config, audience([{"list_id": 6, "email": p["email"]} for p in people]))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert len(members(emu, 6)) == 40
    # v4: only the identity map's own checks, one page each: the changes since the last
    # run, and a sample of the entries read back. v3: rows never go through
    # upsertLatestByEmail, so the map learns nothing; the account's 40 prospects are one
    # page.
    ampsea = emu.state()["config"]["ampsea"]
    reads = emu.counters()["calls_by_endpoint"]["v5/prospects/query"] - reads_before
    assert reads == (2 if ampsea else 1)
    assert result.summary["identity_map_hits"] == (40 if ampsea else 0)


def test_lost_replies_and_reruns_never_make_two_lists_with_one_name(account, run):
    emu = account
    ampsea = emu.state()["config"]["ampsea"]
    lost_creates = 0
    for seed in range(1, 9):
        emu.reset()
        emu.configure(ampsea=ampsea, applied_but_lost_rate=0)
        ids = [emu.add_prospect(email=f"f{i}@example.com") for i in range(5)]
        emu.configure(applied_but_lost_rate=0.4, seed=seed)
        config = base_config(emu, maximum_retries=20)
        rows = [{"list_name": "Flaky launch", "prospect_id": p} for p in ids]
        results = [run(config, audience(rows)) for _ in range(3)]
        creates = emu.counters()["calls_by_endpoint"].get("v5/lists/create", 0)
        # A create whose reply was lost: made in Pardot, never logged as created.
        lost_creates += creates - sum("Created the list" in r.stderr for r in results)
        emu.configure(applied_but_lost_rate=0)
        final = run(config, audience(rows))
        assert final.exit_code == 0, final.stderr[-2000:]
        [list_id] = named(emu, "Flaky launch")
        assert members(emu, list_id) == set(ids)
    assert lost_creates >= 1  # the seeds do lose a create's reply
