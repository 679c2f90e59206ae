"""Property-based: whatever JSON values and Singer messages a tap writes, the target never
shows a traceback, never writes non-JSON, and never loses a row before the bad one.

Hypothesis generates hostile values (NaN and Infinity, integers longer than Python parses,
lone surrogates, deep nesting, odd types where objects belong) and hostile messages, then
feeds them to the reader and through the whole record path against the emulator. The
budget is bounded (``max_examples``, no deadline) so that `make test` stays quick; set
HYPOTHESIS_PROFILE=thorough for a longer search.
"""

from __future__ import annotations

import io
import json
import logging
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk.singerlib.exceptions import InvalidInputLine

from pardot_emulator import PardotEmulator
from target_pardot.run.reader import PardotMessageReader
from target_pardot.target import TargetPardot
from tests.helpers import PROSPECT_SCHEMA, base_config, parse_states

settings.register_profile(
    "bounded",
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
settings.register_profile("thorough", max_examples=2000, deadline=None,
                          suppress_health_check=list(HealthCheck))  # fmt: skip
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "bounded"))

# Stands for an integer longer than Python parses (4,300 digits), written into the JSON
# text by _dumps: Hypothesis itself cannot print such an int when it reports a failure.
HUGE = "<an integer of 5000 digits>"
# Text with every code point, lone surrogates included (json.dumps escapes them).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.just(HUGE),
    st.floats(allow_nan=True, allow_infinity=True),
    ANY_TEXT,
    st.sampled_from(["", " ", "1e999999999", "²", "0", "-1", "null@x", "a@b.c"]),
)
HOSTILE_VALUES = st.recursive(
    HOSTILE_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)
COLUMNS = st.sampled_from(
    ["email", "id", "fid", "first_name", "score", "company", "list_id", "prospect_id",
     "opted_out", "is_do_not_email", "custom__c", "_sdc_extracted_at", "Email"]
)  # fmt: skip
RECORDS = st.one_of(st.dictionaries(COLUMNS, HOSTILE_VALUES, max_size=5), HOSTILE_VALUES)
STREAMS = st.sampled_from(["prospects", "list_memberships", "leads", "unknown"])


def _dumps(value: Any) -> str:
    # allow_nan: the tap may write NaN/Infinity; ensure_ascii: lone surrogates as escapes.
    text = json.dumps(value, allow_nan=True, ensure_ascii=True)
    return text.replace(json.dumps(HUGE), "9" * 5000)


def _record(stream: str, record: Any) -> str:
    return _dumps({"type": "RECORD", "stream": stream, "record": record})


def _state(value: Any) -> str:
    return _dumps({"type": "STATE", "value": value})


def _schema(stream: str, properties: Any) -> str:
    schema = {"type": "object", "properties": properties}
    return _dumps({"type": "SCHEMA", "stream": stream, "key_properties": [], "schema": schema})


MESSAGE_KEYS = st.sampled_from(["type", "stream", "record", "value", "schema"])
MESSAGES = st.one_of(
    st.builds(_record, STREAMS, RECORDS),
    st.builds(_state, HOSTILE_VALUES),
    st.builds(_dumps, st.dictionaries(MESSAGE_KEYS, HOSTILE_VALUES, max_size=4)),
    st.builds(_schema, STREAMS, st.dictionaries(COLUMNS, HOSTILE_VALUES, max_size=3)),
    ANY_TEXT,
    st.sampled_from(["[" * 5000, '{"type":"RECORD","record":{"a":' + "9" * 5000 + "}}"]),
)


@given(st.one_of(MESSAGES, HOSTILE_VALUES.map(_dumps)))
def test_the_reader_returns_a_message_or_refuses_the_line(line):
    try:
        message = PardotMessageReader().deserialize_json(line)
    except InvalidInputLine as exc:
        assert str(exc)
    else:
        assert isinstance(message, dict)


@pytest.fixture(scope="module")
def emulator():
    with PardotEmulator() as emu:
        yield emu


def _stream(lines: list[str]) -> str:
    schemas = [
        _dumps({"type": "SCHEMA", "stream": name, "schema": PROSPECT_SCHEMA, "key_properties": []})
        for name in ("prospects", "leads")
    ]
    good = _dumps({"type": "RECORD", "stream": "prospects", "record": {"email": "first@x.com"}})
    state = _dumps({"type": "STATE", "value": {"upto": "first"}})
    return "\n".join([*schemas, good, state, *lines, state.replace("first", "last")]) + "\n"


def _run(emu: PardotEmulator, text: str, *, skip: bool, capsys, caplog) -> tuple[int, str, str]:
    emu.reset()
    capsys.readouterr()
    caplog.clear()
    # Most of a generated stream may be hostile: the share of rejected rows is not what
    # these properties are about (max_rejected_percent has its own tests).
    config = base_config(
        emu, skip_invalid_records=skip, progress_interval_seconds=0, max_rejected_percent=100
    )
    target = TargetPardot(config=config, validate_config=True)
    code = target.run(io.StringIO(text))
    out = capsys.readouterr().out
    return code, out, caplog.text


@given(lines=st.lists(MESSAGES, min_size=1, max_size=6))
def test_with_skipping_every_hostile_stream_loads_the_good_rows(emulator, capsys, caplog,
                                                                 lines):  # fmt: skip
    caplog.set_level(logging.INFO)
    code, out, log = _run(emulator, _stream(lines), skip=True, capsys=capsys, caplog=caplog)
    assert "Traceback" not in log
    assert "Unexpected" not in log, log[-2000:]
    assert code == 0, log[-3000:]
    states = parse_states(out)  # strict: every stdout line is JSON
    assert states[-1] == {"upto": "last"}
    assert "first@x.com" in {p.get("email") for p in emulator.prospects()}


@given(lines=st.lists(MESSAGES, min_size=1, max_size=6))
def test_without_skipping_a_hostile_stream_stops_cleanly_after_the_good_rows(
    emulator, capsys, caplog, lines
):
    caplog.set_level(logging.INFO)
    code, out, log = _run(emulator, _stream(lines), skip=False, capsys=capsys, caplog=caplog)
    assert "Traceback" not in log
    assert "Unexpected" not in log, log[-2000:]
    assert code in (0, 1), log[-3000:]
    states = parse_states(out)  # strict: every stdout line is JSON
    assert "first@x.com" in {p.get("email") for p in emulator.prospects()}
    if code == 0:
        assert states[-1] == {"upto": "last"}
    else:
        # Never the STATE after the fault; none at all when Pardot refused a row inside
        # a batch (README, "Invalid and rejected rows").
        assert {"upto": "last"} not in states
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, [r.getMessage()[:200] for r in errors]
        assert caplog.records[-1] is errors[0], "the error is the last line, after the summary"
