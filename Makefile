# SafeWork: two set-up commands, `make run` and `make test` (see README.md).
# `make run`: migrate, load the catalogue, seed the demo once, collect static files, then serve
# (web :8000, tasks, demo registry :8001) until Ctrl-C. Running it again is safe.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Find a Python 3.12+ that really runs. On machines with pyenv, python3.12/python3.13 on PATH can be
# shims that fail unless PYENV_VERSION is set, so each candidate is asked for its version; the
# pyenv-installed interpreters are a fallback, not the rule.
PYTHON ?= $(shell for c in python3.13 python3.12 python3; do \
	  p=$$(command -v $$c 2>/dev/null) || continue; \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; \
	done; \
	root=$$(pyenv root 2>/dev/null); \
	for p in $$(ls -d $$root/versions/3.1[23]*/bin/python3 2>/dev/null | sort -V -r); do \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; \
	done)

.PHONY: run test lint install clean-venv test-postgres test-fuzz test-browser test-redis

$(STAMP): requirements/lock.txt pyproject.toml package-lock.json
	@if [ -z "$(PYTHON)" ]; then echo "SafeWork needs Python 3.12 or newer (python3.12/python3.13 on PATH)."; exit 1; fi
	@if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  rm -rf $(VENV); echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/lock.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --no-index -e .
	@# Front-end packages and the CJK font (package.json + lock): copied into static files, never
	@# committed. Needs Node.js with npm.
	@command -v npm >/dev/null || { echo "SafeWork needs Node.js with npm (front-end packages and the CJK font)."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

install: $(STAMP)

# `make test` needs no service: it runs on SQLite (in memory) whatever DATABASE_URL says; the
# PostgreSQL suite is `make test-postgres` (and .ci/run).
SQLITE := env -u DATABASE_URL

# Lint first: make stops at the first failing step, before the (longer) test run.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(SQLITE) $(BIN)/python manage.py check --fail-level WARNING
	$(SQLITE) $(BIN)/python manage.py makemigrations --check --dry-run

# The schemathesis run over the whole API (marker `fuzz`) takes minutes, and the browser journeys
# (marker `browser`) need a local Chromium: .ci/run runs both.
test: lint
	$(SQLITE) $(BIN)/pytest -q -p no:cacheprovider -m "not postgres and not fuzz and not redis and not browser"

# The web pages in Debian's Chromium (/usr/bin/chromium: `apt-get install chromium`) at 375 and
# 1280 px; screenshots land in var/screenshots/.
test-browser: $(STAMP)
	$(SQLITE) $(BIN)/pytest -q -p no:cacheprovider -m browser

# A clean test database each time (--create-db): a stale one can hide a migration's mistake.
test-postgres: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	  $(BIN)/pytest -q -p no:cacheprovider --create-db -m "not fuzz and not redis and not browser"

# Notifications on huey's Redis queue (SAFEWORK_HUEY=redis): the Redis at 127.0.0.1:6379.
test-redis: $(STAMP)
	$(SQLITE) $(BIN)/pytest -q -p no:cacheprovider -m redis

# Schemathesis over every API operation as an administrator and as a worker: no 5xx, no
# undocumented status. SAFEWORK_FUZZ_EXAMPLES bounds the examples per operation and user.
test-fuzz: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	  $(BIN)/pytest -q -p no:cacheprovider --create-db -m fuzz

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py catalogue load
	$(BIN)/python manage.py seed --demo --if-empty
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py serve

clean-venv:
	rm -rf $(VENV)
