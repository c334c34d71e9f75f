# Two commands for a newcomer: `make demo` (the main job) and `make test`.
# Each sets up .venv idempotently: it is (re)built only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean venv services

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	@$(BIN)/python -m bot.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

services:
	@scripts/services.sh

# Two workers (the suite is mostly waiting on servers); the tests that restart a shared
# service run alone afterwards.
test: lint typecheck services
	$(BIN)/pytest -n 2 -m "not serial"
	$(BIN)/pytest -m serial

bench: $(STAMP) services
	@mkdir -p bench/results
	$(BIN)/python bench/validate_speed.py --json bench/results/validate.json
	$(BIN)/python bench/ingest_speed.py --json bench/results/ingest.json
	$(BIN)/python bench/summary_speed.py --json bench/results/summary.json
	$(BIN)/python bench/alert_storm.py --json bench/results/storm.json
	$(BIN)/python bench/action_races.py --json bench/results/races.json
	$(BIN)/python bench/write_report.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
