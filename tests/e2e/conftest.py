"""Session fixtures of the end-to-end tests: one PostgreSQL, one emulator, one Meltano project.

Run them with `make e2e` (tests/e2e/run.sh), which installs PostgreSQL and Meltano first.
`make test` deselects them (the `e2e` marker; see pyproject.toml).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.meltano_project import MeltanoProject, the_wheel, wheel_files
from tests.e2e.services import EmulatorProcess, Postgres, timed

TIMINGS: list[str] = []


@pytest.fixture(scope="session")
def timings() -> list[str]:
    return TIMINGS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("end-to-end timings")
        for line in TIMINGS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with timed("start PostgreSQL", TIMINGS):
        server = Postgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    executable = Path(sys.executable).parent / "pardot-emulator"
    process = EmulatorProcess(executable, tmp_path_factory.mktemp("emulator") / "emulator.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def meltano(
    tmp_path_factory: pytest.TempPathFactory, postgres: Postgres, emulator: EmulatorProcess
) -> MeltanoProject:
    # One upsertLatestByEmail call per row, as the assertions count them: without the
    # identity map, which would send known emails by id on later runs and keep its file in
    # the runner's cache directory (tests/integration/test_identity_map.py covers it).
    config = emulator.target_config(upsert_by_email=True, identity_map=False, parallel_tasks=5)
    client_secret = str(config.pop("client_secret"))
    tap_config = postgres.tap_config()
    project = MeltanoProject(
        tmp_path_factory.mktemp("meltano") / "project",
        tap_config=tap_config,
        target_config={k: v for k, v in config.items() if k != "refresh_token"},
        # Secrets stay out of meltano.yml: the environment (<PLUGIN>_<SETTING>) for two...
        secrets={
            "TARGET_PARDOT_REFRESH_TOKEN": str(config["refresh_token"]),
            "TAP_POSTGRES_PASSWORD": tap_config.pop("password"),
        },
    )
    with timed("meltano add --from-ref (target-pardot from the wheel), install tap-postgres",
               TIMINGS):
        project.install()
    # Installed from the wheel in dist/ (every file, by hash), with the Hub file's pip_url.
    assert project.installed_files() == wheel_files(the_wheel())
    # ...and `meltano config set` for the third, which stores a sensitive setting in .env.
    project("config", "set", "target-pardot", "client_secret", client_secret)
    assert client_secret not in (project.root / "meltano.yml").read_text()
    assert client_secret in (project.root / ".env").read_text()
    project.secret_values.append(client_secret)
    return project
