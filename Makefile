# Milestone: `make run` serves the app on the embedded database; `make test` runs every test;
# `make lint` checks style, format and types. Each needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
LOCK   := requirements-dev.lock
STAMP  := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml | cksum | cut -d' ' -f1)
PORT   ?= 8501
# pytest-xdist workers for `make test`: one per core; each starts its own embedded PostgreSQL.
TEST_WORKERS ?= auto
PIP    := $(PY) -m pip --disable-pip-version-check --quiet
UV_COMPILE := $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
              --no-emit-index-url --custom-compile-command "make lock" --quiet

.PHONY: install run test test-db lint lock lock-upgrade browser bench bench-load db-stop clean reliability

# The lock pins every package with its hashes; the package itself is then installed editable
# (without dependencies: the lock has them all, and the build backend is in the lock too).
$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Milestone needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r $(LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	$(PY) -m milestone demo
	MILESTONE_LOCAL=1 $(PY) -m milestone serve --port $(PORT)

# Browser tests need Debian's chromium; install it when we can, else they are skipped with the reason.
browser:
	@sh scripts/ensure-chromium.sh

# A module's tests stay on one worker, so its database and seeded data are made once.
test: install browser
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# The database-facing tests only (CI runs these again against a separate PostgreSQL 15).
test-db: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not browser and not reliability" tests

# All three run (each reports everything it finds); the target fails if any of them did.
lint: install
	@status=0; \
	echo "== ruff check"; $(VENV)/bin/ruff check . || status=1; \
	echo "== ruff format --check"; $(VENV)/bin/ruff format --check --output-format concise . || status=1; \
	echo "== mypy"; $(VENV)/bin/mypy || status=1; \
	exit $$status

# Regenerate the lock files from pyproject.toml, keeping the current pins where they still fit;
# `make lock-upgrade` moves every package to its newest allowed version.
lock: install
	$(UV_COMPILE) $(UPGRADE) -o requirements.lock
	$(UV_COMPILE) $(UPGRADE) --extra dev -c requirements.lock -o $(LOCK)

lock-upgrade:
	$(MAKE) lock UPGRADE=--upgrade

# Benchmarks run as modules of the project (bench.common, tests.xero_files), from its root.
bench: install
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) -m bench.$$(basename $$b .py) || exit 1; done

# N simulated browsers speaking Streamlit's websocket protocol to `python -m milestone serve`
# on a private database (bench/load.py); e.g. make bench-load LOAD_SCALE=10 LOAD_ARGS="--timeout 300"
LOAD_USERS   ?= 1,10,25,50
LOAD_SCALE   ?= 1
LOAD_SECONDS ?= 60
LOAD_ARGS    ?=
bench-load: install
	$(PY) -m bench.load --users $(LOAD_USERS) --scale $(LOAD_SCALE) --seconds $(LOAD_SECONDS) $(LOAD_ARGS)

db-stop: install
	$(PY) -m milestone db stop

clean:
	-$(PY) -m milestone db stop
	rm -rf $(VENV) .milestone test-artifacts .pytest_cache .mypy_cache .ruff_cache

# The slow reliability campaign (docs/reliability.md): the pytest tests marked `reliability`
# (60 s of 20 concurrent writers, the restore drill onto the embedded server and PostgreSQL 15,
# resource abuse with peak RSS), then the 30 s database outage under 10 simulated browsers, hostile
# uploads to the served Import page while 5 others rerun (bench/upload_abuse.py), and the
# 10-minute soak of 20 at scale 1 (bench/load.py). Figures land in test-artifacts/.
RELIABILITY_SOAK_SECONDS ?= 600
reliability: install
	@uptime
	$(PY) -m pytest -m reliability -p no:randomly -s tests/integration/test_concurrency.py tests/reliability
	$(PY) -m bench.load --users 10 --scale 1 --seconds 120 --series 5 --outage 30 30 --out test-artifacts/outage.json
	$(PY) -m bench.upload_abuse --users 5 --scale 1 --seconds 60 --out test-artifacts/upload-abuse.json
	$(PY) -m bench.load --users 20 --scale 1 --seconds $(RELIABILITY_SOAK_SECONDS) --series 60 --out test-artifacts/soak.json
	@uptime
