"""v5 lists (guide:list-v5): query, read and create; dynamic lists are read-only."""

from __future__ import annotations

from pardot_emulator import PardotEmulator

from .conftest import Api

LISTS = "/api/v5/objects/lists"


def test_create_needs_only_a_name_and_answers_201_with_the_fields_asked(
    emu: PardotEmulator, api: Api
) -> None:
    r = api.post(LISTS + "?fields=id,name,isDynamic", json={"name": "Webinar Q4"})
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "Webinar Q4" and body["isDynamic"] is False
    assert set(body) == {"id", "name", "isDynamic"}
    assert [lst["name"] for lst in emu.lists() if lst["id"] == body["id"]] == ["Webinar Q4"]


def test_create_without_a_name_is_a_missing_property(emu: PardotEmulator, api: Api) -> None:
    r = api.post(LISTS, json={"title": "No name"})
    assert r.status_code == 400
    assert r.json()["code"] == 153


def test_is_dynamic_cannot_be_written(emu: PardotEmulator, api: Api) -> None:
    r = api.post(LISTS, json={"name": "Rules", "isDynamic": True})
    assert r.status_code == 400
    assert "isDynamic" in r.json()["message"]


def test_names_are_not_unique(emu: PardotEmulator, api: Api) -> None:
    first = api.post(LISTS, json={"name": "Same"}).json()["id"]
    second = api.post(LISTS, json={"name": "Same"}).json()["id"]
    assert first != second


def test_read_shows_a_dynamic_list(emu: PardotEmulator, api: Api) -> None:
    list_id = emu.add_list("Engaged", dynamic=True)
    r = api.get(f"{LISTS}/{list_id}?fields=id,name,isDynamic")
    assert r.status_code == 200
    assert r.json() == {"id": list_id, "name": "Engaged", "isDynamic": True}
    assert api.get(f"{LISTS}/{list_id}").json()["code"] == 153  # fields is required
    assert api.get(f"{LISTS}/999999?fields=id").status_code == 404


def test_query_pages_by_id_with_the_shared_v5_conventions(emu: PardotEmulator, api: Api) -> None:
    emu.configure(lists="1-1500")
    first = api.get(LISTS, params={"fields": "id,name", "limit": 1000, "orderBy": "id"}).json()
    assert len(first["values"]) == 1000 and first["values"][0] == {"id": 1, "name": "List 1"}
    rest = api.get(LISTS, params={"fields": "id", "limit": 1000, "idGreaterThan": 1000}).json()
    assert [v["id"] for v in rest["values"]] == list(range(1001, 1501))
    assert api.get(LISTS, params={"limit": 5}).json()["code"] == 153
    assert api.get(LISTS, params={"fields": "id", "limit": 1001}).status_code == 400
    assert api.get(LISTS, params={"fields": "id", "name": "List 1"}).status_code == 400


def test_batch_flags_for_a_dynamic_list_are_counted_and_not_applied(
    emu: PardotEmulator, api: Api
) -> None:
    dynamic = emu.add_list("Engaged", dynamic=True)
    pid = emu.add_prospect("d@example.com")
    r = api.batch("batchUpdate", [{"id": pid, f"list_{dynamic}": 1, "list_3": 1}])
    assert r.status_code == 200
    assert {m["list_id"] for m in emu.memberships()} == {3}
    assert emu.counters()["dynamic_list_writes"] == 1
