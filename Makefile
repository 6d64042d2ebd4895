# Milestone: `make run` serves the app on the embedded database; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PORT   ?= 8501

.PHONY: install run test test-db browser bench bench-load db-stop clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Milestone needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	$(PY) -m milestone demo
	MILESTONE_LOCAL=1 $(PY) -m milestone serve --port $(PORT)

# Browser tests need Debian's chromium; install it when we can, else they are skipped with the reason.
browser:
	@sh scripts/ensure-chromium.sh

test: install browser
	$(PY) -m pytest

# The database-facing tests only (CI runs these again against a separate PostgreSQL 15).
test-db: install
	$(PY) -m pytest -m "not browser" tests

bench: install
	cd bench && for b in bench_*.py; do echo "== $$b"; ../$(PY) $$b || exit 1; done

# N simulated browsers speaking Streamlit's websocket protocol to `python -m milestone serve`
# on a private database (bench/load.py); e.g. make bench-load LOAD_SCALE=10 LOAD_ARGS="--timeout 300"
LOAD_USERS   ?= 1,10,25,50
LOAD_SCALE   ?= 1
LOAD_SECONDS ?= 60
LOAD_ARGS    ?=
bench-load: install
	$(PY) bench/load.py --users $(LOAD_USERS) --scale $(LOAD_SCALE) --seconds $(LOAD_SECONDS) $(LOAD_ARGS)

db-stop: install
	$(PY) -m milestone db stop

clean:
	-$(PY) -m milestone db stop
	rm -rf $(VENV) .milestone test-artifacts .pytest_cache
