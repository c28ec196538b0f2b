# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STORAGE ?= ./storage
SCENARIO ?= scenarios/planetary.yaml

.PHONY: run run-postgres test lint typecheck pytest bridge-test goldens crash-sweep bench \
	bench-publish clean

# One venv, one stamp per set of extras it holds: `make run` installs only what running
# needs, `make test` adds the development tools (and the PostgreSQL driver its tests use),
# `make run-postgres` the driver. Each installs once, again only when pyproject.toml changes,
# and none undoes another.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-postgresql: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[postgresql]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/agijobs run $(SCENARIO) --storage $(STORAGE) --fresh
	$(BIN)/agijobs audit --storage $(STORAGE)
	@echo "report: $(STORAGE)/report.html (open it in a browser; report.md beside it)"

# The same run stored in PostgreSQL: a throw-away server (Debian's `postgresql` package, no
# Docker) on 127.0.0.1 with its data in ./.pgdata. It keeps running afterwards; the last line
# says how to stop it. Running it again reuses the server (and --fresh sets the last run aside).
PGDATA_DIR ?= .pgdata
run-postgres: $(VENV)/.installed-postgresql
	@URL=$$($(BIN)/python scripts/pg_local.py start $(PGDATA_DIR)) || exit $$?; \
	echo "postgres: $$URL (data in $(PGDATA_DIR), log in $(PGDATA_DIR)/postgresql.log)"; \
	status=0; \
	$(BIN)/agijobs run $(SCENARIO) --storage "$$URL?fabric=planetary" --fresh && \
	$(BIN)/agijobs audit --storage "$$URL?fabric=planetary" || status=$$?; \
	echo "postgres keeps running; stop it: $(BIN)/python scripts/pg_local.py stop $(PGDATA_DIR)"; \
	exit $$status

test: $(VENV)/.installed-dev lint typecheck pytest bridge-test

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check agijobs tests scripts benchmarks
	$(BIN)/ruff format --check agijobs tests scripts benchmarks
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

# The reference Node bridge's own tests (bridge/test), when node is installed.
bridge-test:
	@if command -v node >/dev/null 2>&1; then node --test bridge/test/; \
	else echo "bridge-test: node not found, the Node bridge tests are skipped"; fi

# Rewrites the golden events_digest of every shipped scenario after an intended change.
goldens: $(VENV)/.installed
	$(BIN)/python scripts/update_goldens.py scenarios/*.yaml

# Benchmarks (not in CI): sizes 10k/100k/1M, a 100k burst, CLI latencies, and the checkpoint
# at the same backlog with 100k and 1M jobs. Writes benchmarks/latest.json (git-ignored: a
# clone stays clean); `make bench BENCH_ARGS=--huge` adds 10M jobs.
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# Deliberately, after a full `make bench`: the latest results become the published reference
# (benchmarks/published.json, tracked) and docs/performance.md's tables are rendered from it.
bench-publish: $(VENV)/.installed
	@test -f benchmarks/latest.json || { echo "bench-publish: no benchmarks/latest.json; run make bench first"; exit 2; }
	cp benchmarks/latest.json benchmarks/published.json
	$(BIN)/python scripts/performance_table.py

# The large crash sweep (not in CI): every kill point kind, 60 instants each, all scenarios.
crash-sweep: $(VENV)/.installed
	$(BIN)/python tests/crash_harness.py --per-point 60

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
