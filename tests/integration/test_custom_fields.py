"""Custom fields from the account: read once per run, then sent under the name each API
version uses (v4: the field_id exactly; v5: field_id + __c), with or without __c."""

from __future__ import annotations

import pytest

from target_pardot.errors import PardotApiError
from target_pardot.pardot.client import PardotClient
from target_pardot.rows.fields import CustomFields, pardot_field_name, use_custom_fields
from tests.helpers import base_config, stream_of

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["integer", "null"]},
        "email": {"type": ["string", "null"]},
        "loyalty_tier": {"type": ["string", "null"]},
        "Legacy_Code__c": {"type": ["string", "null"]},
        "Nope__c": {"type": ["string", "null"]},
    },
}
ROW = {"loyalty_tier": "gold", "Legacy_Code__c": "L7", "Nope__c": "x"}


pytestmark = pytest.mark.usefixtures("quick_import_polls")


@pytest.fixture
def run(run_ok):
    """Every run in this module must succeed."""
    return run_ok


def landed(emu) -> tuple[str | None, str | None]:
    [p] = emu.prospects()
    return p.get("loyalty_tier__c"), p.get("Legacy_Code__c__c")


@pytest.mark.parametrize(
    "config",
    [
        {},  # v4 batchUpsert (an id row)
        {"upsert_by_email": True},  # v5 upsertLatestByEmail
        {"prospect_operation": "import", "default_campaign_id": 7},  # v5 import
    ],
    ids=["v4-batch", "v5-upsert", "import"],
)
def test_custom_fields_with_and_without_c_reach_pardot(emu, run, config):
    if config:
        record = {"email": "a@example.com", **ROW}
    else:
        record = {"id": emu.add_prospect("a@example.com"), **ROW}
    result = run(base_config(emu, **config), stream_of("prospects", [record], schema=SCHEMA))
    assert landed(emu) == ("gold", "L7")
    assert result.summary["api_calls_by_endpoint"]["customFields/query"] == 1
    warnings = [line for line in result.stderr.splitlines() if "Nope__c" in line]
    assert len(warnings) == 1 and "not Pardot" in warnings[0]


def test_a_failed_read_warns_and_falls_back_to_the_c_rule(emu, run, monkeypatch):
    def refuse(self, page_url=None):
        raise PardotApiError("HTTP 404: request refused", status=404)

    monkeypatch.setattr(PardotClient, "v5_custom_fields", refuse)
    record = {"email": "a@example.com", "loyalty_tier": "gold"}
    result = run(base_config(emu, upsert_by_email=True, skip_invalid_records=True),
                 stream_of("prospects", [record], schema=SCHEMA))  # fmt: skip
    assert "Could not read the account's custom fields" in result.stderr
    # loyalty_tier (no __c) is not a field under the fallback rule: warned, not sent
    assert any("loyalty_tier" in line and "not Pardot" in line
               for line in result.stderr.splitlines())  # fmt: skip
    [p] = emu.prospects()
    assert p.get("loyalty_tier__c") is None


def test_the_catalog_maps_names_in_either_form_and_any_case():
    try:
        use_custom_fields(CustomFields.from_v5_names(["loyalty_tier__c", "Legacy_Code__c__c"]))
        assert pardot_field_name("LOYALTY_TIER") == "loyalty_tier"
        assert pardot_field_name("loyalty_tier__c") == "loyalty_tier"
        assert pardot_field_name("legacy_code__c") == "Legacy_Code__c"
        assert pardot_field_name("Nope__c") is None
        assert pardot_field_name("FirstName") == "first_name"
    finally:
        use_custom_fields(CustomFields())
    assert pardot_field_name("Nope__c") == "Nope__c", "unknown list: the __c rule"
