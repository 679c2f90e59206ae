"""A decimal reaches Pardot as the digits the tap sent, on every path: v3 and v4 batches,
v5 upserts and imports. The requests are recorded as they reach the emulator's server,
before it reads them (the emulator itself keeps numbers as floats)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote_plus

import pytest

from tests.helpers import base_config, schema_message, to_lines

DIGITS = "123456789.0123456789"
SCHEMA = {"type": "object", "properties": {
    "id": {"type": ["integer", "null"]},
    "email": {"type": ["string", "null"]},
    "Amount": {"type": ["number", "null"]},
}}  # fmt: skip


def record_line(email: str, number: str = DIGITS) -> str:
    """Written by hand: json.dumps of a float would already have lost digits."""
    record = '{"email":"' + email + '","Amount":' + number + "}"
    return '{"type":"RECORD","stream":"prospects","record":' + record + "}"


@pytest.fixture
def bodies(emu, monkeypatch, quick_import_polls) -> Iterator[list[str]]:
    """The text of every request body the target sent (forms decoded)."""
    log: list[str] = []
    dispatch = emu.app.dispatch

    def recording(req):
        text = req.body.decode("utf-8", "replace")
        log.append(unquote_plus(text) if "urlencoded" in req.content_type else text)
        return dispatch(req)

    monkeypatch.setattr(emu.app, "dispatch", recording)
    yield log


PATHS = {
    "v4 batch": {},
    "v3 batch": {"api_version": "3"},
    "v5 upsert": {"upsert_by_email": True},
    "import": {"prospect_operation": "import", "default_campaign_id": 7},
}


@pytest.mark.parametrize("settings", list(PATHS.values()), ids=list(PATHS))
def test_a_decimal_goes_out_with_every_digit(emu, run, bodies, settings):
    if settings.get("api_version") == "3":
        emu.configure(ampsea=False)
    lines = [to_lines([schema_message("prospects", SCHEMA)]), record_line("d@example.com"),
             record_line("e@example.com", "0.1"), record_line("f@example.com", "2.50")]
    result = run(base_config(emu, **settings), ["".join(lines[:1]).rstrip("\n"), *lines[1:]])
    assert result.exit_code == 0, result.stderr[-3000:]
    sent = "\n".join(bodies)
    assert DIGITS in sent
    assert "123456789.01234567" + "," not in sent and "123456789.01234567}" not in sent
    assert "0.1" in sent and "2.50" in sent
