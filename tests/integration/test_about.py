"""`target-pardot --about` in its three formats: complete, and in line with meltano.yml."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from target_pardot.target import CONFIG_SCHEMA, TargetPardot
from tests.helpers import restored_signal_handlers
from tests.unit.test_docs_agree import ROOT

OWN_SETTINGS = sorted(CONFIG_SCHEMA["properties"])


def about(*args: str) -> str:
    """The command's output, run in this process (test_cli.py runs it as a process)."""
    with restored_signal_handlers():
        result = CliRunner().invoke(TargetPardot.get_singer_command(), ["--about", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_lists_every_setting_and_the_meltano_capabilities():
    info = json.loads(about("--format=json"))
    assert info["name"] == "target-pardot"
    properties = info["settings"]["properties"]
    assert set(OWN_SETTINGS) <= set(properties)
    # The SDK's own settings come too (stream maps, flattening, batch size...).
    assert {"stream_maps", "flattening_enabled", "batch_size_rows"} <= set(properties)
    assert {n for n, p in properties.items() if p.get("secret")} == {
        "client_secret",
        "refresh_token",
        "private_key",
    }
    # client_secret is required by every auth_flow but jwt_bearer: the settings check it.
    assert set(info["settings"]["required"]) == {"client_id", "business_unit"}
    [loader] = yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["loaders"]
    assert sorted(info["capabilities"]) == sorted(loader["capabilities"])


def test_markdown_has_a_row_per_setting():
    text = about("--format=markdown")
    rows = {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")}
    assert set(OWN_SETTINGS) <= rows
    assert "## Capabilities" in text


@pytest.mark.parametrize("setting", ["dry_run_offline", "progress_interval_seconds", "auth_flow"])
def test_plain_text_names_the_environment_variable(setting):
    text = about()
    assert f"Name: {setting}" in text
    assert f"TARGET_PARDOT_{setting.upper()}" in text
