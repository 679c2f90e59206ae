"""Rows arrive exactly once where features meet: blank key cells, API v3 accounts, the
identity map and match_email (each test fails on the code before its fix)."""

from __future__ import annotations

from collections import Counter

import pytest

from pardot_emulator import PardotEmulator
from tests.helpers import base_config, stream_of, with_transient_faults

#: How a CSV tap declares its columns: every one a string.
CSV_SCHEMA = {
    "type": "object",
    "properties": {
        name: {"type": ["string", "null"]}
        for name in ("id", "salesforce_id", "email", "first_name", "campaign_id", "match_email")
    },
}


def csv_rows(n: int, name: str = "F") -> list[dict]:
    return [{"id": "", "salesforce_id": " " if i % 2 else "", "email": f"u{i}@example.com",
             "first_name": f"{name}{i}", "campaign_id": ""} for i in range(n)]  # fmt: skip


def emails_once(emu) -> dict[str, dict]:
    counts = Counter(p["email"] for p in emu.prospects())
    assert counts and max(counts.values()) == 1, f"duplicates: {counts.most_common(3)}"
    return {p["email"]: p for p in emu.prospects()}


pytestmark = pytest.mark.usefixtures("quick_import_polls")


@pytest.mark.parametrize("operation", ["sync", "import"])
def test_blank_key_cells_are_absent_on_every_load(emu, run, tmp_path, operation):
    config = base_config(emu, upsert_by_email=True, prospect_operation=operation,
                         default_campaign_id=7, ledger_path=str(tmp_path / "l.db"))  # fmt: skip
    for name in ("First", "Second"):
        result = run(config, stream_of("prospects", csv_rows(20, name), schema=CSV_SCHEMA))
        assert result.exit_code == 0, result.stderr[-3000:]
        assert result.summary["rows_rejected"] == 0
    prospects = emails_once(emu)
    assert len(prospects) == 20
    assert {p["first_name"] for p in prospects.values()} == {f"Second{i}" for i in range(20)}
    if operation == "import":
        assert {p["campaign_id"] for p in prospects.values()} == {7}


def email_rows_with_case_variants(n: int) -> list[dict]:
    """n email-only rows; every 7th repeats an earlier address in another case: in the
    same call, or a thousand rows back (so the first calls share no prospect and go
    out in parallel)."""
    rows = []
    for i in range(n):
        if i % 7 == 6:
            j = i - (1_000 if i % 2 and i >= 1_000 else 3)
            rows.append({"email": rows[j]["email"].upper(), "first_name": f"Variant{i}"})
        else:
            rows.append({"email": f"user{i}@example.com", "first_name": f"User{i}"})
    return rows


def v5_row_calls(emu) -> int:
    return emu.counters()["calls_by_endpoint"].get("prospect/upsertLatestByEmail", 0)


@pytest.mark.slow
@pytest.mark.parametrize("upsert_by_email", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_v3_account_under_faults_never_sends_a_row_through_v5(emu, run, seed, upsert_by_email):
    """AMPSEA off, 10% faults, five calls in flight: a v4 batch lost after another call
    learned that the account is v3 was never applied, and goes again as a v3 batch."""
    # Jitter lets a lost call's reply arrive after another call's error 89.
    with_transient_faults(emu, 0.10, seed=seed, ampsea=False, latency_jitter_ms=20)
    rows = email_rows_with_case_variants(2_000)
    config = base_config(emu, parallel_tasks=5, maximum_retries=15,
                         upsert_by_email=upsert_by_email)  # fmt: skip
    result = run(config, stream_of("prospects", rows, final_state={"done": seed}))
    assert result.exit_code == 0, result.stderr[-3000:]
    assert sum(emu.counters()["faults_injected"].values()) > 0
    assert v5_row_calls(emu) == 0, "no row goes through v5 on a v3 account"
    landed = Counter(p["email"].lower() for p in emu.prospects())
    assert set(landed) == {r["email"].lower() for r in rows}
    assert max(landed.values()) == 1, "each email once"
    assert result.states == [{"done": seed}]


def people(n: int, city: str) -> list[dict]:
    return [{"email": f"p{i}@example.com", "first_name": f"F{i}", "city": city} for i in range(n)]


def own_values(emu, rows: list[dict]) -> None:
    prospects = emails_once(emu)
    assert len(prospects) == len(rows)
    for row in rows:
        assert prospects[row["email"]]["city"] == row["city"], row["email"]


def test_a_fresh_emulator_under_the_same_business_unit_gets_every_row(
    run, tmp_path, monkeypatch
):
    """Default ledger location, two emulator starts (each a fresh account with the
    default business unit): the second run must not trust the first one's ids."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for city in ("Oslo", "Bergen"):
        with PardotEmulator() as emu:
            rows = people(500, city)
            config = base_config(emu, upsert_by_email=True, parallel_tasks=5)
            result = run(config, stream_of("prospects", rows))
            assert result.exit_code == 0, result.stderr[-3000:]
            own_values(emu, rows)
    assert list((tmp_path / "cache" / "target-pardot").glob("ledger-*.sqlite3"))


def test_an_account_recreated_at_the_same_address_drops_the_map(emu, run, tmp_path):
    """Same host, same business unit, a new account (the emulator reset): the sample of
    mapped ids read back at the first use finds other prospects, and the map goes."""
    config = base_config(emu, upsert_by_email=True, parallel_tasks=5,
                         ledger_path=str(tmp_path / "ledger.sqlite3"))  # fmt: skip
    run(config, stream_of("prospects", people(500, "Oslo")))
    emu.reset()
    emu.add_prospect(email="someone.else@example.com")  # ids now name other people
    rows = people(500, "Bergen")
    result = run(config, stream_of("prospects", rows))
    assert result.exit_code == 0, result.stderr[-3000:]
    assert "do not match the prospects of this Pardot account" in result.stderr
    assert result.summary["rows_sent_by_mapped_id"] == 0
    prospects = emails_once(emu)
    assert prospects["someone.else@example.com"].get("city") in (None, "")
    del prospects["someone.else@example.com"]
    assert {e: p["city"] for e, p in prospects.items()} == {r["email"]: "Bergen" for r in rows}


@pytest.mark.parametrize("api_version", ["auto", "3"])
def test_match_email_changes_the_address_on_a_v3_account(emu, run, tmp_path, api_version):
    emu.configure(ampsea=False)
    pid = emu.add_prospect(email="old@example.com", first_name="Old")
    schema = {"properties": {"email": {"type": "string"}, "match_email": {"type": "string"},
                             "first_name": {"type": "string"}}}  # fmt: skip
    rows = [{"match_email": "old@example.com", "email": "new@example.com", "first_name": "New"},
            {"email": "other@example.com", "first_name": "Other"}]  # fmt: skip
    config = base_config(emu, upsert_by_email=True, api_version=api_version,
                         ledger_path=str(tmp_path / "l.db"))  # fmt: skip
    result = run(config, stream_of("prospects", rows, schema=schema))
    assert result.exit_code == 0, result.stderr[-3000:]
    prospects = emails_once(emu)
    assert sorted(prospects) == ["new@example.com", "other@example.com"]
    assert (prospects["new@example.com"]["id"], prospects["new@example.com"]["first_name"]) == (
        pid, "New")


def test_skip_unchanged_on_a_v3_account_keys_emails_ignoring_case(emu, run, tmp_path):
    """Ann@ and ann@ are one prospect on this account: a row equal to what ann@ sent two
    runs ago is not what Pardot holds after Ann@'s row, and must be sent."""
    emu.configure(ampsea=False, v3_email_case_insensitive=True)
    config = base_config(emu, skip_unchanged=True, ledger_path=str(tmp_path / "l.db"))
    for email, city in (("ann@example.com", "Oslo"), ("Ann@example.com", "Rome"),
                        ("ann@example.com", "Oslo")):  # fmt: skip
        result = run(config, stream_of("prospects", [{"email": email, "city": city}]))
        assert result.exit_code == 0, result.stderr[-3000:]
    [prospect] = emu.prospects()
    assert prospect["city"] == "Oslo"
    again = run(config, stream_of("prospects", [{"email": "ann@example.com", "city": "Oslo"}]))
    assert again.summary["rows_unchanged"] == 1


def import_calls(emu) -> dict[str, int]:
    counts = emu.counters()["calls_by_endpoint"]
    kinds = ("imports/", "prospect/", "customField")
    return {k: n for k, n in counts.items() if k.startswith(kinds)}


@pytest.mark.parametrize("api_version", ["auto", "3"])
def test_import_on_a_v3_account_matches_emails_as_the_account_does(emu, run, api_version):
    emu.configure(ampsea=False, v3_email_case_insensitive=True)
    stored = emu.add_prospect(email="ann@example.com", first_name="Before")
    rows = [{"email": "Ann@example.com", "first_name": "Ann"}] + [
        {"email": f"p{i}@example.com", "first_name": f"P{i}"} for i in range(60)]
    config = base_config(emu, prospect_operation="import", default_campaign_id=7,
                         api_version=api_version)  # fmt: skip
    for _ in range(2):
        result = run(config, stream_of("prospects", rows))
        assert result.exit_code == 0, result.stderr[-3000:]
    landed = Counter(p["email"].lower() for p in emu.prospects())
    assert len(landed) == 61 and max(landed.values()) == 1
    [ann] = [p for p in emu.prospects() if p["email"].lower() == "ann@example.com"]
    assert (ann["id"], ann["first_name"]) == (stored, "Ann")
    assert {p["campaign_id"] for p in emu.prospects() if p["id"] != stored} == {7}
    assert not any(k.startswith("imports/") for k in import_calls(emu))


def test_import_on_an_ampsea_account_costs_one_read_to_learn_it(emu, run):
    config = base_config(emu, prospect_operation="import", default_campaign_id=7)
    result = run(config, stream_of("prospects", people(30, "Oslo")))
    assert result.exit_code == 0, result.stderr[-3000:]
    assert len(emails_once(emu)) == 30
    calls = import_calls(emu)
    assert calls["customField/query"] == 1 and calls["imports/create"] == 1
    assert not any(k.startswith("prospect/") for k in calls)
    assert "WARNING" not in result.stderr


@pytest.mark.parametrize("api_version", ["4", "auto"])
def test_no_two_rows_of_a_batch_reach_one_mapped_prospect_by_different_keys(
    emu, run, tmp_path, api_version
):
    config = base_config(emu, upsert_by_email=True, parallel_tasks=5, api_version=api_version,
                         ledger_path=str(tmp_path / "l.db"))  # fmt: skip
    run(config, stream_of("prospects", [{"email": "a@example.com", "city": "Start"}]))
    [first] = emu.prospects()
    schema = {"properties": {"email": {"type": "string"}, "match_email": {"type": "string"},
                             "city": {"type": "string"}}}  # fmt: skip
    rows = [{"match_email": "a@example.com", "email": "b@example.com", "city": "Moved"},
            {"email": "b@example.com", "city": "Moved again"},
            {"email": "a@example.com", "city": "New"}]  # fmt: skip
    result = run(config, stream_of("prospects", rows, schema=schema))
    assert result.exit_code == 0, result.stderr[-3000:]
    prospects = emails_once(emu)
    assert sorted(prospects) == ["a@example.com", "b@example.com"]
    assert (prospects["b@example.com"]["id"], prospects["b@example.com"]["city"]) == (
        first["id"], "Moved again")
    assert prospects["a@example.com"]["id"] != first["id"]
    assert prospects["a@example.com"]["city"] == "New"
