# The two commands of the README: `make demo` and `make test`.
# Each sets up .venv on first use (Python 3 and the package registries are all it needs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := .tools

.PHONY: demo test lint typecheck setup clean bench compat

setup: $(STAMP)

SETUP_LOG := $(TOOLS)/setup.log
# $(call step,<title>,<command>): one line per setup step with its time; output to $(SETUP_LOG).
step = @start=$$(date +%s); printf '  %-58s' '$(1)'; \
	if { $(2); } >>$(SETUP_LOG) 2>&1; then echo " $$(( $$(date +%s) - start )) s"; \
	else echo " failed: see $(SETUP_LOG)"; tail -n 20 $(SETUP_LOG); exit 1; fi

$(STAMP): pyproject.toml
	@mkdir -p $(TOOLS) && : > $(SETUP_LOG)
	@echo "Setting up $(VENV) (details in $(SETUP_LOG))"
	$(call step,Python virtual environment ($(VENV)),test -x $(BIN)/python || $(PYTHON) -m venv $(VENV))
	$(call step,uv (fast installer),$(BIN)/python -m pip --version || $(BIN)/python -m ensurepip -q; \
	  $(BIN)/python -m pip install -q --disable-pip-version-check uv)
	$(call step,Airflow + the provider (editable) + test tools,\
	  $(BIN)/uv pip install -q --python $(BIN)/python -e '.[all]' --group dev)
	$(call step,Azurite (Azure Blob emulator; tests only; needs npm),\
	  if command -v npm; then npm install --silent --no-fund --no-audit --prefix $(TOOLS) azurite@3 \
	  || echo "azurite install failed"; else echo "npm not found: Azure Blob tests need Node.js/npm"; fi)
	@touch $(STAMP)

# `make demo DEMO_ARGS=--verbose` shows Airflow's own logs instead of writing them to .demo/demo.log.
demo: $(STAMP)
	@$(BIN)/python -m airflow_provider_mathpix.demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check airflow_provider_mathpix tests example_dags benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -ra
	$(MAKE) --no-print-directory compat

# The built wheel on every supported Airflow (2.11 to 3.3), each in its own cached venv
# under .tools/compat/ (see tests/compat/matrix.py; MATHPIX_COMPAT_JOBS sets parallelism).
compat: $(STAMP)
	$(BIN)/python tests/compat/matrix.py

# Every benchmark, each beside its anchor and floor measured in the same run; writes
# docs/benchmarks.md and docs/img/benchmarks/*.png (see benchmarks/run_all.py for the sizes).
bench: $(STAMP)
	$(BIN)/uv pip install -q --python $(BIN)/python --group bench
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
