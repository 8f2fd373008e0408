# Every target does its own set-up on a fresh machine: .venv, dependencies, migrations.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run fleet test lint bench install clean services chromium

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	HOST=$(HOST) PORT=$(PORT) bash scripts/run.sh

# The scale-out profile: API, beat + standby beat, two Celery workers on MariaDB and Redis.
fleet: $(STAMP) services
	HOST=$(HOST) PORT=$(PORT) bash scripts/fleet.sh

test: $(STAMP) services chromium
	$(BIN)/ruff check encore_backend tests bench
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check encore_backend tests bench
	$(BIN)/ruff format --check encore_backend tests bench
	$(BIN)/mypy

bench: $(STAMP) services
	$(BIN)/python -m bench.stats_aggregator
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.reports
	$(BIN)/python -m bench.dashboards
	$(BIN)/python -m bench.dynamodb_requests
	$(BIN)/python -m bench.fleet_sends
	$(BIN)/python -m bench.ingest_http --backends sqlite,mariadb,postgresql --workers 4
	$(BIN)/python -m bench.smtp_sends
	$(BIN)/python -m bench.import_rows

# Start the local databases if a previous test stopped them (no-op when they answer).
services:
	@bash scripts/ensure-services.sh

# Debian's Chromium for the browser tests (tests/browser), installed when missing.
chromium:
	@bash scripts/ensure-chromium.sh

clean:
	rm -rf $(VENV) var test-artifacts
