"""Every setting through an environment variable under Meltano, and the Hub file's login
command through `meltano invoke`.

Meltano 4.4 casts a setting given as TARGET_PARDOT_<NAME> by its `kind` and writes the
plugin's config file from it: a `decimal` kind failed there ("Object of type Decimal is not
JSON serializable"). Here every setting of hub/target-pardot.yml comes from the environment
at once, and the target must run with each value.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.e2e.meltano_project import HUB_FILE, MeltanoProject
from tests.e2e.services import EmulatorProcess

pytestmark = pytest.mark.e2e

#: A value, as text, for each setting: not its default where that can be told apart, and
#: numbers with a fraction where the setting takes one.
VALUES = {
    "auth_flow": "refresh_token", "username": "integration@example.com",
    "private_key": "unused-by-the-refresh-token-flow", "private_key_path": "/nonexistent.pem",
    "data_object": "prospects", "skip_invalid_records": "true", "prospect_operation": "sync",
    "prospect_lists": "1,2", "prospect_list_operation": "add", "upsert_by_email": "true",
    "api_version": "4", "parallel_tasks": "2", "max_payload": "500000",
    "list_membership_operation": "upsert", "mirror_max_removal_percent": "55.5",
    "maximum_retries": "3", "initial_retry_wait": "0.5", "maximum_retry_wait": "30.5",
    "maximum_connection_timeout": "60.5", "sandbox": "false", "dry_run": "true",
    "dry_run_offline": "true", "progress_interval_seconds": "2.5",
    "batch_wait_limit_seconds": "10.5", "search_deleted_prospects": "false",
    "lowercase_emails": "true", "skip_unchanged": "true", "identity_map": "true",
    "max_api_calls": "1000", "daily_quota_reserve": "10", "default_campaign_id": "7",
    "add_record_metadata": "false", "load_method": "append-only", "batch_size_rows": "100",
    "validate_records": "true", "stream_maps": "{}", "stream_map_config": "{}",
    "faker_config.seed": "1", "faker_config.locale": "en_US", "flattening_enabled": "false",
    "flattening_max_depth": "1", "flattening_max_key_length": "255",
    "flattening_separator": "__",
}  # fmt: skip

ONE_PROSPECT = (
    '{"type":"SCHEMA","stream":"prospects","key_properties":[],'
    '"schema":{"properties":{"email":{"type":"string"}}}}\n'
    '{"type":"RECORD","stream":"prospects","record":{"email":"env@example.com"}}\n'
)


def env_name(setting: str) -> str:
    """Meltano's variable for a setting: TARGET_PARDOT_ and the name, upper case, `.` as `_`."""
    return "TARGET_PARDOT_" + re.sub(r"[^A-Za-z0-9]", "_", setting).upper()


def value_of(setting: dict[str, Any], emulator: EmulatorProcess, work: Path) -> str:
    """The text to give one Hub setting; a setting added since falls back to its default."""
    name = setting["name"]
    from_emulator = emulator.target_config()
    if name in from_emulator:
        return str(from_emulator[name])
    if name in ("rejected_records_path", "ledger_path"):
        return str(work / f"{name}.file")
    if name in VALUES:
        return VALUES[name]
    default = setting.get("value")
    assert default is not None, f"give {name} a value in VALUES"
    return str(default).lower() if isinstance(default, bool) else str(default)


def test_every_setting_through_the_environment(
    meltano: MeltanoProject, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    hub = yaml.safe_load(HUB_FILE.read_text())
    env = {env_name(s["name"]): value_of(s, emulator, tmp_path) for s in hub["settings"]}
    printed = meltano("config", "print", "target-pardot", "--format", "json", env=env)
    config = json.loads(printed[printed.index("{") : printed.rindex("}") + 1])
    for setting in hub["settings"]:
        top = setting["name"].split(".")[0]
        assert top in config, f"{setting['name']} from {env_name(setting['name'])} not read"
    assert config["mirror_max_removal_percent"] in ("55.5", 55.5)

    # The target runs with all of them (an offline dry run: nothing is sent).
    output = meltano.invoke_with_input("target-pardot", ONE_PROSPECT, env=env)
    assert "Decimal" not in output
    summary = json.loads(re.search(r"run summary: (\{.*\})", output).group(1))  # type: ignore[union-attr]
    assert summary["outcome"] == "succeeded" and summary["rows_received"] == 1


def test_config_set_writes_a_number_meltano_reads_back(meltano: MeltanoProject) -> None:
    """`meltano config set` of a number setting (the README's advice for the mirror guard)
    writes plain text, not a `!!float` tag, and the value reaches the target's config."""
    meltano("config", "set", "target-pardot", "mirror_max_removal_percent", "100")
    try:
        assert "!!" not in (meltano.root / "meltano.yml").read_text()
        printed = meltano("config", "print", "target-pardot", "--format", "json")
        config = json.loads(printed[printed.index("{") : printed.rindex("}") + 1])
        assert config["mirror_max_removal_percent"] in ("100", 100)
    finally:
        meltano("config", "unset", "target-pardot", "mirror_max_removal_percent")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_meltano_invoke_login_prints_a_refresh_token_meltano_can_store(
    meltano: MeltanoProject, emulator: EmulatorProcess
) -> None:
    """`meltano invoke target-pardot:login`, this test playing the browser: stdout is the
    refresh token alone, which the README's line hands to `meltano config set`."""
    redirect = f"http://localhost:{free_port()}/callback"
    login = meltano.popen("invoke", "target-pardot:login", "--no-browser", "--redirect-uri",
                          redirect, "--timeout", "60")  # fmt: skip
    assert login.stderr is not None
    seen = []
    for line in login.stderr:
        seen.append(line)
        if "/services/oauth2/authorize?" in line:
            url = line[line.index("http") :].split()[0]
            break
    else:
        raise AssertionError("no authorize URL: " + "".join(seen))
    at_salesforce = requests.get(url, allow_redirects=False, timeout=30)
    page = requests.get(at_salesforce.headers["Location"], timeout=30)
    assert b"Logged in" in page.content
    out, err = login.communicate(timeout=120)
    assert login.returncode == 0, "".join(seen) + err
    assert out == emulator.target_config()["refresh_token"] + "\n"
    assert emulator.target_config()["client_secret"] not in "".join(seen) + err


