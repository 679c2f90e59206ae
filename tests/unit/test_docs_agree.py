"""README's settings table, meltano.yml and the config schema must list the same settings."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

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
