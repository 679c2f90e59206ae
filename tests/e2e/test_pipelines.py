"""Real pipelines into the emulator: `meltano run tap-postgres target-pardot`, and a shell pipe.

PostgreSQL, the tap (meltanolabs-tap-postgres from PyPI), Meltano and target-pardot (built
from this checkout) are all the real thing; only Pardot is the emulator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.meltano_project import CONTACTS_STREAM, MeltanoProject, readme_meltano_command
from tests.e2e.services import EmulatorProcess, Postgres, run, timed

pytestmark = pytest.mark.e2e

FIRST_LOAD = 3_000
NEW_ROWS = 250
CHANGED_ROWS = 10
V5_UPSERT = "prospect/upsertLatestByEmail"

CREATE_CONTACTS = """
CREATE TABLE {table} (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    first_name text,
    last_name text,
    company text,
    updated_at timestamptz NOT NULL
);
"""


def insert_contacts(postgres: Postgres, table: str, first: int, count: int) -> None:
    """Rows first..first+count-1, one second apart, so every replication key is distinct."""
    postgres.psql(f"""
        INSERT INTO {table} (email, first_name, last_name, company, updated_at)
        SELECT format('contact%s@example.com', g), format('First%s', g), format('Last%s', g),
               format('Company %s', g % 40),
               timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
        FROM generate_series({first}, {first + count - 1}) AS g;
    """)


def table_rows(postgres: Postgres, table: str) -> dict[str, tuple[str, str, str]]:
    text = postgres.psql(
        f"SELECT email, first_name, last_name, company FROM {table} ORDER BY id", database=None
    )
    rows = [line.split("|") for line in text.splitlines()]
    return {email: (first, last, company) for email, first, last, company in rows}


def at_or_after(postgres: Postgres, bookmark: str) -> int:
    """Rows the tap selects again on the next run: replication key >= the bookmark."""
    return int(postgres.psql(
        f"SELECT count(*) FROM contacts WHERE updated_at >= '{bookmark}'::timestamptz"
    ))  # fmt: skip


def emulator_rows(state: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    prospects = [p for p in state["prospects"] if not p["deleted"]]
    emails = [p["email"] for p in prospects]
    assert len(emails) == len(set(emails)), "a prospect was created twice"
    return {p["email"]: (p["first_name"], p["last_name"], p["company"]) for p in prospects}


def v5_calls(state: dict[str, Any]) -> int:
    return int(state["counters"]["calls_by_endpoint"].get(V5_UPSERT, 0))


def created_updated(state: dict[str, Any]) -> tuple[int, int]:
    """Rows the emulator created and updated since its last reset."""
    return int(state["counters"]["rows_created"]), int(state["counters"]["rows_updated"])


def test_meltano_run_loads_every_row_then_only_new_ones(
    meltano: MeltanoProject, postgres: Postgres, emulator: EmulatorProcess, timings: list[str]
) -> None:
    postgres.psql(CREATE_CONTACTS.format(table="contacts"))
    insert_contacts(postgres, "contacts", 1, FIRST_LOAD)
    emulator.reset()

    # The README's dry run, as written: every row read, nothing written, no bookmark kept
    # (the first load below must then send every row).
    dry_run = readme_meltano_command(r"TARGET_PARDOT_DRY_RUN=true meltano run ")
    with timed(f"README's dry run, {FIRST_LOAD} rows", timings):
        output = meltano.shell(dry_run)
    assert "Dry run" in output and emulator.state()["prospects"] == []
    assert f"dry run, would call {V5_UPSERT}" in output

    # The README's run line is this one.
    assert readme_meltano_command(r"meltano run ") == "meltano run tap-postgres target-pardot"
    with timed(f"meltano run, first load of {FIRST_LOAD} rows", timings):
        output = meltano("run", "tap-postgres", "target-pardot")
    state = emulator.state()
    assert emulator_rows(state) == table_rows(postgres, "contacts")
    assert v5_calls(state) == FIRST_LOAD
    assert created_updated(state) == (FIRST_LOAD, 0)
    assert "run summary:" in output, "the target's run summary reaches Meltano's log"
    assert not [secret for secret in meltano.secret_values if secret in output]
    bookmark = meltano.state()["singer_state"]["bookmarks"][CONTACTS_STREAM]
    assert bookmark["replication_key"] == "updated_at"
    assert bookmark["replication_key_value"].startswith("2024-01-01T00:50:00")

    # Second run: new rows, and a few changed ones (their replication key moves forward).
    # The SDK's SQL taps select `updated_at >= bookmark`, so the rows holding the previous
    # bookmark come again: upsertLatestByEmail updates them, it creates no duplicate.
    resent = at_or_after(postgres, bookmark["replication_key_value"])
    insert_contacts(postgres, "contacts", FIRST_LOAD + 1, NEW_ROWS)
    postgres.psql(f"""
        UPDATE contacts SET last_name = 'Changed', updated_at = now()
        WHERE id <= {CHANGED_ROWS};
    """)
    calls_before, (created, updated) = v5_calls(state), created_updated(state)
    with timed(f"meltano run, incremental ({NEW_ROWS} new, {CHANGED_ROWS} changed)", timings):
        meltano("run", "tap-postgres", "target-pardot")
    state = emulator.state()
    assert emulator_rows(state) == table_rows(postgres, "contacts")
    assert resent == 1
    assert v5_calls(state) - calls_before == NEW_ROWS + CHANGED_ROWS + resent
    assert created_updated(state) == (created + NEW_ROWS, updated + CHANGED_ROWS + resent)

    # Nothing new: only the rows at the bookmark (the changed rows share one now()) again.
    bookmark = meltano.state()["singer_state"]["bookmarks"][CONTACTS_STREAM]
    resent = at_or_after(postgres, bookmark["replication_key_value"])
    assert resent == CHANGED_ROWS
    calls_before = v5_calls(state)
    meltano("run", "tap-postgres", "target-pardot")
    state = emulator.state()
    assert v5_calls(state) - calls_before == resent
    assert emulator_rows(state) == table_rows(postgres, "contacts")


def test_shell_pipe_from_the_taps_own_cli(
    meltano: MeltanoProject,
    postgres: Postgres,
    emulator: EmulatorProcess,
    tmp_path: Any,
    timings: list[str],
) -> None:
    """`tap-postgres --config tap.json --catalog catalog.json | target-pardot --config
    config.json > state.json`, the tap's catalog made by its own --discover."""
    postgres.psql("CREATE SCHEMA pipe;" + CREATE_CONTACTS.format(table="pipe.people"))
    insert_contacts(postgres, "pipe.people", 1, 1_200)
    emulator.reset()
    tap_json = tmp_path / "tap.json"
    tap_json.write_text(json.dumps(postgres.tap_config(filter_schemas=["pipe"])))
    tap = meltano.plugin_bin("extractors", "tap-postgres")
    catalog = json.loads(run([str(tap), "--config", str(tap_json), "--discover"]).stdout)
    # tap-postgres selects no stream by default: select the table's stream as a whole.
    [stream] = [s for s in catalog["streams"] if s["tap_stream_id"] == "pipe-people"]
    [table] = [m for m in stream["metadata"] if m["breadcrumb"] == []]
    table["metadata"]["selected"] = True
    catalog_json = tmp_path / "catalog.json"
    catalog_json.write_text(json.dumps({"streams": [stream]}))
    config_json = tmp_path / "config.json"
    config_json.write_text(json.dumps(emulator.target_config(
        parallel_tasks=5,
        upsert_by_email=False,  # the batch path, counted below
        # The same pitfall as in Meltano: drop the table's own `id`, key the rows by email.
        stream_maps={"pipe-people": {"id": "__NULL__", "__key_properties__": ["email"]}},
    )))  # fmt: skip
    target = meltano.plugin_bin("loaders", "target-pardot")
    state_json = tmp_path / "state.json"
    with timed("shell pipe, 1200 rows", timings):
        completed = run([
            "bash", "-o", "pipefail", "-c",
            f'"{tap}" --config "{tap_json}" --catalog "{catalog_json}" '
            f'| "{target}" --config "{config_json}" > "{state_json}"',
        ])  # fmt: skip
    loaded = emulator_rows(emulator.state())
    assert loaded == table_rows(postgres, "pipe.people"), completed.stderr[-5000:]
    # v4 batches (upsert_by_email: false): 50 rows per call.
    calls = emulator.state()["counters"]["calls_by_endpoint"]
    assert calls.get("prospect/batchUpsert") == 1_200 // 50
    assert V5_UPSERT not in calls
    # stdout carries Singer STATE only; the summary went to stderr.
    states = [json.loads(line) for line in state_json.read_text().splitlines() if line]
    assert states, "the tap's STATE reached stdout"
    assert all("bookmarks" in s for s in states)
    assert "run summary:" in completed.stderr
