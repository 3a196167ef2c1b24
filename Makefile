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

.PHONY: run test lint format sample clean

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
	$(PY) -m pytest

sample: $(INSTALLED)
	rm -rf $(SAMPLE_LAKE)
	$(PY) -m tasks.sample_lake --out $(SAMPLE_LAKE) $(SAMPLE_ARGS)

format: $(INSTALLED)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) $(SAMPLE_LAKE) $(WAREHOUSE) $(WAREHOUSE).wal .pytest_cache .ruff_cache *.egg-info
