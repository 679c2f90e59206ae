# Everything installs into .venv from the package registries; nothing else is needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint demo bench bench-smoke clean e2e

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check target_pardot pardot_emulator tests scripts examples $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install lint
	$(BIN)/pytest

# PostgreSQL (apt), Meltano and tap-postgres (PyPI), target-pardot from this checkout.
e2e: install
	bash tests/e2e/run.sh

demo: install
	$(BIN)/python scripts/demo.py

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .venv-e2e .demo .bench .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
