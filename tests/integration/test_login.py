"""target-pardot-login end to end: a real process, with this test playing the browser
(it follows the emulator's redirect to the login's loopback server itself)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

import requests

from tests.helpers import BIN, base_config, run_cli_inprocess, stream_of


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Login:
    """target-pardot-login as a subprocess; reads stderr until it prints the URL."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.redirect = f"http://localhost:{self.port}/callback"
        self.proc = subprocess.Popen(
            [str(BIN / "target-pardot-login"), "--no-browser", "--redirect-uri",
             self.redirect, "--timeout", "20", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
        )
        self.seen: list[str] = []

    def authorize_url(self) -> str:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.seen.append(line)
            if line.startswith("http"):
                return line.strip()
        raise AssertionError("no URL printed: " + "".join(self.seen))

    def play_browser(self) -> requests.Response:
        """Open the URL; follow Salesforce's redirect to the loopback callback."""
        at_salesforce = requests.get(self.authorize_url(), allow_redirects=False, timeout=10)
        assert at_salesforce.status_code == 302
        location = at_salesforce.headers["Location"]
        assert location.startswith(self.redirect + "?")
        return requests.get(location, timeout=10)

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, "".join(self.seen) + err


def login_config(emu: Any, path: Path, **extra: Any) -> Path:
    config = {"client_id": emu.client_id, "client_secret": emu.client_secret,
              "login_url": emu.url, "pardot_domain": emu.url,
              "business_unit": emu.business_unit, **extra}
    path.write_text(json.dumps(config))
    return path


def secrets_of(emu: Any) -> list[str]:
    return [emu.client_secret, *emu.issued_codes(), *emu.received_verifiers(),
            *emu.issued_tokens()]


def test_login_writes_the_refresh_token_and_a_run_then_works(emu, tmp_path):
    config_path = login_config(emu, tmp_path / "config.json", parallel_tasks=2)
    login = Login("--config", str(config_path))
    page = login.play_browser()
    assert page.status_code == 200 and b"Logged in" in page.content
    code, out, err = login.finish()
    assert code == 0, err
    assert out == ""
    assert "Wrote refresh_token to" in err
    written = json.loads(config_path.read_text())
    assert written["refresh_token"] == emu.refresh_token
    assert written["parallel_tasks"] == 2 and written["client_id"] == emu.client_id
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    # The verifier went to the token endpoint; the code was single-use and spent.
    assert len(emu.received_verifiers()) == 1 and len(emu.issued_codes()) == 1
    for secret in [*secrets_of(emu), emu.refresh_token]:
        assert secret not in out + err
    # The written config is a working one.
    config = base_config(emu)
    config.pop("refresh_token")
    run_config = {**json.loads(config_path.read_text()), **config,
                  "refresh_token": written["refresh_token"]}
    # The login is the process under test; the run (in this process) only uses its file.
    messages = stream_of("prospects", [{"email": "l@example.com"}])
    result = run_cli_inprocess(run_config, messages, tmp_path)
    assert result.exit_code == 0, result.stderr[-2000:]


def test_login_creates_the_config_file_and_reads_the_secret_from_the_environment(emu, tmp_path):
    config_path = tmp_path / "new" / "config.json"
    config_path.parent.mkdir()
    login = Login("--config", str(config_path), "--client-id", emu.client_id,
                  "--login-url", emu.url, env={"TARGET_PARDOT_CLIENT_SECRET": emu.client_secret})
    login.play_browser()
    code, out, err = login.finish()
    assert code == 0, err
    assert json.loads(config_path.read_text()) == {
        "refresh_token": emu.refresh_token, "auth_flow": "refresh_token"}
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    for secret in secrets_of(emu):
        assert secret not in out + err


def test_print_puts_only_the_refresh_token_on_stdout(emu, tmp_path):
    config_path = login_config(emu, tmp_path / "config.json")
    before = config_path.read_text()
    login = Login("--config", str(config_path), "--print")
    login.play_browser()
    code, out, err = login.finish()
    assert code == 0, err
    assert out == emu.refresh_token + "\n"
    assert config_path.read_text() == before, "--print writes nothing"
    for secret in secrets_of(emu):
        assert secret not in out + err


def test_without_a_config_file_the_settings_come_from_the_environment(emu):
    """As `meltano invoke target-pardot:login` runs it: Meltano passes the loader's settings
    as TARGET_PARDOT_* variables and the Hub file's command adds --print."""
    login = Login("--print", env={"TARGET_PARDOT_CLIENT_ID": emu.client_id,
                                  "TARGET_PARDOT_CLIENT_SECRET": emu.client_secret,
                                  "TARGET_PARDOT_LOGIN_URL": emu.url,
                                  "TARGET_PARDOT_SANDBOX": "false"})
    page = login.play_browser()
    assert b"Logged in" in page.content
    code, out, err = login.finish()
    assert code == 0, err
    assert out == emu.refresh_token + "\n"
    for secret in secrets_of(emu):
        assert secret not in out + err


def test_a_denial_is_one_line(emu, tmp_path):
    emu.configure(authorize_outcome="deny")
    login = Login("--config", str(login_config(emu, tmp_path / "c.json")))
    page = login.play_browser()
    assert b"Login failed" in page.content
    code, out, err = login.finish()
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("target-pardot-login:")]
    assert len(lines) == 1 and "access denied" in lines[0]
    assert "Traceback" not in err and out == ""
    assert "refresh_token" not in json.loads((tmp_path / "c.json").read_text())


def test_a_wrong_client_secret_is_one_line_without_the_secret(emu, tmp_path):
    wrong = "not-the-secret-0123456789"
    login = Login("--config", str(login_config(emu, tmp_path / "c.json", client_secret=wrong)))
    page = login.play_browser()
    # The code exchange failed: the page must not claim a login.
    assert b"Logged in" not in page.content and b"Login failed" in page.content
    code, out, err = login.finish()
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("target-pardot-login:")]
    assert len(lines) == 1
    assert "invalid_client" in lines[0] and "'client_secret'" in lines[0]
    for secret in [wrong, *secrets_of(emu)]:
        assert secret not in out + err
    assert "Traceback" not in err


def test_no_redirect_times_out_cleanly(emu, tmp_path):
    port = free_port()
    proc = subprocess.run(
        [str(BIN / "target-pardot-login"), "--no-browser", "--timeout", "0.5",
         "--redirect-uri", f"http://localhost:{port}/callback",
         "--config", str(login_config(emu, tmp_path / "c.json"))],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1].startswith("target-pardot-login: No redirect")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_configuration_mistakes_are_one_line(emu, tmp_path):
    cases = [
        ([], "Give --config FILE"),
        (["--config", str(tmp_path / "none.json")], "--client-id"),
        (["--print", "--client-id", "x", "--redirect-uri", "https://example.com/cb"],
         "--redirect-uri"),
        (["--print", "--client-id", "x", "--login-url", "http://example.com"], "'login_url'"),
    ]
    for args, needle in cases:
        proc = subprocess.run([str(BIN / "target-pardot-login"), "--no-browser", *args],
                              capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, args
