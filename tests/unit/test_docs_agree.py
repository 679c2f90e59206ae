"""The settings table is the one source: the config schema, README's table and meltano.yml
agree with it."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import yaml

from target_pardot.settings import Settings
from target_pardot.settings_table import SETTINGS
from target_pardot.target import CONFIG_SCHEMA

ROOT = Path(__file__).resolve().parents[2]


def readme_settings() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([a-z_]+)` \| ([^|]*) \|", section, flags=re.MULTILINE))


def meltano_settings() -> list[dict]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    [loader] = project["plugins"]["loaders"]
    return loader["settings"]


def test_same_settings_everywhere():
    schema = set(CONFIG_SCHEMA["properties"])
    assert set(readme_settings()) == schema
    assert {s["name"] for s in meltano_settings()} == schema


def test_secrets_agree():
    schema_secrets = {n for n, p in CONFIG_SCHEMA["properties"].items() if p.get("secret")}
    assert schema_secrets == {"client_secret", "refresh_token", "private_key"}
    for setting in meltano_settings():
        secret = setting["name"] in schema_secrets
        assert (setting.get("kind") == "password") is secret, setting["name"]
        assert bool(setting.get("sensitive")) is secret, setting["name"]
    for name in schema_secrets:
        assert "secret" in readme_settings()[name]


def test_defaults_agree():
    readme = readme_settings()
    for setting in meltano_settings():
        default = CONFIG_SCHEMA["properties"][setting["name"]].get("default")
        if default is None:
            continue
        assert setting.get("value") == default, setting["name"]
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        assert readme[setting["name"]].startswith(f"`{shown}`"), setting["name"]


def test_readme_and_meltano_yml_are_made_from_the_settings_table():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_docs.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_every_setting_in_the_table_is_a_field_of_settings():
    assert {f.name for f in fields(Settings)} == {s.name for s in SETTINGS}


def test_the_schema_carries_the_table():
    for setting in SETTINGS:
        prop = CONFIG_SCHEMA["properties"][setting.name]
        assert prop.get("default") == setting.default, setting.name
        # (a choice that may be given as a number lists the numbers after its values)
        assert prop.get("enum", [])[: len(setting.values)] == list(setting.values), setting.name
        assert prop["description"] == setting.description, setting.name
