"""The account's custom fields: listed by both endpoints, named by field_id in v4 and
field_id + __c in v5, with or without __c in the field_id. The v5 object gives both:
fieldId is the v3/v4 name, apiFieldId the v5 name (pardot/api-docs issue #235:
"apiFieldId":"UniqueId__c","fieldId":"UniqueId")."""

from __future__ import annotations

from pardot_emulator import PardotEmulator

from .conftest import Api


def test_v5_query_gives_field_id_and_api_field_id_and_only_the_requested_fields(
    emu: PardotEmulator, api: Api
) -> None:
    emu.configure(custom_fields="loyalty_tier,Legacy_Code__c")
    r = api.get("/api/v5/objects/custom-fields", params={"fields": "id,fieldId,apiFieldId"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    values = r.json()["values"]
    assert [set(v) for v in values] == [{"id", "fieldId", "apiFieldId"}] * 2
    assert [(v["fieldId"], v["apiFieldId"]) for v in values] == [
        ("loyalty_tier", "loyalty_tier__c"),
        ("Legacy_Code__c", "Legacy_Code__c__c"),
    ]
    only = api.get("/api/v5/objects/custom-fields", params={"fields": "fieldId"}).json()
    assert only["values"] == [{"fieldId": "loyalty_tier"}, {"fieldId": "Legacy_Code__c"}]


def test_v5_query_needs_fields(api: Api) -> None:
    r = api.get("/api/v5/objects/custom-fields")
    assert (r.status_code, r.json()["code"]) == (400, 153)
    r = api.get("/api/v5/objects/custom-fields", params={"fields": "id,field_id"})
    assert (r.status_code, r.json()) == (400, {
        "code": 51,
        "message": "Invalid parameter: fields. It contains an invalid or unknown field: field_id.",
    })


def test_v4_query_lists_them_by_field_id(emu: PardotEmulator, api: Api) -> None:
    emu.configure(custom_fields="loyalty_tier,Legacy_Code__c")
    r = api.get("/api/customField/version/4/do/query", params={"format": "json"})
    result = r.json()["result"]
    assert result["total_results"] == 2
    assert [f["field_id"] for f in result["customField"]] == ["loyalty_tier", "Legacy_Code__c"]
    emu.configure(custom_fields="only_one")
    one = api.get("/api/customField/version/4/do/query", params={"format": "json"}).json()
    assert one["result"]["customField"]["field_id"] == "only_one", "one result: an object"


def test_v4_names_by_field_id_and_v5_adds_c(emu: PardotEmulator, api: Api) -> None:
    emu.configure(custom_fields="loyalty_tier,Legacy_Code__c")
    r = api.batch("batchUpsert", [{"email": "a@example.com", "loyalty_tier": "gold",
                                   "Legacy_Code__c": "L1"}])  # fmt: skip
    assert r.status_code == 201, r.text
    r = api.upsert_v5({"matchEmail": "b@example.com", "fields": ["id"],
                       "prospect": {"loyalty_tier__c": "silver", "Legacy_Code__c__c": "L2"}})
    assert r.status_code == 201, r.text
    got = {p["email"]: (p["loyalty_tier__c"], p["Legacy_Code__c__c"]) for p in emu.prospects()}
    assert got == {"a@example.com": ("gold", "L1"), "b@example.com": ("silver", "L2")}
    # the wrong form for each version is refused
    r = api.upsert_v5({"matchEmail": "c@example.com", "fields": ["id"],
                       "prospect": {"loyalty_tier": "x"}})
    assert r.status_code == 400
    r = api.batch("batchUpsert", [{"email": "d@example.com", "loyalty_tier__c": "x"}])
    assert r.json()["errors"]
