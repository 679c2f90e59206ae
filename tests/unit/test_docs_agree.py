"""The docs cannot drift from the program.

The settings table is the one source: the config schema, README's table and meltano.yml
agree with it. The README and docs/ name only options the commands have, settings that
exist, `make` targets and Meltano commands that exist, the program's exit codes, and links
that lead somewhere; the shell quick start runs as written against the emulator, and the
run-summary and rejected-row examples are that run's own."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from pardot_emulator import PardotEmulator
from pardot_emulator.config import SPECS
from target_pardot import errors
from target_pardot.settings import Settings
from target_pardot.settings_table import SETTINGS
from target_pardot.target import CONFIG_SCHEMA

ROOT = Path(__file__).resolve().parents[2]


def readme_settings() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([a-z_]+)` \| ([^|]*) \|", section, flags=re.MULTILINE))


def meltano_settings() -> list[dict]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    [loader] = project["plugins"]["loaders"]
    return loader["settings"]


def test_same_settings_everywhere():
    schema = set(CONFIG_SCHEMA["properties"])
    assert set(readme_settings()) == schema
    assert {s["name"] for s in meltano_settings()} == schema


def test_secrets_agree():
    schema_secrets = {n for n, p in CONFIG_SCHEMA["properties"].items() if p.get("secret")}
    assert schema_secrets == {"client_secret", "refresh_token", "private_key"}
    for setting in meltano_settings():
        secret = setting["name"] in schema_secrets
        assert (setting.get("kind") == "password") is secret, setting["name"]
        assert bool(setting.get("sensitive")) is secret, setting["name"]
    for name in schema_secrets:
        assert "secret" in readme_settings()[name]


def test_defaults_agree():
    readme = readme_settings()
    for setting in meltano_settings():
        default = CONFIG_SCHEMA["properties"][setting["name"]].get("default")
        if default is None:
            continue
        assert setting.get("value") == default, setting["name"]
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        assert readme[setting["name"]].startswith(f"`{shown}`"), setting["name"]


def test_meltano_yml_uses_no_decimal_kind():
    """Meltano 4.4 fails on a `decimal` setting given through the environment."""
    assert [s["name"] for s in meltano_settings() if s.get("kind") == "decimal"] == []


def test_readme_and_meltano_yml_are_made_from_the_settings_table():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_docs.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_every_setting_in_the_table_is_a_field_of_settings():
    assert {f.name for f in fields(Settings)} == {s.name for s in SETTINGS}


def test_the_schema_carries_the_table():
    for setting in SETTINGS:
        prop = CONFIG_SCHEMA["properties"][setting.name]
        assert prop.get("default") == setting.default, setting.name
        # (a choice that may be given as a number lists the numbers after its values)
        assert prop.get("enum", [])[: len(setting.values)] == list(setting.values), setting.name
        assert prop["description"] == setting.description, setting.name


# -- the README and docs/ against the real program -------------------------------------

DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Settings of the SDK that the docs may name beside the target's own.
SDK_SETTINGS = {"stream_maps", "stream_map_config", "flattening_enabled", "validate_records",
                "batch_size_rows", "flattening_max_depth", "add_record_metadata",
                "load_method", "faker_config"}  # fmt: skip
SETTING_NAMES = set(CONFIG_SCHEMA["properties"]) | SDK_SETTINGS


#: Names in `name: value` form that are a row's columns (stream-map entries, example
#: cells), not settings.
STREAM_MAP_EXAMPLES = {"crm_id", "salesforce_id", "match_email"}
#: The emulator's settings, which the benchmark and emulator pages give values too.
EMULATOR_SETTINGS = {spec.name for spec in SPECS}


def code_blocks(path: Path, language: str = "sh") -> list[str]:
    return re.findall(rf"^ *```{language}\n(.*?)^ *```", path.read_text(), flags=re.M | re.S)


def invocations(program: str) -> list[tuple[str, list[str]]]:
    """(file, arguments) for every run of `program` in a shell block of any doc: at the
    start of a command (after `|`, `&&`, `;`, `$(` and variable assignments), its words up
    to a redirect."""
    found = []
    for path in DOC_FILES:
        for block in code_blocks(path):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #", 1)[0]
                for command in re.split(r"\||&&|;|\$\(", line):
                    words = command.replace(")", " ").split()
                    while words and re.match(r"^[A-Z_]+=", words[0]):
                        words.pop(0)
                    if words and words[0] == program:
                        args = re.split(r"\s[<>]", " " + " ".join(words[1:]), maxsplit=1)[0]
                        found.append((path.name, args.split()))
    return found


def help_options(executable: str) -> set[str]:
    completed = subprocess.run([str(Path(sys.executable).parent / executable), "--help"],
                               capture_output=True, text=True, check=True)  # fmt: skip
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", completed.stdout))


def test_every_documented_command_line_uses_options_the_commands_have():
    for program in ("target-pardot", "target-pardot-login", "pardot-emulator"):
        known = help_options(program)
        runs = invocations(program)
        assert runs, program
        for where, args in runs:
            unknown = {a.split("=")[0] for a in args if a.startswith("--")} - known
            assert not unknown, f"{where}: `{program} {' '.join(args)}` uses {unknown}"


def test_every_documented_make_target_exists():
    targets = set(re.findall(r"^([a-z0-9][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.M))
    for path in DOC_FILES:
        for named in re.findall(r"`make ([a-z0-9][a-z0-9-]*)", path.read_text()):
            assert named in targets, f"{path.name}: make {named}"


def test_meltano_commands_in_the_docs_are_the_hub_files():
    hub = yaml.safe_load((ROOT / "hub" / "target-pardot.yml").read_text())
    for path in DOC_FILES:
        for command in re.findall(r"meltano invoke target-pardot:([a-z_-]+)", path.read_text()):
            assert command in hub["commands"], f"{path.name}: target-pardot:{command}"


def test_setting_names_in_the_docs_are_settings():
    """`TARGET_PARDOT_<NAME>`, `meltano config set target-pardot <name>` and the keys of
    the JSON config examples all name real settings."""
    for path in DOC_FILES:
        text = path.read_text()
        named = {v.lower() for v in re.findall(r"TARGET_PARDOT_([A-Z_]+)", text)}
        named |= set(re.findall(r"meltano config (?:set|unset) target-pardot ([a-z_]+)", text))
        for block in code_blocks(path, "json"):
            data = json.loads(block)
            if "client_id" in data or "business_unit" in data:
                named |= set(data)
        unknown = named - SETTING_NAMES - {"<setting>"}
        assert not unknown, f"{path.name} names settings that do not exist: {unknown}"


def test_settings_given_a_value_in_backticks_are_settings():
    """`name: value` in running text (`upsert_by_email: true`) names a setting."""
    for path in DOC_FILES:
        if path.name in ("wire-contract.md", "emulator.md"):
            continue  # wire fields and the emulator's own settings, not the target's
        text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
        for name in re.findall(r"`([a-z]+(?:_[a-z0-9]+)+): [^`\s]+`", text):
            known = SETTING_NAMES | STREAM_MAP_EXAMPLES | EMULATOR_SETTINGS
            assert name in known, f"{path.name}: `{name}: ...` is not a setting"


def test_the_exit_codes_in_the_readme_are_the_programs():
    text = (ROOT / "README.md").read_text()
    paragraph = text.split("**Exit codes**:", 1)[1].split("\n\n", 1)[0]
    codes = {int(c) for c in re.findall(r"`(\d+)`", paragraph)}
    codes |= {int(c) for c in re.findall(r"`(\d+)`/`(\d+)`", paragraph) for c in c}
    program = {0, errors.EXIT_FAILURE, errors.EXIT_CONFIG, errors.EXIT_DAILY_LIMIT,
               128 + signal.SIGINT, 128 + signal.SIGTERM}  # fmt: skip
    assert codes == program
    for path in DOC_FILES:
        for code in re.findall(r"exit(?:s| code| codes?) (\d+)", path.read_text()):
            assert int(code) in program, f"{path.name}: exit code {code}"


def test_every_relative_link_leads_to_a_file_and_heading():
    for path in DOC_FILES:
        for target in re.findall(r"\]\(([^)#:]*)(#[^)]*)?\)", path.read_text()):
            file_part, anchor = target
            linked = (path.parent / file_part).resolve() if file_part else path
            assert linked.exists(), f"{path.name}: link to {file_part}"
            if anchor and linked.suffix == ".md":
                assert anchor[1:] in heading_slugs(linked), f"{path.name}: {file_part}{anchor}"


def heading_slugs(path: Path) -> set[str]:
    """GitHub's anchors: lower case, punctuation but - and _ dropped, spaces to -."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    headings = re.findall(r"^#+ (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_the_readme_is_a_short_guide_linking_every_docs_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 450
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in text, page.name
    assert text.startswith("# target-pardot\n\n```sh\nmake demo")
    assert "\nmake test " in text.split("```", 3)[1]


def test_no_paragraph_is_said_twice():
    """Reference material lives in one place: no paragraph of three lines or more appears
    in two files."""
    seen: dict[str, str] = {}
    for path in DOC_FILES:
        for paragraph in re.split(r"\n\s*\n", path.read_text()):
            lines = [ln.strip() for ln in paragraph.strip().splitlines()]
            if len(lines) < 3 or lines[0].startswith(("|", "```")):
                continue
            key = " ".join(lines)
            assert key not in seen, f"said in both {seen[key]} and {path.name}: {lines[0]}"
            seen[key] = path.name


# -- the shell quick start, run as written against the emulator ------------------------


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def section_blocks(section: str, language: str) -> list[str]:
    return [textwrap.dedent(b) for b in
            re.findall(rf"^( *)```{language}\n(.*?)^ *```", section, flags=re.M | re.S)
            for b in [b[1]]]  # fmt: skip


def summary_table(stderr: str) -> dict[str, str]:
    """The run summary's table: label -> value."""
    table = stderr[stderr.rindex("run summary: {"):].split("\n", 1)[1]
    return dict(re.findall(r"^ *(\S.*?)  +(\S.*)$", table, flags=re.M))


#: Lines of the summary whose values depend on the machine or on the account's history.
VARIABLE = {"wall time (s)", "rows/s", "daily API calls used, start",
            "daily API calls used, end"}  # fmt: skip


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Runs the shell quick start's commands, as written, in a directory where config.json
    is the README's example pointed at a fresh emulator (the login step wrote
    refresh_token); returns what they produced."""
    section = readme_section("Quick start: the shell")
    [config_text] = section_blocks(section, "json")
    commands = [line for block in section_blocks(section, "sh") for line in block.splitlines()
                if line.strip() and not line.startswith("target-pardot-login")
                and not line.startswith("tap-")]  # fmt: skip
    work = tmp_path_factory.mktemp("quick-start")
    (work / "examples").symlink_to(ROOT / "examples")
    with PardotEmulator() as emu:
        config = {**json.loads(config_text), "client_id": emu.client_id,
                  "client_secret": emu.client_secret, "refresh_token": emu.refresh_token,
                  "business_unit": emu.business_unit, "login_url": emu.url,
                  "pardot_domain": emu.url}  # fmt: skip
        (work / "config.json").write_text(json.dumps(config))
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
               f"{os.environ['PATH']}", "XDG_CACHE_HOME": str(work / "cache")}  # fmt: skip
        runs = []
        for command in commands:
            calls_before = dict(emu.counters()["calls_by_endpoint"])
            done = subprocess.run(["bash", "-c", command], cwd=work, env=env, timeout=300,
                                  capture_output=True, text=True, check=False)  # fmt: skip
            calls = {k: v - calls_before.get(k, 0)
                     for k, v in emu.counters()["calls_by_endpoint"].items()}
            runs.append({"command": command, "returncode": done.returncode,
                         "stdout": done.stdout, "stderr": done.stderr, "calls": calls})
        return {"work": work, "runs": runs, "prospects": emu.prospects()}


def test_the_shell_quick_start_dry_runs_then_loads(quick_start: dict[str, Any]) -> None:
    runs = quick_start["runs"]
    assert [r["command"].split()[0] for r in runs] == ["echo", "target-pardot",
                                                      "target-pardot"]  # fmt: skip
    for run in runs:
        assert run["returncode"] == 0, run["stderr"][-2000:]
    dry, real = runs[1], runs[2]
    writes = {k for k, n in dry["calls"].items() if n and k not in
              ("oauth/token", "v5/custom-fields/query", "v5/prospects/query")}
    assert writes == set(), "the dry run sent no write call"
    assert dry["stdout"] == "", "a dry run writes no STATE"
    assert real["stdout"] == "" and (quick_start["work"] / "state.jsonl").read_text().strip()
    assert len(quick_start["prospects"]) == int(summary_table(real["stderr"])["rows sent"])


def test_the_run_summary_example_is_a_real_runs(quick_start: dict[str, Any]) -> None:
    """The README's example is the quick start's run: the same lines, the same figures."""
    [example] = section_blocks(readme_section("Run summary"), "text")
    documented = dict(re.findall(r"^ *(\S.*?)  +(\S.*)$", example, flags=re.M))
    real = summary_table(quick_start["runs"][2]["stderr"])
    if "hint" in real and "hint" not in documented:
        # The slow-run hint depends on the machine as the wall time does: on a busy host
        # the calls of this run (half a second on an idle one) can take long enough for
        # it. It may show only as docs/safe-defaults.md says: a saving of at least a
        # second, so after at least 1.25 s of calls.
        hint = real.pop("hint")
        assert hint.startswith("This run spent") and "parallel_tasks: 5" in hint, hint
        assert float(real["wall time (s)"]) >= 1.25, (hint, real["wall time (s)"])
    assert list(documented) == list(real)
    for label, value in documented.items():
        if label not in VARIABLE:
            assert value == real[label], label


def test_the_rejected_row_example_is_a_line_of_the_real_file(quick_start: dict[str, Any]):
    [example] = section_blocks(readme_section("Run summary"), "json")
    lines = (quick_start["work"] / "rejected.jsonl").read_text().splitlines()
    # A run's id and start time are new in every run; every other key must be the file's.
    variable = ("run_id", "run_started_at")
    documented = json.loads(example)
    assert all(documented.get(key) for key in variable), "the example shows the run's keys"
    assert list(documented) in [list(json.loads(line)) for line in lines]
    assert {k: v for k, v in documented.items() if k not in variable} in [
        {k: v for k, v in json.loads(line).items() if k not in variable} for line in lines
    ]
