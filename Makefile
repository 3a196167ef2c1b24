# Two commands do everything: `make run` (the whole job on a generated sample) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

# LAKE unset: a sample lake is generated into sample_lake/ (once). Set it to load your own:
#   make run LAKE=../shared/data/udacity_sample
SAMPLE_LAKE := sample_lake
LAKE ?= $(SAMPLE_LAKE)
WAREHOUSE ?= warehouse.duckdb
DATE ?=
SAMPLE_ARGS ?= --songs 500 --events 50000 --days 30 --users 200
# Prefect's servers (the temporary one of a one-off run too) send no usage telemetry.
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
# A worker started with --with-healthcheck would otherwise listen on 0.0.0.0:8080.
export PREFECT_WORKER_WEBSERVER_HOST ?= 127.0.0.1

# The local Prefect loop: make server (one terminal), make worker (another), make deploy,
# make trigger (or make backfill START=2018-11-01 END=2018-11-30), then open the UI.
PREFECT_PORT ?= 4200
PREFECT_URL := http://127.0.0.1:$(PREFECT_PORT)/api
POOL := sparkify-local
DEPLOYMENT ?= sparkify-etl/full-refresh
PARAMS ?=
PREFECT := PREFECT_API_URL=$(PREFECT_URL) $(VENV)/bin/prefect
# make trigger [DEPLOYMENT=sparkify-daily/daily PARAMS="day=2018-11-04"] starts a run, waits
# and prints one line: NAME: Completed, or NAME: Failed: reason (flows/trigger.py).
TRIGGER := PREFECT_API_URL=$(PREFECT_URL) $(PY) -m flows.trigger

.PHONY: run test test-fast test-deps lint format sample clean server worker deploy trigger backfill report bench bench-quick

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

run: $(INSTALLED)
	@if [ "$(LAKE)" = "$(SAMPLE_LAKE)" ] && [ ! -d "$(SAMPLE_LAKE)/log_data" ]; then \
		$(PY) -m tasks.sample_lake --out $(SAMPLE_LAKE) $(SAMPLE_ARGS); fi
	$(PY) -m flows.sparkify_etl --source $(LAKE) --warehouse $(WAREHOUSE) $(if $(DATE),--date $(DATE))

test: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest

# The inner loop: tests/unit and tests/warehouse (no Prefect server, no rig), but for the
# bad-input catalogue (about 80 s of its own). Measured on this 2-core machine:
# `.venv/bin/python -m pytest -q tests/unit tests/warehouse --ignore=…/test_bad_input.py`,
# 836 tests in 124 s on 2026-12-01, on a busier host than the 72 s its 802 tests took before
# (the fast path's comparisons added ~15 s). Adding tests/rigs measured 108 s idle then, too
# much for 2 minutes. The other folders: tests/rigs (the Redshift rig), tests/flow (a temporary Prefect
# server), tests/stack (real servers and workers); `make test` runs them all, or one of them:
#   .venv/bin/python -m pytest tests/rigs
test-fast: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m pytest -q tests/unit tests/warehouse --ignore=tests/warehouse/test_bad_input.py

# The Debian packages the optional test tiers need (tests/tiers.py): PgBouncer, which fronts the
# PostgreSQL that stands in for Redshift, and Chromium, which checks the Prefect UI and the
# report. Installs only what is missing; .ci/run calls it.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
test-deps:
	@missing=""; \
	command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing="$$missing pgbouncer"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# What the pre-commit hooks check first (.pre-commit-config.yaml), without the tests.
lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# The song-play report of the warehouse `make run` built (an HTML file that opens offline).
report: $(INSTALLED)
	@if [ ! -f "$(WAREHOUSE)" ]; then $(MAKE) run; fi
	$(PY) -m flows.sparkify_report --warehouse $(WAREHOUSE) --out report.html

# Benchmarks (bench/pipeline.py; results land in bench/RESULTS.md). Lakes are generated once
# into bench/.lakes/ (1M events: ~0.5 GB; 10M events: ~5 GB of disk).
bench: $(INSTALLED)
	$(PY) bench/pipeline.py --events 1000000 --songs 20000 --days 30
	$(PY) bench/pipeline.py --events 10000000 --songs 100000 --days 30 --skip-naive

bench-quick: $(INSTALLED)
	$(PY) bench/pipeline.py --events 100000 --songs 2000 --days 30

server: $(INSTALLED)
	PREFECT_UI_API_URL=$(PREFECT_URL) PREFECT_SERVER_API_HOST=127.0.0.1 \
		$(VENV)/bin/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

worker: $(INSTALLED)
	$(PREFECT) worker start --pool $(POOL) --type process

deploy: $(INSTALLED)
	@if [ ! -d "$(SAMPLE_LAKE)/log_data" ]; then \
		$(PY) -m tasks.sample_lake --out $(SAMPLE_LAKE) $(SAMPLE_ARGS); fi
	$(PREFECT) work-pool inspect $(POOL) >/dev/null 2>&1 || \
		$(PREFECT) work-pool create $(POOL) --type process
	$(PREFECT) --no-prompt deploy --all
	$(PREFECT) automation inspect sparkify-crash-zombie-runs >/dev/null 2>&1 || \
		$(PREFECT) automation create --from-file deployments/automations.yaml
	PREFECT_API_URL=$(PREFECT_URL) $(PY) deployments/alerts.py

trigger: $(INSTALLED)
	$(TRIGGER) '$(DEPLOYMENT)' $(foreach p,$(PARAMS),--param '$(p)')

backfill: $(INSTALLED)
	@if [ -z "$(START)" ] || [ -z "$(END)" ]; then \
		echo "usage: make backfill START=YYYY-MM-DD END=YYYY-MM-DD" >&2; exit 2; fi
	$(TRIGGER) sparkify-backfill/backfill --param start=$(START) --param end=$(END)

sample: $(INSTALLED)
	rm -rf $(SAMPLE_LAKE)
	$(PY) -m tasks.sample_lake --out $(SAMPLE_LAKE) $(SAMPLE_ARGS)

format: $(INSTALLED)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) $(SAMPLE_LAKE) $(WAREHOUSE) $(WAREHOUSE).wal $(WAREHOUSE).lock $(WAREHOUSE).lock.turn report.html .pytest_cache .ruff_cache *.egg-info
