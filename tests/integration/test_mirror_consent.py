"""A mirror and what Pardot holds beyond the stream: opted-out members are kept (consent is
never reset), and members whose prospect was deleted in Pardot do not fail every run."""

from __future__ import annotations

from tests.helpers import base_config, stream_of

LIST = 7


def seed(emu, count: int) -> list[int]:
    ids = [emu.add_prospect(email=f"c{i}@example.com") for i in range(count)]
    for pid in ids:
        emu.add_membership(LIST, pid)
    return ids


def memberships(emu, list_id: int = LIST) -> dict[int, bool]:
    """prospect id -> opted_out, for the list's memberships."""
    return {m["prospect_id"]: m["opted_out"] for m in emu.memberships()
            if m["list_id"] == list_id}  # fmt: skip


def mirror(emu, **overrides):
    settings = {"list_membership_operation": "mirror", "mirror_max_removal_percent": 100}
    return base_config(emu, **{**settings, **overrides})


def rows_for(prospects, list_id: int = LIST):
    return stream_of("list_memberships", [{"list_id": list_id, "prospect_id": p}
                                          for p in prospects], final_state={"done": 1})


def test_an_opted_out_member_outside_the_stream_is_kept_and_reported(emu, run):
    ids = [emu.add_prospect(email=f"c{i}@example.com") for i in range(10)]
    for pid in ids[:8]:
        emu.add_membership(LIST, pid)
    for pid in ids[8:]:
        emu.add_membership(LIST, pid, opted_out=True)
    result = run(mirror(emu), rows_for(ids[:5]))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert memberships(emu) == {**dict.fromkeys(ids[:5], False), **dict.fromkeys(ids[8:], True)}
    assert result.summary["mirror_lists"][str(LIST)]["kept_opted_out"] == 2
    assert result.summary["mirror_lists"][str(LIST)]["removed"] == 3
    assert "opted out" in result.stderr
    assert result.states == [{"done": 1}]
    # Back in the stream, the member stays opted out: the membership was never re-created.
    back = run(mirror(emu), rows_for(ids[:5] + ids[8:]))
    assert back.exit_code == 0, back.stderr[-2000:]
    assert memberships(emu) == {**dict.fromkeys(ids[:5], False), **dict.fromkeys(ids[8:], True)}


def test_opted_out_members_kept_do_not_count_toward_the_removal_guard(emu, run):
    ids = [emu.add_prospect(email=f"c{i}@example.com") for i in range(10)]
    for pid in ids[:9]:
        emu.add_membership(LIST, pid)
    emu.add_membership(LIST, ids[9], opted_out=True)
    # One removal of ten members (10%) is within a 15% guard; the kept one is no removal.
    result = run(mirror(emu, mirror_max_removal_percent=15), rows_for(ids[:8]))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert set(memberships(emu)) == set(ids[:8]) | {ids[9]}


def test_a_member_deleted_in_pardot_does_not_fail_the_mirror(emu, run):
    ids = seed(emu, 10)
    emu.delete_prospect(ids[3])
    named = [pid for pid in ids if pid not in (ids[3], ids[4])]
    for attempt in range(2):
        result = run(mirror(emu), rows_for(named))
        assert result.exit_code == 0, result.stderr[-2000:]
        assert result.states == [{"done": 1}]
        assert ids[4] not in memberships(emu)
        figures = result.summary["mirror_lists"][str(LIST)]
        assert figures["prospect_deleted"] == 1
        assert figures["removed"] == (1 if attempt == 0 else 0)
        assert f"prospect {ids[3]}" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_member_deleted_in_pardot_does_not_fail_the_mirror_on_api_v3(emu, run):
    emu.configure(ampsea=False)
    ids = seed(emu, 5)
    emu.delete_prospect(ids[0])
    result = run(mirror(emu, api_version="3"), rows_for(ids[2:]))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert set(memberships(emu)) == {ids[0], *ids[2:]}
    assert result.summary["mirror_lists"][str(LIST)]["prospect_deleted"] == 1
