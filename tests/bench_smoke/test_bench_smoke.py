"""Every benchmark of `make bench`, at a tiny size, so that none of them can rot.

Timing goals are not checked here (a shared 2-core machine makes any timing assert
flaky); what a benchmark measures that does not depend on timing is: the rows all
arrive, the call counts, the ledger's zero write calls, the import's share of calls.
"""

from __future__ import annotations

import re

import pytest

from bench import suite

pytestmark = pytest.mark.slow

LINE = re.compile(r"^ ?[0-9AIMUP] \S.* goal .+ (PASS|FAIL)$")


def run(name: str) -> suite.Line:
    [benchmark] = [fn for n, fn in suite.BENCHMARKS if n == name]
    line = benchmark(suite.SMOKE)
    assert LINE.match(line.render()), line.render()
    return line


@pytest.mark.parametrize(
    "name", ["ceiling", "v5_ceiling", "own_cost", "end_to_end", "memory", "adaptive"]
)
def test_timed_benchmarks_run_and_print_one_line(name):
    line = run(name)
    assert line.value > 0


def test_calls_are_one_per_fifty_rows():
    line = run("calls")
    assert line.passed
    assert line.value == pytest.approx(200.0)


def test_an_unchanged_rerun_makes_no_write_call():
    line = run("unchanged")
    assert line.figure.startswith("0 write calls")


def test_an_import_costs_a_handful_of_calls():
    line = run("import")
    calls = int(line.figure.split()[0])
    assert calls <= 8, line.figure
    assert "% of v5's" in line.figure


def test_a_mirror_reads_pages_and_writes_one_call_per_fifty():
    line = run("mirror")
    assert line.passed, line.figure
    # 300 members: one page and no more (it is short); 40 adds and 40 removals: 1 + 1 calls.
    assert line.figure.startswith("3 calls (1 reads of 300 members, 2 writes"), line.figure


def test_a_rerun_by_identity_map_costs_a_fiftieth_of_the_writes():
    line = run("identity_map")
    assert line.passed, line.figure
    assert line.figure.endswith("0 wrong)")
    assert line.value <= 0.025


def test_every_benchmark_has_a_smoke_test():
    tested = {"ceiling", "v5_ceiling", "own_cost", "end_to_end", "memory", "adaptive", "calls",
              "unchanged", "import", "v3", "mirror", "identity_map", "audience",
              "planner"}  # fmt: skip
    assert {name for name, _ in suite.BENCHMARKS} == tested


def test_v3_account_lands_every_address_once_within_the_call_bound():
    line = run("v3")
    assert line.passed, line.figure


def test_an_audience_by_email_ends_exact_within_the_call_bound():
    line = run("audience")
    assert line.passed, line.figure


def test_the_planner_never_duplicates_and_loads_first_at_an_imports_cost():
    line = run("planner")
    assert line.figure.endswith("0 dup)"), line.figure
    figures = dict(re.findall(r"(auto|sync|import) ([\d,]+)/", line.figure))
    calls = {op: int(n.replace(",", "")) for op, n in figures.items()}
    # The first load: an import and one page of ids learned, against one call per row.
    assert calls["auto"] <= calls["import"] * 1.2 < calls["sync"], line.figure
