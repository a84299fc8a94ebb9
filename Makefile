# Everything bootstraps itself: a pinned uv in .tools/, the locked venv in .venv/, the BigQuery
# emulator's own venv in .venv-bq/ (its fastapi pin clashes with Airflow's). Only the package
# index is needed.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: help venv test lint demo bench soak clean backfill-demo partition-demo test-compat compat-lock

help:
	@echo "make demo           - the example DAG against the local simulator into DuckDB, with a summary"
	@echo "make backfill-demo  - a real Airflow backfill of 7 days (scheduler, LocalExecutor) against the simulator, checked"
	@echo "make partition-demo - partitioned producer + per-day rollup consumer under a real scheduler (3 days), checked"
	@echo "make test           - lint, type-check and the whole test suite (about 8 minutes)"
	@echo "make test-compat    - the Airflow-facing tests on the oldest supported Airflow (3.0.2)"
	@echo "make compat-lock    - regenerate tests/compat/floor.txt, the pinned oldest-Airflow environment"
	@echo "make lint           - ruff (lint and format check) and mypy only"
	@echo "make bench          - benchmarks (results in BENCHMARKS.md)"
	@echo "make soak           - the long fault runs: 200 windows under faults, 10 kills mid-load"
	@echo "make venv           - create .venv from uv.lock (the other targets do it when needed)"
	@echo "make clean          - remove .demo and the tool caches"

$(UV):
	$(PYTHON_BOOT) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python 3.11
	@touch $@

venv: $(VENV)/.synced

.venv-bq/.built: scripts/bq_emulator_env.sh tests/bigquery/emulator/requirements.lock | $(UV)
	UV=$(abspath $(UV)) bash scripts/bq_emulator_env.sh .venv-bq

lint: venv
	$(BIN)/ruff check plugin tests dags bench scripts
	$(BIN)/ruff format --check plugin tests dags bench scripts
	$(BIN)/mypy

test: venv .venv-bq/.built lint
	BQ_EMULATOR_BIN=$(abspath .venv-bq/bin/local-bigquery) $(BIN)/pytest

# The oldest Airflow we claim (pyproject's floor), in its own venv from a committed pinned file; the
# main .venv covers the newest release in uv.lock. Tests that need Airflow 3.2+ carry the airflow_3_2
# marker and are deselected here by it, never skipped at run time.
AIRFLOW_FLOOR := 3.0.2
AIRFLOW_FLOOR_RELEASED := 2025-06-11T00:00:00Z
COMPAT_VENV := .venv-compat
COMPAT_TESTS := tests/unit/test_provider_info.py tests/unit/test_compat.py tests/unit/hooks tests/unit/operators tests/dags \
	tests/integration/test_connections_cli.py

$(COMPAT_VENV)/.synced: tests/compat/floor.txt pyproject.toml | $(UV)
	rm -rf $(COMPAT_VENV)
	$(UV) venv --quiet --python 3.11 $(COMPAT_VENV)
	VIRTUAL_ENV=$(abspath $(COMPAT_VENV)) $(UV) pip sync --quiet tests/compat/floor.txt
	VIRTUAL_ENV=$(abspath $(COMPAT_VENV)) $(UV) pip install --quiet --no-deps -e .
	@touch $@

test-compat: $(COMPAT_VENV)/.synced .venv-bq/.built
	@$(COMPAT_VENV)/bin/python -c "import airflow; assert airflow.__version__ == '$(AIRFLOW_FLOOR)', airflow.__version__"
	BQ_EMULATOR_BIN=$(abspath .venv-bq/bin/local-bigquery) $(COMPAT_VENV)/bin/pytest -q -m "not airflow_3_2" $(COMPAT_TESTS)

compat-lock: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 --exclude-newer $(AIRFLOW_FLOOR_RELEASED) \
		$(foreach p,duckdb pyarrow orjson,--exclude-newer-package $(p)=2026-12-01T00:00:00Z) \
		--custom-compile-command "make compat-lock" \
		tests/compat/floor.in pyproject.toml -o tests/compat/floor.txt

demo: venv
	$(BIN)/python scripts/demo.py

bench: venv
	$(BIN)/python bench/run.py

clean:
	rm -rf .demo .backfill-demo .partition-demo .pytest_cache .mypy_cache .ruff_cache

backfill-demo: venv
	$(BIN)/python scripts/backfill_demo.py

partition-demo: venv
	$(BIN)/python scripts/partition_demo.py

soak: venv
	DAILY_SOAK_WINDOWS=200 $(BIN)/pytest -q tests/faults/test_soak.py
	DAILY_CRASH_KILLS=10 $(BIN)/pytest -q tests/faults/test_crash.py
