"""Inspection and control: /_emulator/*, the Python API, the counters."""

from __future__ import annotations

import json

import pytest
import requests

from pardot_emulator import PardotEmulator

from .conftest import Api

COUNTER_KEYS = {
    "calls_total", "calls_by_endpoint", "calls_by_api_version", "errors_by_code",
    "http_status_counts", "in_flight",
    "max_in_flight", "rejected_concurrency", "retries_seen", "token_in_url_violations",
    "dynamic_list_writes", "error_file_downloads", "error_file_pardot_headers",
    "tokens_issued", "faults_injected", "rows_created", "rows_updated", "rows_failed",
    "daily_calls_used",
}


def test_state_over_http(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("s@example.com")
    emu.add_membership(2, pid)
    r = requests.get(f"{emu.url}/_emulator/state", timeout=5)
    assert r.status_code == 200
    state = r.json()
    assert set(state) == {"prospects", "memberships", "imports", "counters", "config"}
    assert [p["email"] for p in state["prospects"]] == ["s@example.com"]
    assert state["memberships"][0]["list_id"] == 2
    assert set(state["counters"]) == COUNTER_KEYS
    assert state["config"]["concurrency_limit"] == 5
    assert state["config"]["lists"] == "1-1000"
    assert state == json.loads(json.dumps(emu.state()))


def test_prospects_shape(emu: PardotEmulator) -> None:
    pid = emu.add_prospect("s@example.com", first_name="S", fid="00Q1", score=3,
                           favorite_color__c="red")
    [p] = emu.prospects()
    assert p["id"] == pid
    assert (p["email"], p["first_name"], p["crm_fid"], p["score"]) == ("s@example.com", "S",
                                                                       "00Q1", 3)
    assert p["favorite_color__c"] == "red"
    assert p["last_name"] is None and p["deleted"] is False
    assert "fid" not in p


def test_deleted_prospects_are_hidden_unless_asked(emu: PardotEmulator) -> None:
    emu.add_prospect("a@example.com", deleted=True)
    assert emu.prospects() == []
    assert len(emu.prospects(include_deleted=True)) == 1


def test_add_prospect_refuses_unknown_fields(emu: PardotEmulator) -> None:
    with pytest.raises(ValueError, match="firstName"):
        emu.add_prospect("a@example.com", firstName="A")


def test_config_over_http_takes_effect_immediately(emu: PardotEmulator, api: Api) -> None:
    r = requests.post(f"{emu.url}/_emulator/config",
                      json={"daily_limit": 1, "lists": "5-6", "ampsea": False}, timeout=5)
    assert r.status_code == 200
    assert (r.json()["daily_limit"], r.json()["lists"], r.json()["ampsea"]) == (1, "5-6", False)
    api.batch("batchCreate", [])
    assert api.batch("batchCreate", []).json()["@attributes"]["err_code"] == 122


@pytest.mark.parametrize("body", [{"no_such_setting": 1}, {"fault_rate": 2},
                                  {"fault_kinds": "meteor"}, {"rate_limit_status": 503},
                                  {"reserved_slots": 9}])
def test_bad_config_is_400_and_changes_nothing(emu: PardotEmulator, body: dict[str, object]
                                               ) -> None:
    before = emu.state()["config"]
    r = requests.post(f"{emu.url}/_emulator/config", json=body, timeout=5)
    assert r.status_code == 400
    assert "error" in r.json()
    assert emu.state()["config"] == before


def test_reset_clears_data_and_counters_but_keeps_config(emu: PardotEmulator, api: Api) -> None:
    emu.configure(concurrency_limit=3)
    api.batch("batchUpsert", [{"email": "r@example.com"}])
    r = requests.post(f"{emu.url}/_emulator/reset", timeout=5)
    assert r.status_code == 200
    assert emu.prospects() == [] and emu.memberships() == [] and emu.imports() == []
    assert emu.counters()["calls_total"] == 0
    assert emu.issued_tokens() == []
    assert emu.state()["config"]["concurrency_limit"] == 3


def test_seeding_over_http(emu: PardotEmulator) -> None:
    r = requests.post(f"{emu.url}/_emulator/prospects",
                      json={"email": "h@example.com", "crm_fid": "00Q9"}, timeout=5)
    assert r.status_code == 201
    pid = r.json()["id"]
    r = requests.post(f"{emu.url}/_emulator/memberships",
                      json={"list_id": 4, "prospect_id": pid}, timeout=5)
    assert r.status_code == 201
    assert emu.memberships()[0]["prospect_id"] == pid


def test_counters_by_endpoint_code_and_status(emu: PardotEmulator, api: Api) -> None:
    pid = emu.add_prospect("c@example.com")
    api.batch("batchUpsert", [{"email": "x@example.com"}, {"email": "bad"}])
    api.batch("batchUpdate", [{"id": pid, "city": "X"}])
    api.batch("batchCreate", [])
    api.post(f"/api/prospect/version/4/do/upsert/id/{pid}?format=json")
    api.upsert_v5({"matchEmail": "c@example.com", "prospect": {}, "fields": ["id"]})
    api.post(f"/api/listMembership/version/4/do/create/list_id/1/prospect_id/{pid}?format=json")
    api.post(f"/api/listMembership/version/4/do/create/list_id/1/prospect_id/{pid}?format=json")
    api.post("/api/v5/objects/list-memberships", json={"listId": 2, "prospectId": pid})
    api.get("/api/v5/objects/list-memberships", params={"fields": "id", "listId": 2})
    api.get("/api/v5/imports/1", params={"fields": "id,status"})
    c = emu.counters()
    assert c["calls_by_endpoint"] == {
        "oauth/token": 1, "prospect/batchUpsert": 1, "prospect/batchUpdate": 1,
        "prospect/batchCreate": 1, "prospect/upsert": 1, "prospect/upsertLatestByEmail": 1,
        "listMembership/create": 2, "v5/list-memberships": 1, "v5/list-memberships/query": 1,
        "imports/read": 1}
    assert c["calls_total"] == 11
    assert c["errors_by_code"] == {"58": 1, "192": 1}
    assert c["http_status_counts"] == {"200": 6, "201": 3, "400": 1, "404": 1}
    assert (c["rows_created"], c["rows_updated"], c["rows_failed"]) == (1, 3, 1)
    assert c["tokens_issued"] == 1
    assert c["max_in_flight"] == 1 and c["in_flight"] == 0


def test_retries_seen_counts_identical_writes_only(emu: PardotEmulator, api: Api) -> None:
    rows = [{"email": "r@example.com"}]
    api.batch("batchUpsert", rows)
    api.batch("batchUpsert", rows)
    api.batch("batchUpsert", [{"email": "other@example.com"}])
    api.get("/api/v5/imports/1")
    api.get("/api/v5/imports/1")  # repeated reads are polls, not retries
    assert emu.counters()["retries_seen"] == 1


def test_unknown_control_endpoint_is_404(emu: PardotEmulator) -> None:
    assert requests.get(f"{emu.url}/_emulator/nothing", timeout=5).status_code == 404


def test_start_stop_and_port(emu: PardotEmulator) -> None:
    other = PardotEmulator(concurrency_limit=2).start()
    url = other.url
    try:
        assert other.url.startswith("http://127.0.0.1:")
        assert other.url != emu.url
        assert not other.url.endswith("/")
        assert requests.get(f"{other.url}/_emulator/health", timeout=5).json() == {"ok": True}
        assert other.state()["config"]["concurrency_limit"] == 2
    finally:
        other.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_emulator/health", timeout=2)


def test_unknown_constructor_setting_fails_fast() -> None:
    with pytest.raises(ValueError, match="latency"):
        PardotEmulator(latencyms=5)
