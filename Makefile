# Everything installs into .venv from the package registries; nothing else is needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint demo bench bench-smoke clean e2e dist wheel-check hub soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv (from PyPI, into the venv) installs the package and its test extras in seconds where
# pip takes about a minute (the same versions as pip). pip does it if uv cannot be had.
# --compile-bytecode, as pip does: without .pyc files every target process the tests
# start compiles the SDK again (1.5 s of CPU each instead of 0.5 s, where
# PYTHONDONTWRITEBYTECODE is set).
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	($(PIP) uv && $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python \
		-e '.[test]') || $(PIP) -e '.[test]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check target_pardot pardot_emulator tests scripts examples $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/lint-imports

# -n auto: two pytest workers per core (pytest-xdist, tests/conftest.py); most tests wait
# on sockets and child processes, so the workers overlap that waiting. --dist worksteal: a worker that
# runs out of tests takes half of another's, so the run ends when the work does (the
# slow-marked tests go first: tests/conftest.py). Add -n 0 to run in one process.
# The lint runs beside the tests for the same reason; its output follows theirs, and
# either failing fails `make test`.
test: install
	@$(MAKE) --no-print-directory lint > $(VENV)/lint.log 2>&1 & lint=$$!; \
	$(BIN)/pytest -n auto --dist worksteal; tests=$$?; \
	wait $$lint; linted=$$?; cat $(VENV)/lint.log; \
	test $$tests -eq 0 && test $$linted -eq 0

# sdist and wheel in dist/ (hatchling from .venv, so no download at build time).
dist: install
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .

# The wheel installed into a fresh .venv-wheel (not editable): --about, the emulator's
# --help and the demo pipeline, run from that install.
wheel-check: dist
	$(BIN)/python scripts/check_wheel.py

# hub/target-pardot.yml, the Meltano Hub definition, from `target-pardot --about`.
hub: install
	$(BIN)/python scripts/hub_definition.py

# The wheel check, then PostgreSQL (apt), Meltano, tap-postgres and tap-pardot (PyPI),
# target-pardot from the wheel.
e2e: install
	bash tests/e2e/run.sh

demo: install
	$(BIN)/python scripts/demo.py

# The simulation over SEEDS seeds (tests/simulation/README.md): prints the steps, rows,
# faults and restarts it covered, and every failing seed with its replay command.
SEEDS ?= 100
soak: install
	$(BIN)/python -m tests.simulation --seeds $(SEEDS)

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .venv-e2e .venv-tap-pardot .venv-wheel dist .demo .bench .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
