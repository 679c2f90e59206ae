"""List memberships against the emulator: batch flags, explicit opt-outs, errors, call counts."""

from __future__ import annotations

import json
import math

import pytest

from tests.helpers import base_config, stream_of


@pytest.fixture
def run(run):
    """The shared run fixture, fed list_memberships records."""

    def runner(config, records, **kwargs):
        return run(config, stream_of("list_memberships", records, **kwargs))

    return runner


def pairs(emu) -> set[tuple[int, int]]:
    return {(m["list_id"], m["prospect_id"]) for m in emu.memberships()}


def calls(emu) -> dict[str, int]:
    return {k: v for k, v in emu.counters()["calls_by_endpoint"].items() if k != "oauth/token"}


def test_add_uses_one_batch_call(emu, run):
    ids = [emu.add_prospect(email=f"p{i}@example.com") for i in range(3)]
    result = run(
        base_config(emu), [{"list_id": 5, "prospect_id": pid} for pid in ids], final_state={"m": 1}
    )
    assert result.exit_code == 0
    assert pairs(emu) == {(5, pid) for pid in ids}
    # The list is read once, to check it is not dynamic, before the write.
    assert calls(emu) == {"v5/lists/read": 1, "prospect/batchUpdate": 1}
    assert result.summary["memberships_added"] == 3
    assert result.states == [{"m": 1}]


def test_re_adding_is_idempotent(emu, run):
    pid = emu.add_prospect(email="p@example.com")
    emu.add_membership(5, pid)
    result = run(base_config(emu), [{"list_id": 5, "prospect_id": pid}] * 2)
    assert result.exit_code == 0
    assert pairs(emu) == {(5, pid)}
    assert len(emu.memberships()) == 1
    assert result.summary["rows_rejected"] == 0


def test_digit_strings_are_accepted(emu, run):
    pid = emu.add_prospect(email="p@example.com")
    result = run(base_config(emu), [{"list_id": "8", "prospect_id": str(pid)}])
    assert result.exit_code == 0
    assert pairs(emu) == {(8, pid)}


def test_delete(emu, run):
    pid = emu.add_prospect(email="p@example.com")
    emu.add_membership(5, pid)
    emu.add_membership(6, pid)
    result = run(
        base_config(emu, list_membership_operation="delete"), [{"list_id": 5, "prospect_id": pid}]
    )
    assert result.exit_code == 0
    assert pairs(emu) == {(6, pid)}
    assert result.summary["memberships_removed"] == 1


def test_deleting_a_missing_membership_is_not_an_error(emu, run):
    pid = emu.add_prospect(email="p@example.com")
    result = run(
        base_config(emu, list_membership_operation="delete"), [{"list_id": 5, "prospect_id": pid}]
    )
    assert result.exit_code == 0
    assert pairs(emu) == set()
    assert result.summary["rows_rejected"] == 0


@pytest.mark.parametrize("opted_out", [True, False])
def test_explicit_opted_out_uses_the_membership_endpoint(emu, run, opted_out):
    pid = emu.add_prospect(email="p@example.com")
    other = emu.add_prospect(email="q@example.com")
    emu.add_membership(5, other)
    result = run(
        base_config(emu),
        [
            {"list_id": 5, "prospect_id": pid, "opted_out": opted_out},
            {"list_id": 5, "prospect_id": other, "opted_out": opted_out},
        ],
    )
    assert result.exit_code == 0
    memberships = {m["prospect_id"]: m for m in emu.memberships()}
    assert memberships[pid]["opted_out"] is opted_out
    assert memberships[other]["opted_out"] is opted_out
    assert calls(emu).get("prospect/batchUpdate", 0) == 0
    assert calls(emu)["listMembership/create"] == 2
    assert calls(emu)["listMembership/update"] == 1


def test_rows_without_opted_out_never_opt_out(emu, run):
    pid = emu.add_prospect(email="p@example.com")
    emu.add_membership(5, pid, opted_out=False)
    result = run(
        base_config(emu),
        [{"list_id": 5, "prospect_id": pid, "opted_out": None}, {"list_id": 6, "prospect_id": pid}],
    )
    assert result.exit_code == 0
    assert all(m["opted_out"] is False for m in emu.memberships())
    assert "listMembership/create" not in calls(emu)


def test_unknown_prospect_rejects_every_row_it_carried(emu, run, tmp_path):
    good = emu.add_prospect(email="p@example.com")
    rejected = tmp_path / "rejected.jsonl"
    records = [
        {"list_id": 5, "prospect_id": 424242},
        {"list_id": 6, "prospect_id": 424242},
        {"list_id": 5, "prospect_id": good},
    ]
    result = run(
        base_config(
            emu,
            skip_invalid_records=True,
            max_rejected_percent=100,
            rejected_records_path=str(rejected),
        ),
        records,
    )
    assert result.exit_code == 0
    assert pairs(emu) == {(5, good)}
    lines = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert sorted(line["record"]["list_id"] for line in lines) == [5, 6]
    assert all(line["code"] == 3 for line in lines)
    assert result.summary["rejected_by_reason"] == {"pardot_rejected": 2}


def test_unknown_list_rejects_only_its_own_row(emu, run, tmp_path):
    emu.configure(lists=list(range(1, 11)))
    pid = emu.add_prospect(email="p@example.com")
    rejected = tmp_path / "rejected.jsonl"
    result = run(
        base_config(emu, skip_invalid_records=True, rejected_records_path=str(rejected)),
        [
            {"list_id": 5, "prospect_id": pid},
            {"list_id": 777, "prospect_id": pid},
            {"list_id": 6, "prospect_id": pid},
        ],
    )
    emu.configure(lists=list(range(1, 1001)))
    assert result.exit_code == 0
    assert pairs(emu) == {(5, pid), (6, pid)}
    [line] = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert line["record"]["list_id"] == 777
    assert line["code"] == 55


def test_several_lists_for_one_prospect_share_one_element(emu, run):
    pid = emu.add_prospect(email="p@example.com")
    result = run(base_config(emu), [{"list_id": n, "prospect_id": pid} for n in (1, 2, 3, 4)])
    assert result.exit_code == 0
    assert pairs(emu) == {(n, pid) for n in (1, 2, 3, 4)}
    # Four lists to check: one read of every list (1,000 of them: a full page, then an
    # empty one) rather than four reads.
    assert calls(emu) == {"v5/lists/query": 2, "prospect/batchUpdate": 1}


def test_mixed_stream(emu, run):
    a = emu.add_prospect(email="a@example.com")
    b = emu.add_prospect(email="b@example.com")
    emu.add_membership(9, b)
    records = [
        {"list_id": 1, "prospect_id": a},
        {"list_id": 2, "prospect_id": a, "opted_out": True},
        {"list_id": 9, "prospect_id": b, "opted_out": False},
        {"list_id": 3, "prospect_id": b},
        {"list_id": "x", "prospect_id": b},
    ]
    result = run(base_config(emu, skip_invalid_records=True), records)
    assert result.exit_code == 0
    memberships = {(m["list_id"], m["prospect_id"]): m["opted_out"] for m in emu.memberships()}
    assert memberships == {(1, a): False, (2, a): True, (9, b): False, (3, b): False}
    assert result.summary["rejected_by_reason"] == {"invalid_value": 1}


def test_invalid_membership_row_stops_the_run_when_not_skipping(emu, run):
    result = run(base_config(emu), [{"list_id": 1}])
    assert result.exit_code == 1
    assert "row 1 of stream 'list_memberships'" in result.stderr


def test_a_thousand_memberships_over_two_hundred_prospects_cost_four_calls(emu, run):
    ids = [emu.add_prospect(email=f"p{i}@example.com") for i in range(200)]
    records = [{"list_id": list_id, "prospect_id": pid} for list_id in range(1, 6) for pid in ids]
    result = run(base_config(emu, parallel_tasks=5), records)
    assert result.exit_code == 0
    assert len(pairs(emu)) == 1000
    made = calls(emu)
    assert made.pop("v5/lists/query") == 2  # the five lists checked not dynamic
    write_calls = sum(made.values())
    assert write_calls <= math.ceil(200 / 50) + result.summary["retries"]
    assert result.summary["memberships_added"] == 1000
