# The two commands of the README: `make demo` and `make test`.
# Each sets up .venv on first use (Python 3 and the package registries are all it needs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := .tools

.PHONY: demo test lint typecheck setup clean bench

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip -q
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[all]' --group dev
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-fund --no-audit --prefix $(TOOLS) azurite@3 >/dev/null || echo "azurite install failed"; \
	else echo "npm not found: Azure Blob tests need Node.js/npm for Azurite"; fi
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m airflow_provider_mathpix.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check airflow_provider_mathpix tests example_dags benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -ra

# Every benchmark, each beside its anchor and floor measured in the same run; writes
# docs/benchmarks.md and docs/img/benchmarks/*.png (see benchmarks/run_all.py for the sizes).
bench: $(STAMP)
	$(BIN)/uv pip install -q --python $(BIN)/python --group bench
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
