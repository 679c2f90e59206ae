"""target-pardot-login against callers that misbehave, as real processes: a connection to
the callback port that sends nothing, and a config file it could not write."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest
import requests

from tests.helpers import BIN
from tests.integration.test_login import Login, free_port, login_config, secrets_of


def test_a_silent_connection_does_not_hold_the_timeout(emu, tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "target-pardot-login"), "--no-browser", "--timeout", "1.5",
         "--redirect-uri", f"http://localhost:{port}/callback",
         "--config", str(login_config(emu, tmp_path / "c.json"))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    proc.stderr.readline()  # "Open this URL ...": the server listens
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)):  # connects, sends nothing
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError("target-pardot-login waited past --timeout") from None
    assert time.monotonic() - started < 5
    assert proc.returncode == 1
    assert err.splitlines()[-1].startswith("target-pardot-login: No redirect")
    assert "Traceback" not in err and out == ""


def test_a_silent_connection_does_not_stop_the_real_redirect(emu, tmp_path):
    config_path = login_config(emu, tmp_path / "config.json")
    login = Login("--config", str(config_path))
    url = login.authorize_url()
    with socket.create_connection(("127.0.0.1", login.port)):
        time.sleep(0.2)  # the silent connection is accepted first
        at_salesforce = requests.get(url, allow_redirects=False, timeout=10)
        page = requests.get(at_salesforce.headers["Location"], timeout=10)
        assert page.status_code == 200 and b"Logged in" in page.content
        code, _, err = login.finish()
    assert code == 0, err
    assert json.loads(config_path.read_text())["refresh_token"] == emu.refresh_token


def test_a_config_in_a_missing_folder_fails_before_the_login(emu, tmp_path):
    config_path = tmp_path / "missing" / "config.json"
    proc = subprocess.run(
        [str(BIN / "target-pardot-login"), "--no-browser", "--timeout", "5",
         "--redirect-uri", f"http://localhost:{free_port()}/callback",
         "--config", str(config_path), "--client-id", emu.client_id, "--login-url", emu.url],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("target-pardot-login:"), proc.stderr
    assert str(config_path.parent) in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert emu.issued_codes() == []  # no browser was sent to log in


def test_a_config_that_cannot_be_written_fails_before_the_login(emu, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    config_path = login_config(emu, folder / "config.json")
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user may write a folder of mode 0500 (root): nothing to test")
        proc = subprocess.run(
            [str(BIN / "target-pardot-login"), "--no-browser", "--timeout", "5",
             "--redirect-uri", f"http://localhost:{free_port()}/callback",
             "--config", str(config_path)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    finally:
        folder.chmod(0o700)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    for secret in secrets_of(emu):
        assert secret not in proc.stderr
