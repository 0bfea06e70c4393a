# orderflow: `make demo` runs the engine locally; `make test` lints and runs every test; `make bench` measures it.
# Both set everything up themselves: the virtualenv, the Kafka broker's jars
# (from Maven Central, cached in ~/.cache/orderflow) and throwaway services.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STATE  := var/services
DEMO_DB := var/demo.db
SIZE   ?= full

.PHONY: demo lint test unit integration bench services-up services-down clean

$(BIN)/.installed: setup.cfg setup.py pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "orderflow needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/.installed

# The demo's output is the orders and a summary; the engine's and the broker's logs go to files in var/.
demo: SHELL := /bin/bash
demo: venv
	@rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm var/demo-run.log var/demo-report.html
	@mkdir -p var
	@echo "Starting a local Kafka broker (log: var/demo-services.log) ..."
	@$(BIN)/python -m devservices up --state $(STATE) --kafka-only > var/demo-services.log 2>&1 \
		|| { tail -20 var/demo-services.log; exit 1; }
	@set -e; trap '$(BIN)/python -m devservices down --state $(STATE) >> var/demo-services.log 2>&1' EXIT; \
	export ORDERFLOW_KAFKA_BOOTSTRAP=$$(sed -n 's/^ORDERFLOW_KAFKA_BOOTSTRAP=//p' $(STATE)/services.env); \
	export ORDERFLOW_DATABASE_URL=sqlite:///$(DEMO_DB); \
	echo "Running the engine (log: var/demo-run.log) and publishing 12 simulated orders ..."; \
	$(BIN)/orderflow run --stop-when-idle 4 2> var/demo-run.log & run=$$!; \
	for i in $$(seq 120); do grep -q 'partition assigned' var/demo-run.log 2>/dev/null && break; sleep 0.5; done; \
	$(BIN)/orderflow simulate --count 12 --seed 7 --rate 50 2>> var/demo-run.log; \
	wait $$run || { echo "the engine failed; the end of its log:"; tail -20 var/demo-run.log; exit 1; }; \
	echo; $(BIN)/orderflow orders 2>> var/demo-run.log; \
	echo; $(BIN)/orderflow summary 2>> var/demo-run.log; \
	$(BIN)/orderflow report --out var/demo-report.html > /dev/null 2>> var/demo-run.log; \
	echo; echo "Report: var/demo-report.html   Engine log: var/demo-run.log   Database: $(DEMO_DB)"; \
	echo "More: ORDERFLOW_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/orderflow history SF-000001 (or errors, parked, report, export)"

# ruff (pyflakes, import order, bugbear, pyupgrade) and mypy (strict for the domain and the contract):
# the configuration is in pyproject.toml; tools/typecheck.py runs mypy with consumers/ as orderflow.consumers.
lint: venv
	$(BIN)/ruff check src consumers tests bench devservices docs tools
	$(BIN)/python tools/typecheck.py src/orderflow consumers

test: lint
	$(BIN)/python -m pytest -q

unit: venv
	$(BIN)/python -m pytest -q tests/unit

integration: venv
	$(BIN)/python -m pytest -q tests/integration

# The benchmark table (docs/benchmarks.md): own PostgreSQL and Kafka, about 7 minutes at full size;
# `make bench SIZE=small` takes about a minute.
bench: venv
	$(BIN)/python bench/run.py --size $(SIZE)

services-up: venv
	$(BIN)/python -m devservices up --state $(STATE)

services-down: venv
	$(BIN)/python -m devservices down --state $(STATE)

clean: services-down
	rm -rf var build *.egg-info src/*.egg-info
