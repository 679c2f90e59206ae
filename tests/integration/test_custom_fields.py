"""Custom fields from the account: read once per run, then sent under the name each API
version uses (v4: the field_id exactly; v5: field_id + __c), with or without __c."""

from __future__ import annotations

import io

import pytest

from pardot_emulator import PardotEmulator
from target_pardot.errors import PardotApiError
from target_pardot.pardot.endpoints import Endpoints
from target_pardot.pardot.responses import Reply
from target_pardot.rows.fields import STANDARD_NAMES, CustomField, CustomFields, FieldNames
from target_pardot.run.connection import open_client
from target_pardot.run.custom_fields import parse_custom_field_page, read_custom_fields
from target_pardot.run.stats import RunStats
from target_pardot.settings import parse_settings
from target_pardot.target import TargetPardot
from tests.helpers import base_config, restored_signal_handlers, stream_of, to_lines

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

#: Column names for the field loyalty_tier (v3/v4 name loyalty_tier, v5 loyalty_tier__c)
#: and the field Legacy_Code__c (v3/v4 name Legacy_Code__c, v5 Legacy_Code__c__c): by
#: the v3/v4 name, by the v5 name, and without the __c the name ends in, in other cases.
SPELLINGS = {
    "v4-names": ("loyalty_tier", "Legacy_Code__c"),
    "v5-names": ("loyalty_tier__c", "Legacy_Code__c__c"),
    "without-c": ("LOYALTY_TIER", "legacy_code"),
}
PATHS = {
    "v4-batch": {},  # v4 batchUpsert (an id row)
    "v3-batch": {"api_version": "3"},  # v3 batchUpsert (an account without AMPSEA)
    "v5-upsert": {"upsert_by_email": True},  # v5 upsertLatestByEmail
    "import": {"prospect_operation": "import", "default_campaign_id": 7},  # v5 import
}


pytestmark = pytest.mark.usefixtures("quick_import_polls")


@pytest.fixture
def run(run_ok):
    """Every run in this module must succeed."""
    return run_ok


def landed(emu) -> tuple[str | None, str | None]:
    [p] = emu.prospects()
    return p.get("loyalty_tier__c"), p.get("Legacy_Code__c__c")


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
@pytest.mark.parametrize("config", PATHS.values(), ids=PATHS.keys())
def test_custom_fields_with_and_without_c_reach_pardot_under_every_spelling(
    emu, run, config, spelling
):
    if config.get("api_version") == "3":
        emu.configure(ampsea=False)
    tier_column, code_column = spelling
    schema = {"type": "object", "properties": {
        "id": {"type": ["integer", "null"]}, "email": {"type": ["string", "null"]},
        tier_column: {"type": ["string", "null"]}, code_column: {"type": ["string", "null"]},
        "Nope__c": {"type": ["string", "null"]},
    }}  # fmt: skip
    values = {tier_column: "gold", code_column: "L7", "Nope__c": "x"}
    if config.get("prospect_operation") or config.get("upsert_by_email"):
        record = {"email": "a@example.com", **values}
    else:
        record = {"id": emu.add_prospect("a@example.com"), **values}
    result = run(base_config(emu, **config), stream_of("prospects", [record], schema=schema))
    assert landed(emu) == ("gold", "L7")
    assert result.summary["api_calls_by_endpoint"]["customFields/query"] == 1
    warnings = [line for line in result.stderr.splitlines() if "Nope__c" in line]
    assert len(warnings) == 1 and "not Pardot" in warnings[0]


def test_a_failed_read_warns_and_falls_back_to_the_c_rule(emu, run, monkeypatch):
    def refuse(self, page_url=None):
        raise PardotApiError("HTTP 404: request refused", status=404)

    monkeypatch.setattr(Endpoints, "v5_custom_fields", refuse)
    record = {"email": "a@example.com", "loyalty_tier": "gold"}
    result = run(base_config(emu, upsert_by_email=True, skip_invalid_records=True),
                 stream_of("prospects", [record], schema=SCHEMA))  # fmt: skip
    assert "Could not read the account's custom fields" in result.stderr
    # loyalty_tier (no __c) is not a field under the fallback rule: warned, not sent
    assert any("loyalty_tier" in line and "not Pardot" in line
               for line in result.stderr.splitlines())  # fmt: skip
    [p] = emu.prospects()
    assert p.get("loyalty_tier__c") is None


def test_two_runs_in_one_process_each_map_columns_by_their_own_account(emu, run):
    # Account A has the field "tier" (v5 tier__c); account B the field "Tier__c" (v5
    # Tier__c__c), which the column "tier" also names there. Run A reads its fields, run
    # B starts, loads and ends, and only then does A map its rows.
    emu.configure(custom_fields="tier")
    schema = {"type": "object", "properties": {"email": {"type": ["string", "null"]},
                                               "tier": {"type": ["string", "null"]}}}  # fmt: skip
    schema_line, *rows_a = stream_of("prospects", [{"email": "a@example.com", "tier": "gold"}],
                                     schema=schema)  # fmt: skip
    with PardotEmulator() as other, restored_signal_handlers():
        other.configure(custom_fields="Tier__c")
        first = TargetPardot(config=base_config(emu), validate_config=True)
        first.process_lines(io.StringIO(to_lines([schema_line])))
        assert emu.counters()["calls_by_endpoint"].get("v5/custom-fields/query") == 1
        second = run(base_config(other),
                     stream_of("prospects", [{"email": "b@example.com", "tier": "silver"}],
                               schema=schema))  # fmt: skip
        assert second.exit_code == 0, second.stderr[-3000:]
        assert first.run(io.StringIO(to_lines(rows_a))) == 0
        [b] = other.prospects()
    [a] = emu.prospects()
    assert a.get("tier__c") == "gold"
    assert b.get("Tier__c__c") == "silver"


def test_the_catalog_maps_names_in_either_form_and_any_case():
    fields = [CustomField("loyalty_tier", "loyalty_tier__c"),
              CustomField("Legacy_Code__c", "Legacy_Code__c__c")]  # fmt: skip
    names = FieldNames(CustomFields.of(fields))
    assert names.pardot_name("LOYALTY_TIER") == "loyalty_tier"
    assert names.pardot_name("loyalty_tier__c") == "loyalty_tier"
    assert names.pardot_name("legacy_code__c") == "Legacy_Code__c"
    assert names.pardot_name("Legacy_Code__c__c") == "Legacy_Code__c"
    assert names.pardot_name("Legacy_Code") == "Legacy_Code__c"
    assert names.pardot_name("Nope__c") is None
    assert names.pardot_name("FirstName") == "first_name"
    assert names.v5_name("Legacy_Code__c") == "Legacy_Code__c__c"
    assert names.v5_name("loyalty_tier") == "loyalty_tier__c"
    assert STANDARD_NAMES.pardot_name("Nope__c") == "Nope__c", "unknown list: the __c rule"


def test_a_column_that_names_two_fields_goes_to_the_stricter_match():
    # Fields X (v5 name X__c) and X__c (v5 name X__c__c): "X__c" is the v3/v4 name of the
    # second and the v5 name of the first; "X" is the first's own name.
    catalog = CustomFields.of([CustomField("X", "X__c"), CustomField("X__c", "X__c__c")])
    names = FieldNames(catalog)
    assert names.pardot_name("X__c") == "X__c"
    assert names.pardot_name("x") == "X"
    assert names.pardot_name("X__c__c") == "X__c"
    assert catalog.ambiguous_names() == ["x", "x__c"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"fieldId": "UniqueId", "apiFieldId": "UniqueId__c"}, ("UniqueId", "UniqueId__c")),
        ({"fieldId": "Code__c", "apiFieldId": "Code__c__c"}, ("Code__c", "Code__c__c")),
        ({"fieldId": "Code__c"}, ("Code__c", "Code__c__c")),
        ({"apiFieldId": "UniqueId__c"}, ("UniqueId", "UniqueId__c")),
        ({"id": 5}, None),
    ],
)
def test_a_page_gives_both_names_or_derives_the_missing_one(value, expected):
    [field] = parse_custom_field_page({"values": [value]})[0] or [None]
    assert (field and (field.field_id, field.api_field_id)) == expected


def test_a_next_page_url_on_another_host_is_read_from_the_configured_domain(emu):
    # Pardot names its own host in nextPageUrl; the configured domain may be spelled
    # differently (or be a proxy): the page is asked of the configured domain.
    client = open_client(parse_settings(base_config(emu)), RunStats())
    foreign = ("https://pi.pardot.com/api/v5/objects/custom-fields"
               "?fields=id%2CfieldId%2CapiFieldId")  # fmt: skip
    values = client.endpoints.v5_custom_fields(foreign).body["values"]
    assert ("loyalty_tier", "loyalty_tier__c") in {
        (v["fieldId"], v["apiFieldId"]) for v in values
    }
    relative = client.endpoints.v5_custom_fields("/api/v5/objects/custom-fields?fields=fieldId")
    assert {"fieldId": "Legacy_Code__c"} in relative.body["values"]


class _TwoPages:
    """A client whose second custom-fields page fails."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure
        self.calls: list[str | None] = []
        self.endpoints = self  # v5_custom_fields below

    def v5_custom_fields(self, page_url=None):
        self.calls.append(page_url)
        if page_url is None:
            body = {"values": [{"fieldId": "Legacy_Code__c", "apiFieldId": "Legacy_Code__c__c"}],
                    "nextPageUrl": "https://pi.pardot.com/api/v5/objects/custom-fields?t=2"}
            return Reply(200, body)
        raise self.failure


def test_a_failure_on_a_later_page_keeps_the_fields_already_read(caplog):
    client = _TwoPages(PardotApiError("HTTP 404: request refused", status=404))
    catalog = read_custom_fields(client)  # type: ignore[arg-type]
    assert len(client.calls) == 2
    names = FieldNames(catalog)
    assert names.pardot_name("Legacy_Code") == "Legacy_Code__c"
    assert names.v5_name("Legacy_Code__c") == "Legacy_Code__c__c"
    assert names.pardot_name("Other__c") == "Other__c", "unread fields: the __c rule"
    assert "Could read only 1 of the account's custom fields" in caplog.text
