"""A throwaway Meltano project: the real tap-postgres from PyPI, target-pardot from the wheel.

The extractor is declared in full (namespace, pip_url, executable), and the loader is added
by the README's Meltano quick start, its `UV_FIND_LINKS=... meltano add --plugin-type loader
target-pardot --from-ref .../hub/target-pardot.yml` line run as written by bash (with
TARGET_PARDOT set to this checkout), so Meltano never asks Meltano Hub about either: the
tests run with network access to the package registries only, and exercise the file and
the command users use. The definition's pip_url is `target-pardot`; uv (Meltano 4's
installer) finds it in dist/, the wheel `make dist` built, through that UV_FIND_LINKS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.services import REPO, run

#: The tap under test, pinned so that a new release cannot change the test under our feet.
TAP_POSTGRES_PIP_URL = "meltanolabs-tap-postgres==0.10.0"
#: tap-postgres names a stream <schema>-<table>.
CONTACTS_STREAM = "public-contacts"
JOB_STATE_ID = "e2e:tap-postgres-to-target-pardot"


def meltano_executable() -> Path:
    path = Path(os.environ.get("E2E_MELTANO", REPO / ".venv-e2e" / "bin" / "meltano"))
    if not path.exists():
        raise AssertionError(
            f"Meltano not found at {path}: tests/e2e/run.sh installs it into .venv-e2e; run "
            "the end-to-end tests with `make e2e`."
        )
    return path


HUB_FILE = REPO / "hub" / "target-pardot.yml"
DIST = REPO / "dist"
README = REPO / "README.md"


def readme_meltano_commands() -> list[str]:
    """The command lines of the README's Meltano quick start, as written (comments off)."""
    text = README.read_text()
    section = text.split("\n## Quick start: Meltano\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)^```", section, flags=re.M | re.S)
    return [line.split("  #", 1)[0].strip() for block in blocks
            for line in block.splitlines() if line.strip()]  # fmt: skip


def readme_meltano_command(pattern: str) -> str:
    """The one line of the README's Meltano quick start that matches `pattern` (a regular
    expression, from the line's start)."""
    [line] = [c for c in readme_meltano_commands() if re.match(pattern, c)]
    return line


def package_records(record: str) -> set[str]:
    """A wheel RECORD's lines for the packages' own files (with their sha256)."""
    return {line for line in record.splitlines()
            if line.startswith(("target_pardot/", "pardot_emulator/"))
            and "__pycache__" not in line}


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
        return package_records(archive.read(name).decode())


def the_wheel() -> Path:
    wheels = sorted(DIST.glob("target_pardot-*.whl"))
    if len(wheels) != 1:
        raise AssertionError(f"expected one wheel in {DIST}, found {wheels}: `make e2e` "
                             "builds it with `make dist`")
    return wheels[0]


#: The tap's `id` column is the contacts table's primary key, not a Pardot prospect id:
#: sent as is, Pardot would update (or fail to find) prospect 1, 2, 3... So the stream map
#: drops it and keys the stream by email. It cannot be deselected instead: a primary key
#: column is always emitted (inclusion "automatic").
EMAIL_KEYED = {"id": "__NULL__", "__key_properties__": ["email"]}


class MeltanoProject:
    def __init__(
        self,
        root: Path,
        *,
        tap_config: Mapping[str, Any],
        target_config: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> None:
        self.root = root
        self.meltano = meltano_executable()
        root.mkdir(parents=True, exist_ok=True)
        self.target_config = {**target_config, "stream_maps": {CONTACTS_STREAM: EMAIL_KEYED}}
        project = {
            "send_anonymous_usage_stats": False,
            "project_id": "target-pardot-e2e",
            "default_environment": "e2e",
            "environments": [{"name": "e2e"}],
            "plugins": {
                "extractors": [
                    {
                        "name": "tap-postgres",
                        "namespace": "tap_postgres",
                        "pip_url": TAP_POSTGRES_PIP_URL,
                        "executable": "tap-postgres",
                        "capabilities": ["catalog", "discover", "state", "about",
                                         "stream-maps"],
                        "settings": [
                            {"name": "host"},
                            {"name": "port", "kind": "integer"},
                            {"name": "user"},
                            {"name": "password", "kind": "password", "sensitive": True},
                            {"name": "database"},
                            {"name": "filter_schemas", "kind": "array"},
                        ],
                        "config": {**tap_config, "filter_schemas": ["public"]},
                        "select": [f"{CONTACTS_STREAM}.*"],
                        "metadata": {
                            CONTACTS_STREAM: {
                                "replication-method": "INCREMENTAL",
                                "replication-key": "updated_at",
                            }
                        },
                    }
                ],
            },
        }  # fmt: skip
        (root / "meltano.yml").write_text(yaml.safe_dump(project, sort_keys=False))
        self.env = {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1",
                    # The README's commands name this checkout so; they set UV_FIND_LINKS.
                    "TARGET_PARDOT": str(REPO),
                    "PATH": f"{self.meltano.parent}{os.pathsep}{os.environ.get('PATH', '')}",
                    **secrets}  # fmt: skip
        #: Values that must never appear in any output.
        self.secret_values: list[str] = list(secrets.values())

    def __call__(self, *args: str, timeout: float = 600,
                 env: Mapping[str, str] | None = None) -> str:
        """Run `meltano <args>` in the project; return its combined output."""
        completed = run([str(self.meltano), *args], env={**self.env, **(env or {})},
                        cwd=self.root, timeout=timeout)  # fmt: skip
        return completed.stdout + completed.stderr

    def shell(self, command: str, *, env: Mapping[str, str] | None = None,
              timeout: float = 600) -> str:
        """Run one shell command line (a README line, as written) in the project."""
        completed = run(["bash", "-c", command], env={**self.env, **(env or {})},
                        cwd=self.root, timeout=timeout)  # fmt: skip
        return completed.stdout + completed.stderr

    def invoke_with_input(self, plugin: str, text: str, *,
                          env: Mapping[str, str] | None = None) -> str:
        """`meltano invoke <plugin>` with ``text`` on its stdin; its combined output."""
        completed = run([str(self.meltano), "invoke", plugin], env={**self.env, **(env or {})},
                        cwd=self.root, input_text=text)  # fmt: skip
        return completed.stdout + completed.stderr

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """`meltano <args>` running in the background, its stdout and stderr piped."""
        return subprocess.Popen([str(self.meltano), *args], cwd=self.root, text=True,
                                env={**os.environ, **self.env}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)  # fmt: skip

    def install(self) -> None:
        """The loader as the README adds it, with its config; then the extractor."""
        # Every build is version 0.1.0: uv would install a cached older one (it has no
        # environment variable for --refresh-package), so this install skips its cache.
        self.shell(readme_meltano_command(r".*\bmeltano add "), env={"UV_NO_CACHE": "1"})
        path = self.root / "meltano.yml"
        project = yaml.safe_load(path.read_text())
        [loader] = [p for p in project["plugins"]["loaders"] if p["name"] == "target-pardot"]
        loader["config"] = self.target_config
        path.write_text(yaml.safe_dump(project, sort_keys=False))
        self("install", "extractor", "tap-postgres")

    def installed_files(self) -> set[str]:
        """The RECORD lines (path, hash) of the package files in the loader's virtualenv."""
        python = self.root / ".meltano" / "loaders" / "target-pardot" / "venv" / "bin" / "python"
        completed = run([str(python), "-c", "import importlib.metadata as m; "
                         "print(m.distribution('target-pardot').read_text('RECORD'))"])
        return package_records(completed.stdout)

    def state(self) -> dict[str, Any]:
        text = self("state", "get", JOB_STATE_ID)
        start = text.index("{")
        return dict(json.loads(text[start : text.rindex("}") + 1]))

    def plugin_bin(self, kind: str, name: str) -> Path:
        """The executable Meltano installed in the plugin's own virtualenv."""
        return self.root / ".meltano" / kind / name / "venv" / "bin" / name
