"""Injected transient faults, and the separate applied-but-lost mode."""

from __future__ import annotations

import time

import pytest
import requests

from pardot_emulator import PardotEmulator

from .conftest import Api

ROW = [{"email": "f@example.com"}]


def test_http500_fault(emu: PardotEmulator, api: Api) -> None:
    emu.configure(fault_rate=1.0, fault_kinds="http500")
    r = api.batch("batchUpsert", ROW)
    assert r.status_code == 500
    assert emu.counters()["faults_injected"] == {"http500": 1}


def test_http503_fault(emu: PardotEmulator, api: Api) -> None:
    emu.configure(fault_rate=1.0, fault_kinds=["http503"])
    assert api.batch("batchUpsert", ROW).status_code == 503


def test_code183_fault_v4(emu: PardotEmulator, api: Api) -> None:
    emu.configure(fault_rate=1.0, fault_kinds="code183")
    r = api.batch("batchUpsert", ROW)
    assert r.json() == {"@attributes": {"stat": "fail", "version": 1, "err_code": 183},
                        "err": "An internal error occurred, please try your request again"}


def test_code183_fault_v5(emu: PardotEmulator, api: Api) -> None:
    emu.configure(fault_rate=1.0, fault_kinds="code183")
    r = api.upsert_v5({"matchEmail": "f@example.com", "prospect": {}, "fields": ["id"]})
    assert r.status_code == 500
    assert r.json() == {"code": 183,
                        "message": "An internal error occurred, please try your request again"}


def test_drop_fault_closes_without_a_response(emu: PardotEmulator, api: Api) -> None:
    emu.configure(fault_rate=1.0, fault_kinds="drop")
    with pytest.raises(requests.ConnectionError):
        api.batch("batchUpsert", ROW)
    assert emu.counters()["http_status_counts"] == {"200": 1, "dropped": 1}  # token, then drop


def test_slow_fault_answers_late_but_normally(emu: PardotEmulator, api: Api) -> None:
    emu.configure(fault_rate=1.0, fault_kinds="slow", slow_ms=300)
    t0 = time.perf_counter()
    r = api.batch("batchUpsert", ROW)
    assert time.perf_counter() - t0 >= 0.3
    assert r.status_code == 201
    assert len(emu.prospects()) == 1


def test_slow_fault_trips_a_client_timeout(emu: PardotEmulator, api: Api) -> None:
    emu.configure(fault_rate=1.0, fault_kinds="slow", slow_ms=500)
    with pytest.raises(requests.Timeout):
        api.batch("batchUpsert", ROW, timeout=0.2)


@pytest.mark.parametrize("kind", ["http500", "http503", "code183", "drop"])
def test_a_fault_has_no_side_effect(emu: PardotEmulator, api: Api, kind: str) -> None:
    pid = emu.add_prospect("keep@example.com", city="Paris")
    emu.configure(fault_rate=1.0, fault_kinds=kind)
    for call in (
        lambda: api.batch("batchUpsert", [{"email": "new@example.com", "list_3": 1},
                                          {"id": pid, "city": "Lyon"}]),
        lambda: api.upsert_v5({"matchEmail": "keep@example.com", "prospect": {"city": "Rome"},
                               "fields": ["id"]}),
        lambda: api.post("/api/v5/objects/list-memberships", json={"listId": 4, "prospectId": pid}),
    ):
        try:
            call()
        except requests.ConnectionError:
            assert kind == "drop"
    assert [(p["id"], p["city"]) for p in emu.prospects()] == [(pid, "Paris")]
    assert emu.memberships() == []
    assert emu.counters()["faults_injected"] == {kind: 3}


def test_fault_rate_zero_never_faults(emu: PardotEmulator, api: Api) -> None:
    for _ in range(30):
        assert api.batch("batchCreate", []).status_code == 200
    assert emu.counters()["faults_injected"] == {}


def test_faults_are_drawn_at_the_configured_rate_and_reproducible(emu: PardotEmulator,
                                                                  api: Api) -> None:
    def run() -> list[int]:
        emu.configure(fault_rate=0.5, fault_kinds="http500,http503", seed=1234)
        return [api.batch("batchCreate", []).status_code for _ in range(40)]

    first = run()
    second = run()
    assert first == second
    assert 8 <= sum(s != 200 for s in first) <= 32
    assert {500, 503} <= set(first)


def test_faults_do_not_touch_control_endpoints(emu: PardotEmulator) -> None:
    emu.configure(fault_rate=1.0, fault_kinds="http500")
    assert requests.get(f"{emu.url}/_emulator/state", timeout=5).status_code == 200


def test_applied_but_lost_applies_then_drops(emu: PardotEmulator, api: Api) -> None:
    emu.configure(applied_but_lost_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.batch("batchUpsert", ROW)
    assert [p["email"] for p in emu.prospects()] == ["f@example.com"]
    assert emu.counters()["faults_injected"] == {"applied_but_lost": 1}


def test_applied_but_lost_replay_duplicates_email_only_rows_on_ampsea(
        emu: PardotEmulator, api: Api) -> None:
    # What the mode exists for: a blind replay of an email-only row duplicates it,
    # while a replay of the v5 upsert does not.
    emu.configure(applied_but_lost_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.batch("batchUpsert", ROW)
    with pytest.raises(requests.ConnectionError):
        api.upsert_v5({"matchEmail": "v5@example.com", "prospect": {}, "fields": ["id"]})
    emu.configure(applied_but_lost_rate=0.0)
    api.batch("batchUpsert", ROW)
    api.upsert_v5({"matchEmail": "v5@example.com", "prospect": {}, "fields": ["id"]})
    emails = sorted(p["email"] for p in emu.prospects())
    assert emails == ["f@example.com", "f@example.com", "v5@example.com"]
    assert emu.counters()["retries_seen"] == 2
