"""Round trip through a reader nobody here wrote: target-pardot writes, tap-pardot reads.

target-pardot (installed by Meltano from the wheel) loads 400 prospects with a list flag,
then list memberships, into the emulator; the real tap-pardot from PyPI then runs
--discover and a sync of prospects, lists and list_memberships against the same emulator.
Every prospect, its standard field values and every membership must come back exactly.

What tap-pardot 1.4.9 cannot express, and how the writes are laid out for it (each one
read in its tap_pardot/streams.py):
- Custom fields: its prospects schema is a fixed file (schemas/prospects.json) and
  singer-python's Transformer drops every property the schema does not name, so
  `favorite_color` never reaches its output. The test checks it was written (in the
  emulator) and is absent from the tap's records: an explicit exclusion, not a loss.
- It pages prospects by `updated_after` = the last record's `updated_at`, strictly
  after, 200 per page, and Pardot's timestamps have one-second precision: a page that
  ends inside a second skips the rest of that second. So the writes are stamped (the
  emulator's frozen_time) in groups of exactly 200 prospects per second.
- It keeps one `id` bookmark across all lists while paging list memberships by
  `id_greater_than`, so a list's memberships with ids below the previous list's last
  one are skipped. So each list's memberships are written after the previous list's.
With real Pardot the same layouts are needed for tap-pardot to read everything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.meltano_project import MeltanoProject
from tests.e2e.services import EmulatorProcess, run, timed
from tests.e2e.tap_pardot_runner import TapPardot, select_streams

pytestmark = pytest.mark.e2e

PROSPECTS = 400
PER_SECOND = 200  # one tap-pardot page
OPTED_OUT = 20
START_DATE = "2024-01-01 00:00:00"
STANDARD = ("email", "first_name", "last_name", "company", "job_title", "city", "country",
            "phone", "website", "industry")
#: A custom field of the emulated account, by its v4 API name (field_id); the emulator
#: keeps its values under the v5 name, field_id + "__c".
CUSTOM = "favorite_color"
CUSTOM_V5 = "favorite_color__c"


def moment(second: int) -> str:
    return f"2024-06-01 12:00:{second:02d}"


def prospect_row(i: int) -> dict[str, Any]:
    return {
        "email": f"reader{i:04d}@example.com", "first_name": f"Ann{i}", "last_name": f"Lee{i}",
        "company": f"Company {i % 17}", "job_title": "Data engineer" if i % 2 else "Analyst",
        "city": "Lyon" if i % 3 else "Zürich", "country": "France", "phone": f"+33 1 {i:04d}",
        "website": f"https://example.com/{i}", "industry": "Software",
        CUSTOM: ["green", "blue", "red"][i % 3],
    }  # fmt: skip


def singer_lines(stream: str, rows: list[dict[str, Any]], key: list[str]) -> str:
    properties = {name: {"type": ["string", "integer", "boolean", "null"]}
                  for row in rows for name in row}
    lines = [{"type": "SCHEMA", "stream": stream, "key_properties": key,
              "schema": {"type": "object", "properties": properties}}]
    lines += [{"type": "RECORD", "stream": stream, "record": row} for row in rows]
    return "".join(json.dumps(line) + "\n" for line in lines)


def load(target: Path, config: dict[str, Any], singer: str, workdir: Path, name: str) -> None:
    config_path = workdir / f"{name}.json"
    config_path.write_text(json.dumps(config))
    run([str(target), "--config", str(config_path)], input_text=singer)


def create_list(emulator: EmulatorProcess, name: str, title: str) -> int:
    reply = emulator.pardot("/api/list/version/4/do/create", {"name": name, "title": title})
    return int(reply["list"]["id"])


def as_tap_time(stored: str) -> str:
    """The emulator's stored stamp (ISO 8601, UTC, milliseconds) as tap-pardot writes it:
    Pardot's whole second, which singer-python turns into RFC 3339 UTC (the emulator's
    time zone is UTC here)."""
    return stored[:19] + ".000000Z"


@pytest.fixture
def round_trip_emulator(emulator: EmulatorProcess) -> Any:
    emulator.reset()
    emulator.configure(lists=[], frozen_time=moment(0))
    try:
        yield emulator
    finally:
        emulator.configure(lists="1-1000", frozen_time=None)
        emulator.reset()


def test_tap_pardot_reads_back_every_prospect_and_membership(
    meltano: MeltanoProject, round_trip_emulator: EmulatorProcess, tmp_path: Path,
    timings: list[str],
) -> None:
    emulator = round_trip_emulator
    target = meltano.plugin_bin("loaders", "target-pardot")
    newsletter = create_list(emulator, "Newsletter", "Monthly newsletter")
    webinar = create_list(emulator, "Webinar", "June webinar")
    customers = create_list(emulator, "Customers", "Customers")
    base = emulator.target_config(parallel_tasks=5)

    # 1. Prospects, each with the newsletter list flag, 200 per second.
    rows = [prospect_row(i) for i in range(PROSPECTS)]
    with timed(f"target-pardot: {PROSPECTS} prospects with a list flag", timings):
        for start in range(0, PROSPECTS, PER_SECOND):
            emulator.configure(frozen_time=moment(1 + start // PER_SECOND))
            load(target, {**base, "prospect_lists": [newsletter]},
                 singer_lines("prospects", rows[start:start + PER_SECOND], ["email"]),
                 tmp_path, f"prospects-{start}")
    state = emulator.state()
    ids = {p["email"]: p["id"] for p in state["prospects"]}
    assert len(ids) == PROSPECTS
    assert {p[CUSTOM_V5] for p in state["prospects"]} == {"green", "blue", "red"}

    # 2. Memberships, one list after the other: the webinar for the first 200 prospects,
    #    customers for the last 200, then 20 of the first ones opted out of customers
    #    (an explicit opted_out column: the per-membership endpoint).
    order = [ids[row["email"]] for row in rows]
    runs = [
        ("webinar", [{"list_id": webinar, "prospect_id": pid} for pid in order[:PER_SECOND]]),
        ("customers", [{"list_id": customers, "prospect_id": pid}
                       for pid in order[PER_SECOND:]]),
        ("opted-out", [{"list_id": customers, "prospect_id": pid, "opted_out": True}
                       for pid in order[:OPTED_OUT]]),
    ]
    with timed("target-pardot: 420 list memberships", timings):
        for second, (name, batch) in enumerate(runs, start=3):
            emulator.configure(frozen_time=moment(second))
            load(target, base, singer_lines("list_memberships", batch, []), tmp_path, name)
    state = emulator.state()
    written = {(m["list_id"], m["prospect_id"], m["opted_out"]) for m in state["memberships"]}
    expected = {(newsletter, pid, False) for pid in order} | {
        (r["list_id"], r["prospect_id"], bool(r.get("opted_out"))) for _, batch in runs
        for r in batch}
    assert written == expected
    assert len(expected) == 2 * PROSPECTS + OPTED_OUT
    # The layout tap-pardot needs (see above): whole pages of prospects per second.
    per_second: dict[str, int] = {}
    for p in state["prospects"]:
        per_second[p["updated_at"]] = per_second.get(p["updated_at"], 0) + 1
    assert all(n % PER_SECOND == 0 for n in per_second.values()), per_second
    updated_at = {p["id"]: p["updated_at"] for p in state["prospects"]}

    # 3. tap-pardot: discover, then sync prospects, lists and list memberships.
    tap = TapPardot(emulator, tmp_path, START_DATE)
    calls_before = emulator.state()["counters"]["calls_total"]
    with timed("tap-pardot --discover and sync", timings):
        catalog = tap.discover()
        streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
        assert {"prospects", "lists", "list_memberships"} <= set(streams)
        # prospectAccount/do/describe fed the dynamic prospect_accounts schema
        assert "name" in streams["prospect_accounts"]["schema"]["properties"]
        read = tap.sync(select_streams(catalog, ["prospects", "lists", "list_memberships"]))
    counters = emulator.state()["counters"]
    assert counters["calls_total"] > calls_before

    # Every prospect, with every standard field as written; the custom field excluded.
    by_email = {p["email"]: p for p in read["prospects"]}
    assert len(read["prospects"]) == PROSPECTS
    for row in rows:
        got = by_email[row["email"]]
        assert {k: got[k] for k in STANDARD} == {k: row[k] for k in STANDARD}
        assert got["id"] == ids[row["email"]]
        assert got["score"] == 0
        # tap-pardot's fixed schema cannot carry custom fields, by either name
        assert CUSTOM not in got
        assert CUSTOM_V5 not in got
        assert got["updated_at"] == as_tap_time(updated_at[got["id"]])

    # Every list, and every membership with its opt-out flag.
    assert {(lst["id"], lst["name"], lst["title"]) for lst in read["lists"]} == {
        (newsletter, "Newsletter", "Monthly newsletter"), (webinar, "Webinar", "June webinar"),
        (customers, "Customers", "Customers")}
    memberships = {(m["list_id"], m["prospect_id"], bool(m["opted_out"]))
                   for m in read["list_memberships"]}
    assert len(read["list_memberships"]) == len(expected)
    assert memberships == expected
