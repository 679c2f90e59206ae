"""Auth flows, sandbox hosts, and one clear error per credential or host mistake.

Most tests run the real command line against the emulator. The sandbox tests run the
target in-process with its session routing Salesforce's and Pardot's real sandbox hosts
to the emulator, so the defaults that `sandbox: true` picks are the hosts actually called.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

import pytest
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from target_pardot.settings import DEMO_PARDOT_DOMAIN, SANDBOX_LOGIN_URL
from target_pardot.target import TargetPardot
from tests.helpers import Result, base_config, parse_states, run_cli_inprocess, stream_of, to_lines

#: A business unit the emulator does not know (it plays an account with another one).
UNKNOWN_BUSINESS_UNIT = "0Uv5g000000ABCDCAA"


def people(n: int) -> list[dict[str, Any]]:
    return [{"email": f"auth{i}@example.com"} for i in range(n)]


def one_line_error(stderr: str, *needles: str) -> str:
    """The single stderr line holding every needle; no traceback anywhere."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if all(n in line for n in needles)]
    assert lines, f"no line with {needles} in stderr:\n{stderr[-3000:]}"
    return lines[0]


def pardot_calls(emu: Any) -> dict[str, int]:
    calls = dict(emu.counters()["calls_by_endpoint"])
    calls.pop("oauth/token", None)
    return calls


# -- mistakes with the credentials -----------------------------------------------------


def test_revoked_refresh_token(emu, tmp_path):
    config = base_config(emu, refresh_token="5Aep861-revoked-long-ago")
    result = run_cli_inprocess(
        config, stream_of("prospects", people(3), final_state={"s": 1}), tmp_path
    )
    assert result.exit_code == 2
    line = one_line_error(result.stderr, "invalid_grant", "'refresh_token'")
    assert "authorise the app again" in line and "target-pardot-login" in line
    assert emu.counters()["calls_by_endpoint"] == {"oauth/token": 1}, "not retried"
    assert result.stdout == ""


def test_unknown_client(emu, tmp_path):
    config = base_config(emu, client_id="3MVG9-not-a-connected-app")
    result = run_cli_inprocess(config, stream_of("prospects", people(3)), tmp_path)
    assert result.exit_code == 2
    line = one_line_error(result.stderr, "invalid_client_id", "'client_id'")
    assert "'login_url'" in line
    assert pardot_calls(emu) == {}


def test_wrong_client_secret(emu, tmp_path):
    config = base_config(emu, client_secret="not-the-consumer-secret")
    result = run_cli_inprocess(config, stream_of("prospects", people(3)), tmp_path)
    assert result.exit_code == 2
    one_line_error(result.stderr, "invalid_client", "'client_secret'")
    assert pardot_calls(emu) == {}


@pytest.mark.parametrize(
    "hosts",
    [{"login_url": "https://login.salesforce.com"}, {"sandbox": True}],
    ids=["login.salesforce.com", "sandbox-default-test.salesforce.com"],
)
def test_client_credentials_on_a_generic_login_host(emu, tmp_path, hosts):
    config = base_config(emu, auth_flow="client_credentials", refresh_token=None, **hosts)
    if "sandbox" in hosts:
        del config["login_url"]
    result = run_cli_inprocess(config, stream_of("prospects", people(1)), tmp_path)
    assert result.exit_code == 2
    line = one_line_error(result.stderr, "client_credentials", "My Domain")
    assert "'login_url'" in line
    assert emu.counters()["calls_total"] == 0, "refused before any call"


# -- sandbox hosts, and a business unit of the other kind ------------------------------


class ToEmulator(HTTPAdapter):
    """Sends a request for a real Salesforce or Pardot host to the emulator instead."""

    def __init__(self, emulator_url: str, seen: list[str]) -> None:
        super().__init__()
        self.emulator_url = emulator_url
        self.seen = seen

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
        parts = urlsplit(str(request.url))
        self.seen.append(f"{parts.scheme}://{parts.hostname}{parts.path}")
        request.url = f"{self.emulator_url}{parts.path}" + (
            f"?{parts.query}" if parts.query else ""
        )
        return super().send(request, **kwargs)


def run_on_sandbox_hosts(emu: Any, config: dict[str, Any], messages: list, capsys, caplog):
    """Run in-process with the sandbox hosts (the defaults of `sandbox: true`) routed to emu."""
    caplog.clear()
    caplog.set_level("INFO")
    capsys.readouterr()
    target = TargetPardot(config=config, validate_config=True)
    assert target.settings.login_url == SANDBOX_LOGIN_URL.rstrip("/")
    assert target.settings.pardot_domain == DEMO_PARDOT_DOMAIN
    seen: list[str] = []
    for host in (SANDBOX_LOGIN_URL, DEMO_PARDOT_DOMAIN):
        target.runtime.client.session.mount(host, ToEmulator(emu.url, seen))
    code = target.run(io.StringIO(to_lines(messages)))
    out = capsys.readouterr().out
    return Result(code, out, caplog.text, parse_states(out)), seen


def sandbox_config(emu: Any, **overrides: Any) -> dict[str, Any]:
    config = base_config(emu, sandbox=True, **overrides)
    del config["login_url"], config["pardot_domain"]
    return config


def test_sandbox_uses_the_sandbox_hosts(emu, capsys, caplog):
    messages = stream_of("prospects", people(3), final_state={"s": 1})
    # Batches by email: one row call whose host and path are known in advance.
    config = sandbox_config(emu, upsert_by_email=False)
    result, seen = run_on_sandbox_hosts(emu, config, messages, capsys, caplog)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert sorted(p["email"] for p in emu.prospects()) == [f"auth{i}@example.com" for i in range(3)]
    assert set(seen) == {
        "https://test.salesforce.com/services/oauth2/token",
        "https://pi.demo.pardot.com/api/v5/objects/custom-fields",
        "https://pi.demo.pardot.com/api/prospect/version/4/do/batchUpsert",
    }
    assert result.states == [{"s": 1}]


def test_production_business_unit_on_the_demo_host(emu, capsys, caplog):
    # The emulator plays the demo host: the configured (production) business unit is
    # unknown there, and Pardot answers 201 to the first call.
    config = sandbox_config(emu, business_unit=UNKNOWN_BUSINESS_UNIT)
    messages = stream_of("prospects", people(3), final_state={"s": 1})
    result, _ = run_on_sandbox_hosts(emu, config, messages, capsys, caplog)
    assert result.exit_code == 2
    line = one_line_error(result.stderr, "Pardot error 201", "'pardot_domain'", "'sandbox'")
    assert "https://pi.demo.pardot.com (from 'sandbox': true)" in line
    assert "set 'sandbox' to false" in line
    assert result.states == [], "no STATE for rows that were not loaded"
    assert emu.prospects() == []


def test_business_unit_unknown_on_the_configured_host(emu, tmp_path):
    config = base_config(emu, business_unit=UNKNOWN_BUSINESS_UNIT)
    messages = stream_of("prospects", people(3), final_state={"s": 1})
    result = run_cli_inprocess(config, messages, tmp_path)
    assert result.exit_code == 2
    line = one_line_error(result.stderr, "Pardot error 201", "'business_unit'")
    assert "'pardot_domain'" in line and "'sandbox'" in line
    assert emu.url in line, "names the host it called"
    assert result.stdout == ""
