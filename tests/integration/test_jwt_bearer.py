"""auth_flow jwt_bearer against the emulator: rows load, and every refusal is one line
naming the setting, with the key never in any output."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    Result,
    assert_no_secrets,
    base_config,
    log_lines,
    run_cli_inprocess,
    stream_of,
)
from tests.keys import ec_private_key, key_body_lines, rsa_key_pair

USER = "integration@example.com"


@pytest.fixture
def jwt_emu(emu):
    emu.configure(jwt_public_key=rsa_key_pair()[1], jwt_username=USER)
    return emu


def jwt_config(emu: Any, tmp_path, **overrides: Any) -> dict[str, Any]:
    key_file = tmp_path / "server.key"
    key_file.write_text(rsa_key_pair()[0])
    config = base_config(
        emu,
        auth_flow="jwt_bearer",
        client_secret=None,
        refresh_token=None,
        username=USER,
        private_key_path=str(key_file),
    )
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


def people(n: int) -> list[dict[str, Any]]:
    return [{"email": f"jwt{i}@example.com", "first_name": f"J{i}"} for i in range(n)]


def assert_key_absent(result: Result, *pems: str, emu: Any = None) -> None:
    """No line of the private key, and no assertion the emulator received, in any output."""
    for pem in pems:
        for line in key_body_lines(pem):
            assert line not in result.stdout
            assert line not in result.stderr
    if emu is not None:
        assertions = [a for a in emu.received_assertions() if a]
        assert assertions, "the run sent at least one assertion"
        for assertion in assertions:
            assert assertion not in result.stdout + result.stderr


def one_line(result: Result, *needles: str) -> str:
    assert "Traceback" not in result.stderr
    lines = [line for line in log_lines(result.stderr) if all(n in line for n in needles)]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def test_a_jwt_run_loads_rows_and_makes_a_new_assertion_when_the_token_expires(
    jwt_emu, tmp_path
):
    # Tokens die after 3 calls: the target signs a fresh assertion for each new token.
    jwt_emu.configure(token_lifetime_calls=3)
    # v4 batches: the assertions are the subject, not upsert_by_email's call per row.
    config = jwt_config(jwt_emu, tmp_path, upsert_by_email=False)
    result = run_cli_inprocess(
        config, stream_of("prospects", people(400), final_state={"s": 1}), tmp_path
    )
    assert result.exit_code == 0, result.stderr[-3000:]
    assert result.states == [{"s": 1}]
    assert sorted(p["email"] for p in jwt_emu.prospects()) == sorted(
        r["email"] for r in people(400)
    )
    # 8 batch calls, 3 per token: at least 3 tokens, each from a fresh assertion.
    assert jwt_emu.counters()["calls_by_endpoint"]["prospect/batchUpsert"] >= 8
    assert jwt_emu.counters()["tokens_issued"] >= 3
    assert_no_secrets(result, config, jwt_emu)
    assert_key_absent(result, rsa_key_pair()[0], emu=jwt_emu)


def test_the_key_may_be_given_inline(jwt_emu, tmp_path):
    config = jwt_config(jwt_emu, tmp_path, private_key_path=None, private_key=rsa_key_pair()[0])
    result = run_cli_inprocess(config, stream_of("prospects", people(3)), tmp_path)
    assert result.exit_code == 0, result.stderr[-3000:]
    assert len(jwt_emu.prospects()) == 3
    assert_key_absent(result, rsa_key_pair()[0])


def test_an_expired_assertion_is_one_line_and_loads_nothing(jwt_emu, tmp_path):
    # Salesforce's clock ten minutes ahead of ours: every assertion arrives expired.
    # Salesforce answers "expired authorization code", the text it also gives two
    # refreshes that race: here it is no race, and the line names the clock.
    jwt_emu.configure(clock_offset_seconds=600)
    result = run_cli_inprocess(
        jwt_config(jwt_emu, tmp_path), stream_of("prospects", people(5)), tmp_path
    )
    assert result.exit_code == 2
    line = one_line(result, "expired authorization code")
    assert "clock" in line and "login_url" not in line
    assert jwt_emu.counters()["calls_by_endpoint"]["oauth/token"] == 1, "not retried as a race"
    assert jwt_emu.prospects() == [] and result.stdout == ""
    assert_key_absent(result, rsa_key_pair()[0], emu=jwt_emu)


def test_a_wrong_key_is_one_line(jwt_emu, tmp_path):
    other = rsa_key_pair("other")[0]
    key_file = tmp_path / "other.key"
    key_file.write_text(other)
    config = jwt_config(jwt_emu, tmp_path, private_key_path=str(key_file))
    result = run_cli_inprocess(config, stream_of("prospects", people(5)), tmp_path)
    assert result.exit_code == 2
    line = one_line(result, "invalid assertion")
    assert "certificate uploaded to the connected app" in line
    assert jwt_emu.counters()["calls_by_endpoint"] == {"oauth/token": 1}, "no retry"
    assert_key_absent(result, other, emu=jwt_emu)


def test_an_unapproved_user_names_username(jwt_emu, tmp_path):
    config = jwt_config(jwt_emu, tmp_path, username="someone.else@example.com")
    result = run_cli_inprocess(config, stream_of("prospects", people(5)), tmp_path)
    assert result.exit_code == 2
    line = one_line(result, "user hasn't approved this consumer")
    assert "'username'" in line


def test_a_sandbox_assertion_is_for_test_salesforce_com(jwt_emu, tmp_path):
    config = jwt_config(jwt_emu, tmp_path, sandbox=True)
    result = run_cli_inprocess(config, stream_of("prospects", people(2)), tmp_path)
    assert result.exit_code == 2
    assert "'sandbox'" in one_line(result, "Audience validation failed")
    jwt_emu.configure(jwt_audience="https://test.salesforce.com")
    assert run_cli_inprocess(config, stream_of("prospects", people(2)), tmp_path).exit_code == 0


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "'private_key_path'"),  # no such file
        ("not a key at all", "'private_key_path' is not a PEM private key"),
        (ec_private_key(), "needs an RSA key"),
    ],
)
def test_key_mistakes_stop_before_any_call(emu, tmp_path, content, needle):
    key_file = tmp_path / "bad.key"
    if content is not None:
        key_file.write_text(content)
    config = jwt_config(emu, tmp_path, private_key_path=str(key_file))
    result = run_cli_inprocess(config, stream_of("prospects", people(2)), tmp_path)
    assert result.exit_code == 2
    one_line(result, needle)
    assert emu.counters()["calls_total"] == 0
    if content:
        assert_key_absent(result, content)
